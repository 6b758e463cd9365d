"""Per-frame motion tracks at 25 fps: mouth opening from the speech, head pose drift, blinks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from float_tools.corpus.config import FPS, SAMPLE_RATE, SAMPLES_PER_FRAME
from float_tools.corpus.dsp import gaussian_smooth

ANALYSIS_WINDOW = 1024
"""Samples in the Hann window centred on each frame (64 ms at 16 kHz)."""
SPEECH_BAND_HZ = (200.0, 3500.0)
"""Band whose energy follows jaw opening: vowels (open mouth) are loud there, closures are quiet."""
DYNAMIC_RANGE_DB = 25.0
"""Band levels this far below the clip's loud (95th percentile) level map to a closed mouth."""
OPENING_GAMMA = 1.3
"""Exponent on the normalised level: widens the gap between open vowels and weaker consonants."""
BLINK_SHAPE = np.array([0.35, 0.8, 1.0, 0.85, 0.55, 0.25, 0.08])
"""Eyelid closure over a blink's frames: a fast close and a slower opening (280 ms)."""


def frame_band_level_db(audio: np.ndarray) -> np.ndarray:
    """Speech-band level of each 40 ms frame. ``audio`` float [T * 640] at 16 kHz -> float64 [T] in dB."""
    n_frames = audio.size // SAMPLES_PER_FRAME
    half = ANALYSIS_WINDOW // 2
    padded = np.pad(audio.astype(np.float64), (half, half + SAMPLES_PER_FRAME))
    centres = np.arange(n_frames) * SAMPLES_PER_FRAME + SAMPLES_PER_FRAME // 2 + half
    index = centres[:, None] + np.arange(-half, half)[None, :]
    windows = padded[index] * np.hanning(ANALYSIS_WINDOW)[None, :]
    power = np.abs(np.fft.rfft(windows, axis=1)) ** 2
    freqs = np.fft.rfftfreq(ANALYSIS_WINDOW, 1.0 / SAMPLE_RATE)
    band = (freqs >= SPEECH_BAND_HZ[0]) & (freqs <= SPEECH_BAND_HZ[1])
    return 10.0 * np.log10(power[:, band].sum(axis=1) + 1e-10)


def mouth_opening_track(audio: np.ndarray) -> np.ndarray:
    """Ground-truth mouth opening driven by the speech. float32 [T * 640] -> float32 [T] in [0, 1].

    The speech-band level is mapped from (loud - 25 dB) -> 0 to loud -> 1 (power 1.3), smoothed with a
    40 ms Gaussian (the jaw cannot move faster), and forced to exactly 0 on frames that hold no speech
    sample, so digital-silence padding always shows a closed mouth.
    """
    level = frame_band_level_db(audio)
    frames = audio[: level.size * SAMPLES_PER_FRAME].reshape(level.size, SAMPLES_PER_FRAME)
    has_speech = np.abs(frames).max(axis=1) > 0
    if not has_speech.any():
        return np.zeros(level.size, dtype=np.float32)
    loud = np.percentile(level[has_speech], 95)
    opening = np.clip((level - (loud - DYNAMIC_RANGE_DB)) / DYNAMIC_RANGE_DB, 0.0, 1.0) ** OPENING_GAMMA
    opening = gaussian_smooth(opening, sigma=1.0)
    opening = np.clip(opening, 0.0, 1.0) * has_speech
    return opening.astype(np.float32)


@dataclass(frozen=True)
class PoseTrack:
    """Head pose per frame as a similarity warp about the face centre.

    ``roll_deg`` [T] in-plane rotation (degrees, positive = counter-clockwise on screen), ``shift_px``
    [T, 2] translation (x, y) in output pixels, ``scale`` [T] relative size (1 = rest).
    """

    roll_deg: np.ndarray
    shift_px: np.ndarray
    scale: np.ndarray


def _smooth_walk(rng: np.random.Generator, n: int, tau_frames: float = 25.0) -> np.ndarray:
    """A smooth mean-reverting random walk, about unit spread: an AR(1) process smoothed over ~120 ms."""
    rho = np.exp(-1.0 / tau_frames)
    noise = rng.standard_normal(n + 12)
    x = np.empty_like(noise)
    x[0] = noise[0]
    drive = np.sqrt(1.0 - rho * rho)
    for i in range(1, x.size):
        x[i] = rho * x[i - 1] + drive * noise[i]
    return gaussian_smooth(x, sigma=3.0)[6 : 6 + n]


def pose_track(
    rng: np.random.Generator, n_frames: int, roll_deg: float, shift: float, scale: float, resolution: int
) -> PoseTrack:
    """Head pose drift: each component is a smooth random walk softly bounded by its amplitude.

    ``roll_deg`` (degrees), ``shift`` (fraction of ``resolution``) and ``scale`` (relative) are the
    largest excursions; values stay strictly inside them.
    """

    def bounded(amplitude: float) -> np.ndarray:
        return amplitude * np.tanh(0.6 * _smooth_walk(rng, n_frames))

    roll = bounded(roll_deg)
    shift_px = np.stack([bounded(shift * resolution), bounded(shift * resolution)], axis=1)
    size = 1.0 + bounded(scale)
    return PoseTrack(
        roll_deg=roll.astype(np.float32), shift_px=shift_px.astype(np.float32), scale=size.astype(np.float32)
    )


def blink_track(rng: np.random.Generator, n_frames: int, interval_s: tuple[float, float]) -> np.ndarray:
    """Eyelid closure per frame, float32 [T] in [0, 1] (1 = shut), blinks spaced by ``interval_s`` seconds."""
    closure = np.zeros(n_frames, dtype=np.float32)
    # The first blink comes early enough that most short clips hold one.
    t = rng.uniform(0.3, interval_s[0])
    while True:
        start = round(t * FPS)
        if start >= n_frames:
            break
        stop = min(n_frames, start + BLINK_SHAPE.size)
        closure[start:stop] = np.maximum(closure[start:stop], BLINK_SHAPE[: stop - start])
        t += rng.uniform(*interval_s)
    return closure
