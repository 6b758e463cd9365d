"""The one rule that ties audio length to video frames: 25 fps, T = ceil(seconds x 25).

Every package that needs a frame count for an audio clip uses these functions, so audio features, motion
latents and rendered frames always agree on T.
"""

from __future__ import annotations

import math

__all__ = ["FPS", "SAMPLES_PER_FRAME", "SAMPLE_RATE", "num_frames", "num_frames_for_samples"]

FPS = 25
"""Video frame rate of every FLOAT feature sequence (frames per second)."""

SAMPLE_RATE = 16_000
"""Sample rate of every waveform fed to an encoder (Hz)."""

SAMPLES_PER_FRAME = SAMPLE_RATE // FPS
"""640 waveform samples per video frame at 16 kHz / 25 fps."""

# Float products such as 0.28 * 25 = 7.000000000000001 must not round up to an extra frame.
_FRAME_TOLERANCE = 1e-6


def num_frames(seconds: float) -> int:
    """Number of 25 fps frames covering ``seconds`` of audio: ``ceil(seconds x 25)``.

    A clip of 0.2 s gives 5 frames, 7.3 s gives 183, 3.74 s gives 94. Products that overshoot an integer by
    float rounding only (less than 1e-6 frame) count as that integer.
    """
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
    return max(0, math.ceil(seconds * FPS - _FRAME_TOLERANCE))


def num_frames_for_samples(num_samples: int, sample_rate: int = SAMPLE_RATE) -> int:
    """Exact ``ceil(num_samples / sample_rate x 25)`` in integer arithmetic (no float rounding at all)."""
    if num_samples < 0:
        raise ValueError(f"num_samples must be >= 0, got {num_samples}")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be > 0, got {sample_rate}")
    return -(-num_samples * FPS // sample_rate)
