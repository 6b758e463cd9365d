"""``float-data``: the command line for preparing talking-head datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from tqdm.auto import tqdm

# Through the package's lazy names: without the 'datasets' extra the error says which extra to install.
from float_data import PrepareConfig, PreparedDataset, ShardSpec, merge_shards, prepare_dataset, scan_videos

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Talking-head video -> FLOAT training data."
)


@app.command()
def prepare(
    src_dir: Annotated[Path, typer.Argument(help="Folder of videos (searched recursively).")],
    out_dir: Annotated[
        Path, typer.Argument(help="Output dataset folder (rerun the same command to resume).")
    ],
    detector: Annotated[str, typer.Option(help="auto, face-alignment or dlib.")] = "auto",
    weights_dir: Annotated[
        Path | None, typer.Option(help="Folder with face-alignment's s3fd/2DFAN4 weights.")
    ] = None,
    device: Annotated[str, typer.Option(help="Torch device for face-alignment (cpu, cuda).")] = "cpu",
    landmarks: Annotated[
        bool, typer.Option(help="Predict 68 landmarks on every frame (face-alignment: slow on CPU).")
    ] = True,
    crop_size: Annotated[int, typer.Option(help="Side of the saved crops in pixels.")] = 512,
    crop_scale: Annotated[float, typer.Option(help="Crop half-side / face half-size (official 1.6).")] = 1.6,
    fps: Annotated[float, typer.Option(help="Output frame rate.")] = 25.0,
    sample_rate: Annotated[int, typer.Option(help="Output audio rate (Hz, mono).")] = 16000,
    track_mode: Annotated[str, typer.Option(help="smooth (follow the face) or fixed (one crop).")] = "smooth",
    smooth_window: Annotated[int, typer.Option(help="Frames averaged by the smooth track.")] = 25,
    detect_every: Annotated[int, typer.Option(help="Detect faces on every n-th output frame.")] = 5,
    image_format: Annotated[str, typer.Option(help="png (lossless) or jpeg.")] = "png",
    val_fraction: Annotated[float, typer.Option(help="Share of speakers for validation.")] = 0.05,
    test_fraction: Annotated[float, typer.Option(help="Share of speakers for test.")] = 0.05,
    speaker_pattern: Annotated[
        str | None, typer.Option(help="Regex with a (?P<speaker>...) group matched on each relative path.")
    ] = None,
    no_audio_ok: Annotated[
        bool, typer.Option(help="Keep videos without audio (silence) instead of skipping.")
    ] = False,
    retry_failed: Annotated[bool, typer.Option(help="Retry videos that failed in an earlier run.")] = False,
    labels: Annotated[
        str, typer.Option(help="Emotion labels: none, ravdess (RAVDESS file names) or file (--labels-file).")
    ] = "none",
    labels_file: Annotated[
        Path | None,
        typer.Option(help="CSV/JSONL: video_id or source_path; emotion (a name) or 7 probability columns."),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Processes preparing videos side by side.")] = 1,
    shard: Annotated[
        str | None,
        typer.Option(help="Prepare only shard i/n (0-based) into OUT_DIR; join the n outputs with `merge`."),
    ] = None,
    progress: Annotated[bool, typer.Option(help="A progress bar over the videos (stderr).")] = True,
) -> None:
    """Scan SRC_DIR, crop faces, resample to 25 fps / 16 kHz and write a sharded dataset to OUT_DIR."""
    try:
        spec = ShardSpec.parse(shard) if shard is not None else None
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--shard") from error
    try:
        config = PrepareConfig(
            detector=detector,
            weights_dir=str(weights_dir) if weights_dir else None,
            device=device,
            landmarks=landmarks,
            crop_size=crop_size,
            crop_scale=crop_scale,
            fps=fps,
            sample_rate=sample_rate,
            track_mode=track_mode,
            smooth_window=smooth_window,
            detect_every=detect_every,
            image_format=image_format,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            speaker_pattern=speaker_pattern,
            require_audio=not no_audio_ok,
            labels="file" if labels_file is not None and labels == "none" else labels,
            labels_file=str(labels_file) if labels_file else None,
        )
    except ValidationError as error:
        raise typer.BadParameter(str(error)) from error

    def on_video(video_id: str, status: str) -> None:
        tqdm.write(f"{status:8s} {video_id}")  # above the bar, not through it

    if src_dir.is_dir() and not scan_videos(src_dir):  # an empty dataset would exit 0 otherwise
        raise typer.BadParameter(f"no video files under {src_dir}", param_hint="SRC_DIR")
    try:
        report = prepare_dataset(
            src_dir,
            out_dir,
            config,
            retry_failed=retry_failed,
            on_video=on_video,
            workers=workers,
            shard=spec,
            progress=progress,
        )
    except (FileNotFoundError, NotADirectoryError, ValueError, RuntimeError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    frames = sum(e.n_frames for e in report.entries)
    typer.echo(
        f"{len(report.entries)} videos ({frames} frames) in {out_dir}; "
        f"{len(report.failures)} skipped (see {out_dir / 'failures.jsonl'})"
    )
    for failure in report.failures:
        typer.echo(f"skipped  {failure.source_path}: {failure.reason}: {failure.detail}")


@app.command()
def merge(
    shard_dirs: Annotated[list[Path], typer.Argument(help="The output folders of shards 0/n .. n-1/n.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="The joined dataset folder.")],
    link: Annotated[bool, typer.Option(help="Hard-link the per-video files, not copy them.")] = False,
) -> None:
    """Join the outputs of `prepare --shard i/n` into the dataset one machine would have prepared."""
    try:
        report = merge_shards(shard_dirs, out_dir, link=link)
    except (FileNotFoundError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    frames = sum(e.n_frames for e in report.entries)
    typer.echo(
        f"{len(report.entries)} videos ({frames} frames) from {len(shard_dirs)} shards in {out_dir}; "
        f"{len(report.failures)} skipped; {report.copied} files placed"
    )


@app.command()
def info(out_dir: Annotated[Path, typer.Argument(help="A folder written by `float-data prepare`.")]) -> None:
    """Summarise a prepared dataset: videos, frames and seconds per split, and the skipped videos."""
    try:
        prepared = PreparedDataset(out_dir)
    except FileNotFoundError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    for split in ("train", "val", "test"):
        entries = prepared.videos_in(split)
        frames = sum(e.n_frames for e in entries)
        typer.echo(f"{split:5s} {len(entries):6d} videos {frames:9d} frames {frames / 25.0:9.1f} s")
    for failure in prepared.failures:
        typer.echo(f"skipped {failure.source_path}: {failure.reason}")


if __name__ == "__main__":
    app()
