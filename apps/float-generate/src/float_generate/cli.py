"""``float-generate``: one portrait + one speech file -> talking video, or many from a jobs file (--batch).

Exit codes: 0 success; 1 a batch ran but some rows failed (see the printed report and summary file);
2 bad input, options, checkpoint or output location (one message, no traceback, no partial file at --out).

Everything that can be checked without the model is checked before it is loaded (and before the heavy
imports a bundle may need): the options, the inputs' existence, the output location, and that no output
replaces an input, another row's output, or an existing file without ``--overwrite``.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from float_audio import AudioError, BackboneNotFoundError
from float_generate.batch import JobOutcome, check_batch, run_batch
from float_pipeline import (
    BundleError,
    Device,
    DType,
    GenerateError,
    GenerateOptions,
    Pipeline,
    check_not_an_input,
    check_output_path,
    load_image,
    parse_emotion,
)

# Errors caused by the user's files or settings: one message, exit code 2. FileNotFoundError covers missing
# third-party weights (face-alignment, wav2vec2), whose messages name the file and where to get it.
USER_ERRORS = (GenerateError, BundleError, AudioError, BackboneNotFoundError, FileNotFoundError)

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


class Compile(StrEnum):
    """``--compile``: the decoder through torch.compile (float_pipeline ``GenerateOptions.compile``)."""

    auto = "auto"
    on = "on"
    off = "off"


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code=2)


def _validation_message(error: ValidationError) -> str:
    return "; ".join(
        f"--{'.'.join(str(p) for p in e['loc']).replace('_', '-')}: {e['msg']}" for e in error.errors()
    )


@app.command()
def generate(
    image: Annotated[
        Path | None, typer.Option("--image", "-i", help="portrait image (PNG, JPEG, WebP)")
    ] = None,
    audio: Annotated[
        Path | None, typer.Option("--audio", "-a", help="speech, any ffmpeg-readable file")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="output .mp4")] = None,
    batch: Annotated[
        Path | None, typer.Option(help="jobs file (.csv or .jsonl): image, audio, out + options per row")
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(help="batch summary JSON (default: <jobs>.report.json beside the jobs file)"),
    ] = None,
    checkpoint: Annotated[
        str | None, typer.Option(help="bundle folder or Hugging Face id (default: the embedded demo bundle)")
    ] = None,
    emotion: Annotated[
        str | None,
        typer.Option(
            help="emotion name (happy, sad, ...), a mix 'happy=2,sad=1', or 'auto' (bundle predictor)"
        ),
    ] = None,
    emotion_intensity: Annotated[float, typer.Option(help=">1 sharpens, <1 softens the emotion")] = 1.0,
    audio_scale: Annotated[float | None, typer.Option(help="audio guidance scale (bundle default)")] = None,
    emotion_scale: Annotated[
        float | None, typer.Option(help="emotion guidance scale (bundle default)")
    ] = None,
    steps: Annotated[int | None, typer.Option(help="ODE steps per window (bundle default)")] = None,
    seed: Annotated[int, typer.Option(help="noise seed; the same seed gives identical frames")] = 0,
    crop: Annotated[
        bool, typer.Option("--crop/--no-crop", help="crop the face; --no-crop pads to square")
    ] = True,
    paste_back: Annotated[
        bool, typer.Option("--paste-back/--no-paste-back", help="composite into the original image size")
    ] = False,
    pose_from: Annotated[
        str | None, typer.Option(help="head pose file (.npy/.pt/.csv [T, p]) or 'none' (pose bundles only)")
    ] = None,
    detector: Annotated[
        str | None,
        typer.Option(help="face detector: dlib (offline), face-alignment, auto (default: the bundle's)"),
    ] = None,
    detector_weights: Annotated[
        str | None, typer.Option(help="folder with the face-alignment weights")
    ] = None,
    crop_rule: Annotated[
        str | None, typer.Option(help="kit, or official: the official crop step for step (bundle default)")
    ] = None,
    fix_noise_seed: Annotated[
        bool | None,
        typer.Option(
            "--fix-noise-seed/--fresh-noise",
            help="the same noise in every window, as the official --fix_noise_seed (bundle default)",
        ),
    ] = None,
    audio_chunk_seconds: Annotated[
        float | None,
        typer.Option(help="audio chunk length in seconds; 0: whole clip at once, official (bundle default)"),
    ] = None,
    decode_batch: Annotated[int, typer.Option(help="frames decoded per auto-encoder call")] = 8,
    compile: Annotated[
        Compile,
        typer.Option(
            help="decoder through torch.compile: on, off, or auto (on only for clips long enough to pay off; "
            "cache in ~/.cache/float-kit/inductor; eager with a notice when no C++ compiler is found)",
        ),
    ] = Compile.off,
    device: Annotated[Device, typer.Option(help="compute device")] = Device.cpu,
    dtype: Annotated[DType, typer.Option(help="model precision (bfloat16: fast on GPUs and AMX CPUs)")] = (
        DType.float32
    ),
    allow_silent: Annotated[
        bool, typer.Option("--allow-silent", help="animate a silent audio file instead of refusing it")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="replace an existing --out (batch: existing row outputs)")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Animate a portrait with a speech clip (FLOAT: flow-matching motion latents), streaming to an mp4."""
    if batch is None and (image is None or audio is None or out is None):
        raise _fail("pass --image, --audio and --out (or --batch jobs.csv|jsonl)")
    if batch is not None and (image or audio or out):
        raise _fail("--batch runs the jobs file; do not also pass --image/--audio/--out")
    if batch is None and report is not None:
        raise _fail("--report is the summary of a --batch run; drop it (or pass --batch)")
    values: dict[str, Any] = {
        "emotion": emotion,
        "emotion_intensity": emotion_intensity,
        "audio_scale": audio_scale,
        "emotion_scale": emotion_scale,
        "steps": steps,
        "seed": seed,
        "crop": crop,
        "paste_back": paste_back,
        "pose_from": pose_from,
        "decode_batch": decode_batch,
        "compile": compile.value,
        "detector": detector,
        "detector_weights": detector_weights,
        "allow_silent": allow_silent,
        "crop_rule": crop_rule,
        "fix_noise_seed": fix_noise_seed,
        "audio_chunk_seconds": audio_chunk_seconds,
    }
    try:
        options = GenerateOptions(**values)
    except ValidationError as error:
        raise _fail(_validation_message(error)) from None
    try:
        # Before loading any model: a mistake costs a second, not the model's load time.
        if emotion is not None and emotion.strip().lower() != "auto":
            parse_emotion(emotion)
        if batch is None:
            assert out is not None and image is not None and audio is not None
            _check_single(image, audio, out, overwrite)
        else:
            check_batch(batch, summary_path=report, overwrite=overwrite)
        pipeline = Pipeline.from_pretrained(
            checkpoint, device=device.value, dtype=dtype.value, progress=not quiet, tune_allocator=True
        )
        if batch is not None:
            _run_batch(pipeline, batch, report, options, quiet, overwrite)
            return
        assert out is not None and image is not None and audio is not None
        result = pipeline.generate(image, audio, out, options)
    except USER_ERRORS as error:
        raise _fail(str(error)) from None
    for note in result.notes:
        typer.secho(f"note: {note}", err=True, fg=typer.colors.YELLOW)
    typer.echo(
        f"wrote {result.path} ({result.num_frames} frames, {result.width}x{result.height}, "
        f"{result.duration_s:.2f} s audio) in {result.seconds:.1f} s"
        + (f"; face found by {result.detector}" if result.detector else "")
    )


