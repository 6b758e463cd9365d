"""Helpers of the float-demo tests: a tiny seeded random bundle and an mp4 reader."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from float_generate import GenerationDefaults
from float_generate.testing import TINY_SIZE, build_random_bundle

SIZE = TINY_SIZE


def build_tiny_bundle(out: Path) -> Path:
    """The shared seeded random bundle with non-default sampling settings (the UI must start from them)."""
    defaults = GenerationDefaults(steps=2, emotion="happy", audio_scale=1.5, emotion_scale=0.5)
    return build_random_bundle(out, defaults=defaults, description="tiny random float-demo test bundle")


def read_mp4(path: Path) -> tuple[np.ndarray, bool]:
    """All frames ``[T, H, W, 3]`` uint8 of an mp4 and whether it carries an audio stream."""
    with av.open(str(path)) as container:
        has_audio = bool(container.streams.audio)
        frames = np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])
    return frames, has_audio


def wav_frames(path: Path) -> int:
    """``ceil(seconds x 25)`` of a wav file, exactly (integer arithmetic on its header)."""
    import wave

    with wave.open(str(path), "rb") as stream:
        samples, rate = stream.getnframes(), stream.getframerate()
    return -(-samples * 25 // rate)
