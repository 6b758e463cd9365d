"""Every copy of a constant that the packages share agrees (they cannot import one another).

The six model packages stay independent, so the video/audio clock (25 fps, 16 kHz, 640 samples per frame) and
the 7-emotion order are declared in each package that needs them. This test is the tie between the copies:
each declaration (a module constant or a default argument) is listed here, and all must hold the same value.
A new copy belongs in this table; float-pipeline, the apps and the tools import a package's constant instead.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import pytest

FPS = 25
SAMPLE_RATE = 16_000
SAMPLES_PER_FRAME = 640
EMOTIONS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")

# (module, attribute) -> the value it must hold
CONSTANTS: dict[tuple[str, str], Any] = {
    ("float_audio", "FPS"): FPS,
    ("float_audio", "SAMPLE_RATE"): SAMPLE_RATE,
    ("float_audio", "SAMPLES_PER_FRAME"): SAMPLES_PER_FRAME,
    ("float_emotion", "SAMPLE_RATE"): SAMPLE_RATE,
    ("float_emotion", "EMOTIONS"): EMOTIONS,
    ("float_flow", "EMOTION_LABELS"): EMOTIONS,
    ("float_data", "EMOTIONS"): EMOTIONS,
    ("float_eval.ops.sync", "SAMPLES_PER_FRAME"): SAMPLES_PER_FRAME,
    ("float_tools.corpus.config", "FPS"): FPS,
    ("float_tools.corpus.config", "SAMPLE_RATE"): SAMPLE_RATE,
    ("float_tools.corpus.config", "SAMPLES_PER_FRAME"): SAMPLES_PER_FRAME,
}

# (module, callable, parameter) -> the default it must have
DEFAULTS: dict[tuple[str, str, str], Any] = {
    ("float_data", "read_video", "fps"): FPS,
    ("float_data", "iter_video_frames", "fps"): FPS,
    ("float_data", "resample_indices", "fps"): FPS,
    ("float_data", "align_audio", "fps"): FPS,
    ("float_data", "read_audio", "sample_rate"): SAMPLE_RATE,
}


def _resolve(module: str, name: str) -> Any:
    value: Any = importlib.import_module(module)
    for part in name.split("."):
        value = getattr(value, part)
    return value


@pytest.mark.parametrize(("module", "name"), sorted(CONSTANTS))
def test_every_copy_of_a_shared_constant_agrees(module: str, name: str) -> None:
    value = _resolve(module, name)
    expected = CONSTANTS[(module, name)]
    assert (tuple(value) if isinstance(expected, tuple) else value) == expected, (
        f"{module}.{name} = {value!r}"
    )


@pytest.mark.parametrize(("module", "function", "parameter"), sorted(DEFAULTS))
def test_every_default_of_a_shared_constant_agrees(module: str, function: str, parameter: str) -> None:
    default = inspect.signature(_resolve(module, function)).parameters[parameter].default
    assert default == DEFAULTS[(module, function, parameter)], f"{module}.{function}({parameter}={default!r})"


def test_the_clock_is_consistent() -> None:
    assert SAMPLE_RATE // FPS == SAMPLES_PER_FRAME and SAMPLE_RATE % FPS == 0
