"""The request logic without a browser: form validation, readable errors, a real mp4 from a tiny bundle."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from PIL import Image

from float_demo import EMOTION_CHOICES, DemoInputError, run_request
from float_emotion import EMOTIONS
from float_pipeline import OptionError, Pipeline
from float_pipeline.testing import read_mp4, wav_frames


class RecordingGenerator:
    """Records the options it is given and raises ``error`` if set (no model)."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error
        self.calls: list[dict[str, Any]] = []

    def generate(self, image: Any, audio: Any, out: Any, **options: Any) -> SimpleNamespace:
        self.calls.append({"image": image, "audio": audio, "out": out, **options})
        if self.error is not None:
            raise self.error
        Path(out).write_bytes(b"")
        return SimpleNamespace(path=Path(out), num_frames=5, duration_s=0.2, width=32, height=32)


@pytest.fixture
def image() -> np.ndarray:
    return np.full((40, 40, 3), 128, dtype=np.uint8)


def test_emotion_choices_are_neutral_the_seven_classes_and_auto() -> None:
    assert EMOTION_CHOICES[0] == "neutral"
    assert EMOTION_CHOICES[-1] == "auto"
    assert sorted(EMOTION_CHOICES[:-1]) == sorted(EMOTIONS)
    assert len(EMOTION_CHOICES) == 8


def test_form_values_reach_the_generator(image: np.ndarray, speech_wav: Path, tmp_path: Path) -> None:
    generator = RecordingGenerator()
    form = {
        "emotion": "sad",
        "emotion_intensity": 1.5,
        "audio_scale": 3.0,
        "emotion_scale": 0.5,
        "steps": 4.0,  # Gradio sliders deliver floats
        "seed": 11.0,
        "paste_back": True,
        "crop": False,
    }
    result = run_request(generator, image, speech_wav, form, tmp_path)
    (call,) = generator.calls
    assert call["image"] is image and call["audio"] == speech_wav
    assert {k: call[k] for k in form} == {**form, "steps": 4, "seed": 11}
    assert isinstance(call["steps"], int) and isinstance(call["seed"], int)
    assert Path(call["out"]).parent == tmp_path and Path(call["out"]).suffix == ".mp4"
    assert result.video == Path(call["out"])
    assert "5 frames" in result.summary and "seed 11" in result.summary and "emotion sad" in result.summary


@pytest.mark.parametrize(
    ("form", "fragment"),
    [
        ({"steps": 2.5}, "steps must be a whole number"),
        ({"seed": 0.5}, "seed must be a whole number"),
        ({"emotion": "bored"}, "emotion 'bored' is not one of neutral"),
        ({"audio_scale": -1.0}, "audio scale: Input should be greater than or equal to 0"),
        ({"steps": 0}, "steps: Input should be greater than or equal to 1"),
    ],
)
def test_bad_settings_are_named(
    form: dict[str, Any], fragment: str, image: np.ndarray, speech_wav: Path, tmp_path: Path
) -> None:
    generator = RecordingGenerator()
    with pytest.raises(DemoInputError, match=fragment):
        run_request(generator, image, speech_wav, form, tmp_path)
    assert generator.calls == []


def test_missing_inputs_are_explained(image: np.ndarray, speech_wav: Path, tmp_path: Path) -> None:
    generator = RecordingGenerator()
    with pytest.raises(DemoInputError, match="no portrait: upload a face image"):
        run_request(generator, None, speech_wav, {}, tmp_path)
    with pytest.raises(DemoInputError, match="no speech: upload an audio file or record one"):
        run_request(generator, image, None, {}, tmp_path)
    with pytest.raises(DemoInputError, match="is gone; upload or record it again"):
        run_request(generator, image, tmp_path / "deleted.wav", {}, tmp_path)
    with pytest.raises(DemoInputError, match=r"must be an RGB image; got an array of shape \(8, 8\)"):
        run_request(generator, np.zeros((8, 8), np.uint8), speech_wav, {}, tmp_path)
    assert generator.calls == []


def test_pipeline_errors_become_messages(image: np.ndarray, speech_wav: Path, tmp_path: Path) -> None:
    user = RecordingGenerator(OptionError("--emotion auto needs an emotion predictor"))
    with pytest.raises(DemoInputError, match=r"^--emotion auto needs an emotion predictor$"):
        run_request(user, image, speech_wav, {"emotion": "auto"}, tmp_path)

    logged: list[BaseException] = []
    bug = RecordingGenerator(RuntimeError("shape mismatch"))
    with pytest.raises(
        DemoInputError, match=r"generation failed \(RuntimeError: shape mismatch\); the server log"
    ):
        run_request(bug, image, speech_wav, {}, tmp_path, log_error=logged.append)
    assert len(logged) == 1 and isinstance(logged[0], RuntimeError)


def test_real_pipeline_writes_a_playable_clip(
    pipeline: Pipeline, portrait_png: Path, speech_wav: Path, tmp_path: Path
) -> None:
    image = np.asarray(Image.open(portrait_png).convert("RGB"))
    form = {"emotion": "happy", "steps": 2, "seed": 5, "paste_back": True}
    result = run_request(pipeline, image, speech_wav, form, tmp_path)
    frames, has_audio, _ = read_mp4(result.video)
    expected = wav_frames(speech_wav)
    assert expected == 94  # 3.74 s at 25 fps, rounded up
    assert frames.shape == (expected, 256, 256, 3)  # paste-back: the portrait's own size
    assert has_audio
    assert frames.std() > 5  # a real picture, not a blank frame
    assert f"{expected} frames" in result.summary and "256x256" in result.summary


def test_auto_emotion_without_predictor_is_a_message(
    pipeline: Pipeline, portrait_png: Path, speech_wav: Path, tmp_path: Path
) -> None:
    with pytest.raises(DemoInputError, match="needs an emotion predictor"):
        run_request(pipeline, portrait_png, speech_wav, {"emotion": "auto"}, tmp_path)
    assert list(tmp_path.glob("*.mp4")) == []
