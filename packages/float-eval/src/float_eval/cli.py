"""The ``float-eval`` command: ``weights`` (and ``weights fetch``), ``metrics``, ``run`` and ``merge``.

Exit status: 0 when every requested metric has a number; 1 when one scored nothing (no pair, no face, too
few clips; ``--allow-empty`` accepts it), or ``weights`` finds files missing, or ``weights fetch`` could not
get them all; 2 for bad input (options, folders, missing or wrong weight files, shard files).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from .config import EvalConfig
from .ops.clips import ClipSampling
from .registry import DEFAULT_METRICS, ENTRY_POINT_GROUP, available_metrics, get_metric_factory
from .report import Report
from .run import evaluate
from .runtime import bound_heap_growth
from .shards import merge_shards, parse_shard, run_shard
from .weights import MANIFEST, WEIGHTS_ENV, WeightsError, check_weights, fetch_weights, weights_dir

app = typer.Typer(
    help="Talking-head metrics (FID, FVD, CSIM, E-FID, P-FID, LSE-D/C) on any method's videos.",
    no_args_is_help=True,
)
weights_app = typer.Typer(help="The weight files: check a folder (default) or fetch what is missing.")
app.add_typer(weights_app, name="weights")

WeightsDir = Annotated[
    Path | None, typer.Option("--weights-dir", help=f"folder of weight files (default ${WEIGHTS_ENV})")
]
PaperTable = Annotated[bool, typer.Option("--paper-table", help="put FLOAT's Table 1 row beside the results")]
# The flag's old name, kept working; --paper-table is the one float-eval and float-evaluate share.
PaperOld = Annotated[bool, typer.Option("--paper", hidden=True)]
AllowEmpty = Annotated[
    bool,
    typer.Option(
        "--allow-empty", help="exit 0 even when a requested metric scored nothing (default: exit 1)"
    ),
]


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


@weights_app.callback(invoke_without_command=True)
def weights(ctx: typer.Context, weights_dir_opt: WeightsDir = None) -> None:
    """Print the weights manifest and check which files the folder holds."""
    if ctx.invoked_subcommand is not None:
        return
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
    if missing:
        typer.echo(
            f"`float-eval weights fetch --weights-dir {folder}` downloads what is missing (when online)."
        )
    raise typer.Exit(code=1 if missing else 0)


@weights_app.command()
def fetch(
    weights_dir_opt: WeightsDir = None,
    only: Annotated[
        str | None, typer.Option(help="comma-separated file names (default: every missing or wrong file)")
    ] = None,
) -> None:
    """Download every missing or wrong weight file and keep it only if its digest matches the manifest."""
    names = [n.strip() for n in only.split(",") if n.strip()] if only else None
    if names:
        unknown = sorted(set(names) - {e.name for e in MANIFEST})
        if unknown:
            _fail(f"not in the manifest: {', '.join(unknown)} (see `float-eval weights`)")
    folder = weights_dir(weights_dir_opt)
    results = fetch_weights(folder, names, log=typer.echo)
    for r in results:
        typer.echo(f"{r.name}: {r.outcome}: {r.message}")
    incomplete = [r for r in results if r.outcome in ("failed", "manual")]
    typer.echo(f"{len(results) - len(incomplete)}/{len(results)} files in {folder}")
    raise typer.Exit(code=1 if incomplete else 0)


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


def _check_out(out: Path) -> None:
    """Refuse an ``--out`` the reports cannot be written to, before minutes of scoring: a folder, or a
    folder that cannot be created or written to. A missing folder is created now."""
    if out.is_dir():
        _fail(f"--out {out} is a folder; pass a file name such as {out / 'report.json'}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out.parent, prefix=f".{out.stem}.", suffix=".probe"):
            pass
    except OSError as error:
        reason = error.strerror or error
        _fail(f"--out {out}: its folder {out.parent} cannot be created or written to ({reason})")


def _write_and_summarise(report: Report, out: Path, paper_table: bool, allow_empty: bool) -> None:
    """Write JSON, Markdown and CSV; print the warnings, pair and problem counts and numbers; exit 1 if a
    requested metric scored nothing (unless ``allow_empty``)."""
    md, csv = out.with_suffix(".md"), out.with_suffix(".csv")
    report.write_json(out)
    report.write_markdown(md, with_paper=paper_table)
    report.write_csv(csv)
    for warning in report.warnings():
        typer.echo(f"WARNING: {warning}")
    unpaired = sum(n for k, n in report.problem_counts.items() if k.startswith("unpaired"))
    typer.echo(f"{report.pairs_scored} pairs scored ({unpaired} unpaired videos)")
    if report.problem_counts:
        typer.echo("problems:")
        for key, n in sorted(report.problem_counts.items()):
            typer.echo(f"  {n:6d}  {key}")
    for key, value in report.aggregate.items():
        typer.echo(f"{key}: {'—' if value is None else f'{value:.4f}'}")
    typer.echo(f"wrote {out}, {md} and {csv}")
    empty = report.empty_keys()
    if empty and not allow_empty:
        typer.echo(
            f"error: no number for {', '.join(empty)}: the run measured nothing there (see the problems "
            "above); pass --allow-empty to accept it",
            err=True,
        )
        raise typer.Exit(code=1)


@app.command()
def run(
    generated: Annotated[Path, typer.Option(help="folder of generated videos (mp4 or frame folders)")],
    reference: Annotated[Path, typer.Option(help="folder of reference videos (paired by name by default)")],
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
        Path,
        typer.Option(
            help="JSON report; Markdown (.md) and CSV (.csv) beside it; with --shard, the shard's .npz"
        ),
    ] = Path("report.json"),
    pair_pattern: Annotated[
        str | None,
        typer.Option(
            help="generated name from the reference's stem, e.g. '{stem}_generated' (default: same)"
        ),
    ] = None,
    pair_map: Annotated[
        Path | None, typer.Option(help="pairing file: CSV with columns generated,reference, or a JSON object")
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(help="score shard i/n of the names (1-based) and write its statistics; see `merge`"),
    ] = None,
    weights_dir_opt: WeightsDir = None,
    device: Annotated[str | None, typer.Option(help="cpu or cuda (default: cuda when present)")] = None,
    batch_frames: Annotated[int, typer.Option(help="frames decoded at a time (memory per batch)")] = 32,
    fvd_clip_hop: Annotated[
        int | None, typer.Option(help="frames between FVD clip starts (default 16)")
    ] = None,
    fvd_max_clips_per_video: Annotated[int | None, typer.Option(help="cap on FVD clips per video")] = None,
    fvd_min_clips: Annotated[int, typer.Option(help="refuse FVD with fewer clips per side")] = 400,
    lse_min_track: Annotated[
        int,
        typer.Option(
            help="LSE face tracks need more detected frames than this (syncnet_python: 100, so clips of "
            "4 s or less get no LSE; LatentSync uses 50)"
        ),
    ] = 100,
    face_detector: Annotated[
        str, typer.Option(help="LSE face tracks: s3fd (syncnet_python, sfd_face.pth) or scrfd (det_10g.onnx)")
    ] = "s3fd",
    lse_min_face_size: Annotated[
        float, typer.Option(help="LSE tracks need a mean face size above this (pixels)")
    ] = 100.0,
    lse_facedet_scale: Annotated[float, typer.Option(help="S3FD runs on frames resized by this")] = 0.25,
    pfid_translation: Annotated[bool, typer.Option(help="P-FID on angles + translation (6-d)")] = False,
    paper_table: PaperTable = False,
    paper: PaperOld = False,
    allow_empty: AllowEmpty = False,
    check_digests: Annotated[
        bool,
        typer.Option(
            help="refuse weight files whose sha256/size differ from the manifest (off: listed in the report)"
        ),
    ] = True,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="videos and frames")] = True,
) -> None:
    """Score generated videos against references and write JSON, Markdown and CSV reports."""
    bound_heap_growth()  # memory flat in video length (float_eval.runtime)
    shard_target: tuple[int, int, Path] | None = None
    if shard is not None:
        try:
            index, count = parse_shard(shard)
        except ValueError as err:
            _fail(str(err))
            return
        target = out if out.suffix == ".npz" else out.with_suffix(f".shard-{index}-of-{count}.npz")
        shard_target = (index, count, target)
    _check_out(out if shard_target is None else shard_target[2])
    try:
        config = EvalConfig(
            generated=generated,
            reference=reference,
            sources=sources,
            metrics=[m.strip() for m in metrics_opt.split(",") if m.strip()],
            pair_pattern=pair_pattern,
            pair_map=pair_map,
            weights_dir=weights_dir_opt,
            device=device,
            batch_frames=batch_frames,
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
        if shard_target is not None:
            index, count, target = shard_target
            path = run_shard(config, index, count, target, progress=progress)
            typer.echo(f"shard {index}/{count}: wrote {path}; combine all {count} with `float-eval merge`")
            if not check_digests:
                typer.echo("WARNING: --no-check-digests: weights may be unverified (the merged report says)")
            return
        report = evaluate(config, progress=progress)
    except ValidationError as err:
        first = err.errors()[0]
        _fail(f"--{'-'.join(str(p) for p in first['loc']).replace('_', '-')}: {first['msg']}")
        return
    except (WeightsError, ValueError, FileNotFoundError) as err:
        _fail(str(err))
        return
    _write_and_summarise(report, out, paper_table or paper, allow_empty)


@app.command()
def merge(
    shards: Annotated[list[Path], typer.Argument(help="every shard file of one run (.npz)")],
    out: Annotated[Path, typer.Option(help="JSON report; Markdown and CSV beside it")] = Path("report.json"),
    paper_table: PaperTable = False,
    allow_empty: AllowEmpty = False,
) -> None:
    """Combine the shards of a `run --shard i/n` into the report of one run."""
    _check_out(out)
    try:
        report = merge_shards(shards)
    except (ValueError, FileNotFoundError) as err:
        _fail(str(err))
        return
    _write_and_summarise(report, out, paper_table, allow_empty)
