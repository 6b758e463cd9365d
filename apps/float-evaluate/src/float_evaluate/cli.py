"""``float-evaluate run``: one command from a bundle and a prepared split to a report beside Table 1.

Bad input (a missing dataset, bundle or weight file, an empty split) prints one ``error:`` line naming it and
exits with status 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from float_eval import DEFAULT_METRICS, WeightsError
from float_evaluate.config import EvaluateConfig
from float_evaluate.runner import run_evaluation
from float_pipeline import BundleError, GenerateError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Generate the test videos of a float-data prepared dataset with a FLOAT-kit bundle and score them "
    "with float-eval (FID, FVD, CSIM, E-FID, P-FID, LSE-D/C).",
)


@app.callback()
def _root() -> None:
    """float-evaluate: reproduce our numbers with one command."""


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


@app.command()
def run(
    data: Annotated[Path, typer.Option("--data", help="float-data prepared dataset folder")],
    out: Annotated[Path, typer.Option("--out", help="output folder (reference/, generated/, reports)")],
    checkpoint: Annotated[
        str | None, typer.Option("--checkpoint", help="bundle folder or HF id (default: demo bundle)")
    ] = None,
    split: Annotated[str, typer.Option(help="train, val or test")] = "test",
    metrics: Annotated[
        str, typer.Option(help="comma-separated subset of " + ",".join(DEFAULT_METRICS))
    ] = ",".join(DEFAULT_METRICS),
    weights_dir: Annotated[
        Path | None, typer.Option("--weights-dir", help="float-eval weights (default $FLOAT_EVAL_WEIGHTS)")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="only the first N videos of the split")] = None,
    paper_table: Annotated[
        bool, typer.Option("--paper-table", help="put FLOAT's Table 1 row beside the results")
    ] = False,
    device: Annotated[str | None, typer.Option(help="cpu or cuda (default: cuda when present)")] = None,
    crop: Annotated[
        bool, typer.Option("--crop/--no-crop", help="re-detect and crop the face (prepared frames are crops)")
    ] = False,
    steps: Annotated[int | None, typer.Option(help="ODE steps (default: the bundle's)")] = None,
    seed: Annotated[int, typer.Option(help="noise seed of every generation")] = 0,
    emotion: Annotated[str | None, typer.Option(help="emotion option (default: the bundle's)")] = None,
    face_detector: Annotated[
        str, typer.Option(help="LSE face tracks: s3fd (syncnet_python) or scrfd")
    ] = "s3fd",
    fvd_min_clips: Annotated[int, typer.Option(help="refuse FVD with fewer 16-frame clips per side")] = 400,
    lse_min_track: Annotated[int, typer.Option(help="LSE tracks need more detected frames than this")] = 100,
    lse_min_face_size: Annotated[float, typer.Option(help="LSE tracks need larger faces (pixels)")] = 100.0,
    check_digests: Annotated[
        bool,
        typer.Option(help="refuse weight files whose sha256 differs from float-eval's manifest"),
    ] = True,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="show progress bars")] = True,
) -> None:
    """Export the reference clips, generate the missing videos, write OUT/report.json and report.md."""
    try:
        config = EvaluateConfig(
            checkpoint=checkpoint,
            data=data,
            split=split,  # type: ignore[arg-type]
            out=out,
            metrics=[m.strip() for m in metrics.split(",") if m.strip()],
            weights_dir=weights_dir,
            limit=limit,
            paper_table=paper_table,
            device=device,
            crop=crop,
            steps=steps,
            seed=seed,
            emotion=emotion,
            face_detector=face_detector,  # type: ignore[arg-type]
            fvd_min_clips=fvd_min_clips,
            lse_min_track=lse_min_track,
            lse_min_face_size=lse_min_face_size,
            check_digests=check_digests,
            progress=progress,
        )
    except ValidationError as error:
        first = error.errors()[0]
        _fail(f"--{'-'.join(str(p) for p in first['loc']).replace('_', '-')}: {first['msg']}")
        return
    try:
        result = run_evaluation(config)
    except (FileNotFoundError, ValueError, BundleError, GenerateError, WeightsError) as error:
        _fail(str(error))
        return
    report = result.report
    typer.echo(
        f"{len(result.clips)} videos: {len(result.generated)} generated, {len(result.resumed)} resumed, "
        f"{len(result.failed)} failed"
    )
    for warning in report.warnings():  # stand-in, unverified (--no-check-digests) or unpinned weights
        typer.echo(f"WARNING: {warning}")
    for key, value in report.aggregate.items():
        typer.echo(f"{key}: {'—' if value is None else f'{value:.4f}'}")
    typer.echo(f"wrote {result.json_path} and {result.markdown_path}")


def main() -> None:
    app()
