"""The page built around a tiny pipeline: widgets, bundle defaults, and the click handler (no browser)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from float_demo import EMOTION_CHOICES, build_app
from float_pipeline import Pipeline
from float_pipeline.testing import read_mp4


def _components(app: gr.Blocks) -> dict[str, dict[str, Any]]:
    config = app.get_config_file()
    return {c["props"]["elem_id"]: c for c in config["components"] if c["props"].get("elem_id")}


def _handler(app: gr.Blocks) -> Any:
    (function,) = [f for f in app.fns.values() if f.api_name == "generate"]
    return function


def test_widgets_show_the_bundle_defaults(pipeline: Pipeline, tmp_path: Path) -> None:
    app = build_app(pipeline, output_dir=tmp_path)
    widgets = _components(app)
    assert app.analytics_enabled is False
    assert widgets["portrait"]["type"] == "image"
    assert widgets["speech"]["type"] == "audio"
    assert widgets["speech"]["props"]["sources"] == ["upload", "microphone"]
    assert [value for value, _ in widgets["emotion"]["props"]["choices"]] == list(EMOTION_CHOICES)
    # The tiny bundle's defaults (demo_helpers): emotion happy, g_a 1.5, g_e 0.5, 2 steps.
    assert widgets["emotion"]["props"]["value"] == "happy"
    assert widgets["audio-scale"]["props"]["value"] == 1.5
    assert widgets["emotion-scale"]["props"]["value"] == 0.5
    assert widgets["steps"]["props"]["value"] == 2
    assert widgets["seed"]["props"]["value"] == 0
    assert widgets["crop"]["props"]["value"] is True
    assert widgets["paste-back"]["props"]["value"] is False
    assert widgets["result"]["type"] == "video"
    handler = _handler(app)
    assert handler.concurrency_limit == 1
    assert [block.elem_id for block in handler.inputs] == [
        "portrait",
        "speech",
        "emotion",
        "intensity",
        "audio-scale",
        "emotion-scale",
        "steps",
        "seed",
        "paste-back",
        "crop",
    ]


def test_handler_renders_a_clip(
    pipeline: Pipeline, portrait_png: Path, speech_wav: Path, tmp_path: Path
) -> None:
    app = build_app(pipeline, output_dir=tmp_path)
    image = np.asarray(Image.open(portrait_png).convert("RGB"))
    video, summary = _handler(app).fn(image, str(speech_wav), "neutral", 1.0, 2.0, 1.0, 2.0, 0.0, False, True)
    assert Path(video).parent == tmp_path
    frames, has_audio, _ = read_mp4(Path(video))
    assert frames.shape == (94, 32, 32, 3) and has_audio
    assert summary.startswith("94 frames (3.74 s of speech) at 32x32, emotion neutral, 2 steps, seed 0")


def test_handler_errors_are_readable_toasts(pipeline: Pipeline, speech_wav: Path, tmp_path: Path) -> None:
    handler = _handler(build_app(pipeline, output_dir=tmp_path)).fn
    with pytest.raises(gr.Error) as missing:
        handler(None, str(speech_wav), "neutral", 1.0, 2.0, 1.0, 2.0, 0.0, False, True)
    assert missing.value.message == "no portrait: upload a face image (PNG, JPEG or WebP) first"
    assert missing.value.print_exception is False
    gray = np.full((48, 48, 3), 90, np.uint8)
    with pytest.raises(gr.Error, match="no face"):
        handler(gray, str(speech_wav), "neutral", 1.0, 2.0, 1.0, 2.0, 0.0, False, True)
    assert list(tmp_path.glob("*.mp4")) == []


def test_missing_output_dir_is_named(pipeline: Pipeline, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"output_dir .*nope does not exist"):
        build_app(pipeline, output_dir=tmp_path / "nope")


def test_private_output_dir_is_removed_at_exit(pipeline: Pipeline) -> None:
    import weakref

    app = build_app(pipeline)
    registry = weakref.finalize._registry  # type: ignore[attr-defined]
    (cleanup,) = [f for f in registry if f.peek() and f.peek()[0] is app]
    assert cleanup.atexit
    folder = Path(cleanup.peek()[2][0])
    assert folder.is_dir() and folder.name.startswith("float-demo-")
    (folder / "float-demo-x.mp4").write_bytes(b"old")
    cleanup()  # what the interpreter does at exit
    assert not folder.exists()
