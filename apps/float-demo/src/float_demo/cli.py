"""``float-demo``: load a bundle once, then serve the Gradio page on localhost (offline; no share link).

Exit codes: 0 after a clean shutdown (Ctrl-C or SIGTERM); 2 bad options or a checkpoint that does not load
(one message, no traceback).
"""

from __future__ import annotations

import ipaddress
import logging
import signal
import sys
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from float_demo.offline import apply_offline_environment
from float_pipeline import Device, DType

if TYPE_CHECKING:
    import gradio as gr

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

# Uploads larger than this are refused by the server before they reach the model.
MAX_UPLOAD = "200mb"


class ServeSettings(BaseModel):
    """Where and how the page is served (validated command-line options)."""

    model_config = ConfigDict(extra="forbid")

    checkpoint: str | None = Field(None, description="bundle folder or Hugging Face id; None: embedded demo")
    host: str = "127.0.0.1"
    port: int = Field(7860, ge=0, le=65535, description="0: the first free port from 7860 on")
    device: Device = Device.cpu
    dtype: DType = DType.float32
    share: bool = False

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if value != "localhost":
            try:
                ipaddress.ip_address(value)
            except ValueError as error:
                raise ValueError(
                    f"{value!r} is not an IP address (use 127.0.0.1, or 0.0.0.0 for the LAN)"
                ) from error
        return value


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code=2)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def stop_on_sigterm() -> None:
    """Handle SIGTERM (``kill``, ``docker stop``, systemd) as Ctrl-C: Gradio then closes the server, which
    deletes its uploads and served copies, and the interpreter exits normally, which removes the private
    folder of rendered videos. Python's default for SIGTERM ends the process with no clean-up at all."""
    signal.signal(signal.SIGTERM, _interrupt)


def launch_app(settings: ServeSettings, *, block: bool = True) -> gr.Blocks:
    """Load the pipeline once, build the page and serve it; returns the ``gradio.Blocks`` when ``block`` is
    False (the server then runs in a background thread; call ``.close()`` to stop it).

    Raises:
        float_pipeline.BundleError / GenerateError: the checkpoint does not load or the device is missing.
    """
    apply_offline_environment()
    # Imported after the environment is set: Gradio and Hugging Face read some switches at import time.
    from float_demo.ui import build_app
    from float_pipeline import Pipeline

    pipeline = Pipeline.from_pretrained(
        settings.checkpoint,
        device=settings.device.value,
        dtype=settings.dtype.value,
        progress=True,
        tune_allocator=True,  # the app's choice: glibc keeps freed decoder maps (docs/float-generate.md)
    )
    demo = build_app(pipeline)
    demo.queue(default_concurrency_limit=1)
    demo.launch(
        server_name=settings.host,
        server_port=settings.port or None,
        share=settings.share,
        inbrowser=False,
        show_error=False,
        max_file_size=MAX_UPLOAD,
        enable_monitoring=False,
        prevent_thread_lock=not block,
        footer_links=[],
    )
    return demo


@app.command()
def serve(
    checkpoint: Annotated[
        str | None, typer.Option(help="bundle folder or Hugging Face id (default: the embedded demo bundle)")
    ] = None,
    host: Annotated[
        str, typer.Option(help="address to listen on; 0.0.0.0 exposes it to the network")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port; 0 picks the first free one from 7860")] = 7860,
    device: Annotated[Device, typer.Option(help="where the model runs")] = Device.cpu,
    dtype: Annotated[DType, typer.Option(help="model precision")] = DType.float32,
    share: Annotated[
        bool,
        typer.Option("--share/--no-share", help="public *.gradio.live link (needs internet; off by default)"),
    ] = False,
) -> None:
    """Serve the FLOAT-kit talking-portrait demo in the browser (http://HOST:PORT)."""
    try:
        settings = ServeSettings(
            checkpoint=checkpoint, host=host, port=port, device=device, dtype=dtype, share=share
        )
    except ValidationError as error:
        raise _fail(
            "; ".join(f"--{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        ) from None
    from float_audio import AudioError, BackboneNotFoundError
    from float_pipeline import BundleError, GenerateError

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("float_demo").setLevel(logging.INFO)
    stop_on_sigterm()
    try:
        launch_app(settings, block=True)
    except (BundleError, GenerateError, AudioError, BackboneNotFoundError, FileNotFoundError) as error:
        raise _fail(str(error)) from None
    except OSError as error:  # the port is taken or the address is not ours
        raise _fail(
            f"cannot listen on {settings.host}:{settings.port} ({error}); pass another --port"
        ) from None


def main() -> None:
    """Console entry point (``float-demo``)."""
    app(prog_name="float-demo")


if __name__ == "__main__":
    sys.exit(main())