def _check_single(image: Path, audio: Path, out: Path, overwrite: bool) -> None:
    """The inputs exist and read, and ``out`` is a new (or, with ``--overwrite``, replaceable) mp4 that is
    neither input."""
    check_output_path(out)
    check_not_an_input(out, image, audio)
    if out.exists() and not overwrite:
        raise GenerateError(f"{out} already exists; pass --overwrite to replace it, or choose another --out")
    load_image(image)  # missing, unreadable or too large: said now (decoding takes milliseconds)
    if not audio.is_file():
        raise GenerateError(f"audio file not found: {audio}; check the path (--audio)")


def _run_batch(
    pipeline: Pipeline,
    batch: Path,
    report: Path | None,
    options: GenerateOptions,
    quiet: bool,
    overwrite: bool,
) -> None:
    defaults = options.model_dump(exclude_defaults=True)

    def show(outcome: JobOutcome) -> None:
        if outcome.ok:
            if not quiet:
                typer.echo(f"row {outcome.row}: ok {outcome.out} ({outcome.num_frames} frames)")
        else:
            typer.secho(f"row {outcome.row}: FAILED {outcome.error}", err=True, fg=typer.colors.RED)

    result = run_batch(
        pipeline, batch, defaults=defaults, summary_path=report, on_outcome=show, overwrite=overwrite
    )
    failed = len(result.failed)
    typer.echo(f"batch: {len(result.succeeded)} succeeded, {failed} failed; summary in {result.summary_path}")
    if failed:
        raise typer.Exit(code=1)


def main() -> None:
    """Console-script entry point (``float-generate``)."""
    app(prog_name="float-generate")


if __name__ == "__main__":
    sys.exit(main())
