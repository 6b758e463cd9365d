"""``float-convert-official float.pth OUT_DIR``: a user's own official FLOAT checkpoint -> a FLOAT-kit bundle.

The conversion itself (strict, 274/274 tensors, licence notice) is
:func:`float_pipeline.convert_official_checkpoint`; this is its command line.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Annotated

import typer

from float_audio import DEFAULT_BACKBONE
from float_pipeline import (
    DEFAULT_EMOTION_MODEL,
    OFFICIAL_NUM_TENSORS,
    BundleError,
    ConversionError,
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
    overwrite: Annotated[
        bool, typer.Option(help="replace OUT_DIR if it holds a bundle (any other folder is never replaced)")
    ] = False,
) -> None:
    """Convert the official FLOAT checkpoint (CC BY-NC-ND 4.0) into a FLOAT-kit bundle for float-generate."""
    try:
        # Both checks before float.pth (1.9 GB) is read: a refusal costs nothing.
        check_bundle_target(out_dir, overwrite=overwrite)
        if checkpoint.is_file() and not zipfile.is_zipfile(checkpoint):
            # torch.save writes a zip archive (what the memory-mapped reader needs); anything else would be
            # reported by torch as an mmap problem.
            raise ConversionError(
                f"{checkpoint} is not a PyTorch checkpoint (torch.save writes a zip archive; this file is "
                "not one): pass your copy of the official float.pth"
            )
        out = convert_official_checkpoint(
            checkpoint,
            out_dir,
            audio_backbone=audio_backbone,
            emotion_model=None if emotion_model.lower() == "none" else emotion_model,
            overwrite=overwrite,
        )
    except (ConversionError, BundleError, FileExistsError) as error:
        typer.secho(f"error: {error}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=2) from None
    typer.echo(
        f"wrote {out}: {OFFICIAL_NUM_TENSORS}/{OFFICIAL_NUM_TENSORS} tensors converted "
        f"(licence CC BY-NC-ND 4.0, non-commercial); use it with float-generate --checkpoint {out}"
    )


def main() -> None:
    """Console-script entry point (``float-convert-official``)."""
    app(prog_name="float-convert-official")
