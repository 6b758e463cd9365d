"""The ``float-eval`` command: ``float-eval weights``, ``float-eval metrics`` and ``float-eval run``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .config import EvalConfig
from .ops.clips import ClipSampling
from .registry import DEFAULT_METRICS, ENTRY_POINT_GROUP, available_metrics, get_metric_factory
from .run import evaluate
from .weights import MANIFEST, WEIGHTS_ENV, WeightsError, check_weights, weights_dir

app = typer.Typer(
    help="Talking-head metrics (FID, FVD, CSIM, E-FID, P-FID, LSE-D/C) on any method's videos.",
    no_args_is_help=True,
)

WeightsDir = Annotated[
    Path | None, typer.Option("--weights-dir", help=f"folder of weight files (default ${WEIGHTS_ENV})")
]


@app.command()
def weights(weights_dir_opt: WeightsDir = None) -> None:
    """Print the weights manifest and check which files the folder holds."""
    folder = weights_dir(weights_dir_opt)
    typer.echo(f"weights folder: {folder}")
    statuses = {s.name: s for s in check_weights(folder)}
    for entry in MANIFEST:
        s = statuses[entry.name]
        pin = entry.sha256 or (f"{entry.sha256_prefix}…" if entry.sha256_prefix else "not pinned")
        state = "OK" if s.ok else ("MISSING" if not s.present else "WRONG")
        typer.echo(f"\n{entry.name}  [{state}]")
        typer.echo(
            f"  metrics: {', '.join(entry.metrics)}   sha256: {pin}   size: {entry.size or 'not pinned'}"
        )
        typer.echo(f"  source:  {entry.url}")
        typer.echo(f"  licence: {entry.licence}")
        typer.echo(f"  status:  {s.message}" + (f" (sha256 {s.sha256})" if s.sha256 else ""))
    missing = sum(not s.ok for s in statuses.values())
    typer.echo(f"\n{len(statuses) - missing}/{len(statuses)} files ok")
    raise typer.Exit(code=1 if missing else 0)


@app.command()
def metrics() -> None:
    """List the metrics --metrics can name: built-in, and registered by other packages."""
    for name in available_metrics():
        try:
            factory = get_metric_factory(name)
            where = f"{getattr(factory, '__module__', '?')}:{getattr(factory, '__qualname__', repr(factory))}"
        except ImportError as err:
            where = f"fails to load: {err}"
        typer.echo(f"{name:8s} {where}" + ("  (default)" if name in DEFAULT_METRICS else ""))
    typer.echo(f"\nOther packages add metrics under the entry-point group {ENTRY_POINT_GROUP!r}.")


@app.command()
def run(
    generated: Annotated[Path, typer.Option(help="folder of generated videos (mp4 or frame folders)")],
    reference: Annotated[Path, typer.Option(help="folder of reference videos with the same names")],
    sources: Annotated[
        Path | None, typer.Option(help="source portraits <name>.png|jpg and audio <name>.wav")
    ] = None,
    metrics_opt: Annotated[
        str,
        typer.Option(
            "--metrics", help="comma-separated metric names (`float-eval metrics` lists the registered ones)"
        ),
    ] = ",".join(DEFAULT_METRICS),
    out: Annotated[
        Path, typer.Option(help="JSON report; a Markdown table is written beside it (.md)")
    ] = Path("report.json"),
    weights_dir_opt: WeightsDir = None,
    device: Annotated[str | None, typer.Option(help="cpu or cuda (default: cuda when present)")] = None,
    fvd_clip_hop: Annotated[
        int | None, typer.Option(help="frames between FVD clip starts (default 16)")
    ] = None,
    fvd_max_clips_per_video: Annotated[int | None, typer.Option(help="cap on FVD clips per video")] = None,
    fvd_min_clips: Annotated[int, typer.Option(help="refuse FVD with fewer clips per side")] = 400,
    lse_min_track: Annotated[
        int, typer.Option(help="LSE face tracks need more detected frames than this")
    ] = 100,
    face_detector: Annotated[
        str, typer.Option(help="LSE face tracks: s3fd (syncnet_python, sfd_face.pth) or scrfd (det_10g.onnx)")
    ] = "s3fd",
    lse_min_face_size: Annotated[
        float, typer.Option(help="LSE tracks need a mean face size above this (pixels)")
    ] = 100.0,
    lse_facedet_scale: Annotated[float, typer.Option(help="S3FD runs on frames resized by this")] = 0.25,
    pfid_translation: Annotated[bool, typer.Option(help="P-FID on angles + translation (6-d)")] = False,
    paper: Annotated[bool, typer.Option(help="put FLOAT's Table 1 row beside the results")] = False,
    check_digests: Annotated[
        bool,
        typer.Option(
            help="refuse weight files whose sha256/size differ from the manifest (off: listed in the report)"
        ),
    ] = True,
) -> None:
    """Score generated videos against references and write JSON + Markdown reports."""
    try:
        config = EvalConfig(
            generated=generated,
            reference=reference,
            sources=sources,
            metrics=[m.strip() for m in metrics_opt.split(",") if m.strip()],
            weights_dir=weights_dir_opt,
            device=device,
            fvd=ClipSampling(
                clip_hop=fvd_clip_hop, max_clips_per_video=fvd_max_clips_per_video, min_clips=fvd_min_clips
            ),
            lse_min_track=lse_min_track,
            face_detector=face_detector,
            lse_min_face_size=lse_min_face_size,
            lse_facedet_scale=lse_facedet_scale,
            pfid_translation=pfid_translation,
            check_digests=check_digests,
        )
        report = evaluate(config)
    except (WeightsError, ValueError, FileNotFoundError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(code=2) from err
    report.write_json(out)
    report.write_markdown(out.with_suffix(".md"), with_paper=paper)
    typer.echo(f"wrote {out} and {out.with_suffix('.md')}")
    for key, value in report.aggregate.items():
        typer.echo(f"{key}: {'—' if value is None else f'{value:.4f}'}")
