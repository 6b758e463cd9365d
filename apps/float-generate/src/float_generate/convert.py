"""``float-convert-official float.pth OUT_DIR``: a user's own official FLOAT checkpoint -> a FLOAT-kit bundle.

The conversion itself (274/274 parameters with the official shapes, what else the file holds, licence notice)
is :func:`float_pipeline.convert_official_checkpoint`; this is its command line. Its notes (wrapper, stored
buffers, ignored keys, casts, detector) are printed to stderr, one line each.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated

import typer

from float_audio import DEFAULT_BACKBONE
from float_pipeline import (
    DEFAULT_AUDIO_CHUNK_SECONDS,
    DEFAULT_EMOTION_MODEL,
    OFFICIAL_NUM_TENSORS,
    BundleError,
    ConversionError,
    OfficialCheckpointWarning,
    check_bundle_target,
    convert_official_checkpoint,
)

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command()
def convert(
    checkpoint: Annotated[Path, typer.Argument(help="your copy of the official float.pth")],
    out_dir: Annotated[Path, typer.Argument(help="bundle folder to write")],
    audio_backbone: Annotated[
        str, typer.Option(help="wav2vec2-base-960h folder or Hugging Face id (referenced, not copied)")
    ] = DEFAULT_BACKBONE,
    emotion_model: Annotated[
        str, typer.Option(help="speech-emotion model folder or hub id for --emotion auto ('none': no auto)")
    ] = DEFAULT_EMOTION_MODEL,
    audio_chunk_seconds: Annotated[
        float,
        typer.Option(min=0, help="audio chunk length the bundle uses (0: whole clip at once, as officially)"),
    ] = DEFAULT_AUDIO_CHUNK_SECONDS,
    detector_weights: Annotated[
        Path | None,
        typer.Option(help="folder with face-alignment's s3fd-619a316812.pth (default: the torch hub cache)"),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="replace OUT_DIR if it holds a bundle (any other folder is never replaced)")
    ] = False,
) -> None:
    """Convert the official FLOAT checkpoint (CC BY-NC-ND 4.0) into a FLOAT-kit bundle for float-generate."""
    try:
        # Checked before float.pth (1.9 GB) is read: a refusal costs nothing.
        check_bundle_target(out_dir, overwrite=overwrite)
        with warnings.catch_warnings():
            # Unmapped keys are printed among the conversion's notes; the warning would repeat them.
            warnings.simplefilter("ignore", OfficialCheckpointWarning)
            out = convert_official_checkpoint(
                checkpoint,
                out_dir,
                audio_backbone=audio_backbone,
                emotion_model=None if emotion_model.lower() == "none" else emotion_model,
                audio_chunk_seconds=audio_chunk_seconds,
                detector_weights=detector_weights,
                overwrite=overwrite,
            )
    except (ConversionError, BundleError, FileExistsError) as error:
        typer.secho(f"error: {error}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=2) from None
    typer.echo(
        f"wrote {out}: {OFFICIAL_NUM_TENSORS}/{OFFICIAL_NUM_TENSORS} parameters converted "
        f"(licence CC BY-NC-ND 4.0, non-commercial); use it with float-generate --checkpoint {out}"
    )


def main() -> None:
    """Console-script entry point (``float-convert-official``)."""
    app(prog_name="float-convert-official")
