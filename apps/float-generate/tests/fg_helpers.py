"""Helpers of the float-generate tests: a tiny random bundle, wav writing, mp4 reading."""

from __future__ import annotations

import wave
from pathlib import Path

import av
import numpy as np

from float_generate.testing import TINY_SIZE, build_random_bundle

SIZE = TINY_SIZE


def build_tiny_bundle(out: Path, *, dim_pose: int = 0) -> Path:
    """The shared seeded random bundle; zero-initialised flow layers re-drawn so conditions matter."""
    return build_random_bundle(out, dim_pose=dim_pose, randomize_zero_init=True)


def write_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    """Write float samples in [-1, 1] as 16-bit mono PCM."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as stream:
        stream.setnchannels(1)
        stream.setsampwidth(2)
        stream.setframerate(rate)
        stream.writeframes(pcm.tobytes())
    return path


def wav_frames(path: Path) -> int:
    """ceil(duration x 25) from a wav header, exactly (integer arithmetic)."""
    with wave.open(str(path), "rb") as stream:
        samples, rate = stream.getnframes(), stream.getframerate()
    return -(-samples * 25 // rate)


def read_video(path: Path) -> tuple[np.ndarray, bool, float]:
    """All frames [T, H, W, 3] uint8 of an mp4, whether it has an audio stream, and that stream's seconds."""
    with av.open(str(path)) as container:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
        has_audio = bool(container.streams.audio)
        seconds = 0.0
        if has_audio:
            stream = container.streams.audio[0]
            seconds = float(stream.duration * stream.time_base) if stream.duration else 0.0
    return frames, has_audio, seconds
