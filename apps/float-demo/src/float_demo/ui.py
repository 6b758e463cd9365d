"""The Gradio page: portrait + speech in, talking video out. Built by :func:`build_app` around any object with
:class:`float_pipeline.Pipeline`'s ``generate``, so tests can inject a tiny pipeline."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
import weakref
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from float_demo.request import EMOTION_CHOICES, DemoInputError, VideoGenerator, run_request
from float_pipeline import GenerationDefaults

logger = logging.getLogger("float_demo")

# Rendered videos are copied into Gradio's cache when served; our own copies only need to outlive the request.
KEEP_OUTPUTS_S = 3600.0

DESCRIPTION = (
    "Upload a portrait and a speech clip (or record one), pick an emotion, and press **Generate**. "
    "The video streams to disk as it is rendered and plays here when done (25 fps, with the original audio)."
)


def _defaults(generator: VideoGenerator) -> GenerationDefaults:
    """The bundle's sampling defaults when the generator is a Pipeline, else the format's defaults."""
    bundle = getattr(generator, "bundle", None)
    manifest = getattr(bundle, "manifest", None)
    defaults = getattr(manifest, "defaults", None)
    return defaults if isinstance(defaults, GenerationDefaults) else GenerationDefaults()


def _prune(folder: Path, older_than_s: float) -> None:
    cutoff = time.time() - older_than_s
    for path in folder.glob("float-demo-*.mp4"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except FileNotFoundError:  # another request pruned it first
            pass


def build_app(
    pipeline: VideoGenerator,
    *,
    output_dir: str | Path | None = None,
    title: str = "FLOAT-kit demo",
) -> gr.Blocks:
    """The demo page around ``pipeline`` (loaded once by the caller and shared by every request).

    Args:
        pipeline: a :class:`float_pipeline.Pipeline`, or any object with the same ``generate`` method.
        output_dir: where each request's mp4 is written (must exist); default: a private temporary folder
            removed when the process exits (videos older than an hour are pruned at each request).
        title: the browser tab's title.

    Returns:
        The ``gradio.Blocks``; call ``.launch(...)`` on it (see :func:`float_demo.cli.launch_app`).
    """
    if output_dir is None:
        folder = Path(tempfile.mkdtemp(prefix="float-demo-"))
        owned = True
    else:
        folder = Path(output_dir)
        if not folder.is_dir():
            raise FileNotFoundError(
                f"output_dir {folder} does not exist; create it first (mkdir -p {folder})"
            )
        owned = False
    defaults = _defaults(pipeline)
    default_emotion = defaults.emotion if defaults.emotion in EMOTION_CHOICES else "neutral"

    def on_generate(
        image: np.ndarray | None,
        audio: str | None,
        emotion: str,
        emotion_intensity: float,
        audio_scale: float,
        emotion_scale: float,
        steps: float,
        seed: float,
        paste_back: bool,
        crop: bool,
        progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008 - Gradio's injection idiom
    ) -> tuple[str, str]:
        form: dict[str, Any] = {
            "emotion": emotion,
            "emotion_intensity": emotion_intensity,
            "audio_scale": audio_scale,
            "emotion_scale": emotion_scale,
            "steps": steps,
            "seed": seed,
            "paste_back": paste_back,
            "crop": crop,
        }
        _prune(folder, KEEP_OUTPUTS_S)
        try:
            result = run_request(
                pipeline,
                image,
                audio,
                form,
                folder,
                log_error=lambda error: logger.error("generation failed", exc_info=error),
            )
        except DemoInputError as error:
            # A readable message in the page's error toast; no traceback in the page or the console.
            raise gr.Error(
                str(error), duration=None, title="Cannot generate", print_exception=False
            ) from None
        return str(result.video), result.summary

    with gr.Blocks(title=title, analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        gr.Markdown(f"# {title}\n{DESCRIPTION}")
        with gr.Row():
            with gr.Column():
                image = gr.Image(
                    label="Portrait", type="numpy", image_mode="RGB", sources=["upload"], elem_id="portrait"
                )
                audio = gr.Audio(
                    label="Speech (upload or record)",
                    sources=["upload", "microphone"],
                    type="filepath",
                    elem_id="speech",
                )
                emotion = gr.Dropdown(
                    list(EMOTION_CHOICES),
                    value=default_emotion,
                    label="Emotion",
                    info="auto: the bundle's emotion predictor reads it from the speech",
                    elem_id="emotion",
                )
                intensity = gr.Slider(
                    0.0, 3.0, value=1.0, step=0.05, label="Emotion intensity", elem_id="intensity"
                )
                with gr.Row():
                    audio_scale = gr.Slider(
                        0.0,
                        6.0,
                        value=defaults.audio_scale,
                        step=0.1,
                        label="Audio guidance",
                        elem_id="audio-scale",
                    )
                    emotion_scale = gr.Slider(
                        0.0,
                        6.0,
                        value=defaults.emotion_scale,
                        step=0.1,
                        label="Emotion guidance",
                        elem_id="emotion-scale",
                    )
                with gr.Row():
                    steps = gr.Slider(
                        1,
                        max(50, defaults.steps),
                        value=defaults.steps,
                        step=1,
                        label="Steps",
                        elem_id="steps",
                    )
                    seed = gr.Number(value=0, precision=0, minimum=0, label="Seed", elem_id="seed")
                with gr.Row():
                    crop = gr.Checkbox(value=True, label="Crop around the face", elem_id="crop")
                    paste_back = gr.Checkbox(
                        value=False, label="Paste back into the full image", elem_id="paste-back"
                    )
                button = gr.Button("Generate", variant="primary", elem_id="generate")
            with gr.Column():
                video = gr.Video(label="Talking video", format=None, interactive=False, elem_id="result")
                summary = gr.Markdown(elem_id="summary")
        button.click(
            on_generate,
            inputs=[
                image,
                audio,
                emotion,
                intensity,
                audio_scale,
                emotion_scale,
                steps,
                seed,
                paste_back,
                crop,
            ],
            outputs=[video, summary],
            concurrency_limit=1,  # one model in memory: requests queue instead of competing for it
            api_name="generate",
        )
    if owned:
        weakref.finalize(app, shutil.rmtree, folder, True)
    return app
