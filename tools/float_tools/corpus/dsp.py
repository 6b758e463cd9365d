"""Small numpy signal helpers (scipy.signal would add seconds of import time to every run)."""

from __future__ import annotations

import numpy as np


def gaussian_smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing of a 1-D signal with zero padding at both ends (``sigma`` in samples)."""
    radius = max(1, int(np.ceil(4.0 * sigma)))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    return np.convolve(np.asarray(x, dtype=np.float64), taps, mode="same")


def resample(x: np.ndarray, rate_in: int, rate_out: int, half_taps: int = 24) -> np.ndarray:
    """Band-limited resampling by a Kaiser-windowed sinc. float [N] at ``rate_in`` -> float32 at ``rate_out``.

    The low-pass sits at 0.95 x the lower Nyquist frequency, so downsampling does not alias.
    """
    x = np.asarray(x, dtype=np.float64)
    n_out = int(np.floor(x.size * rate_out / rate_in))
    cutoff = 0.95 * min(rate_in, rate_out) / rate_in  # in cycles per input sample x 2
    positions = np.arange(n_out) * (rate_in / rate_out)
    base = np.floor(positions).astype(np.int64)
    offsets = np.arange(-half_taps + 1, half_taps + 1)
    index = base[:, None] + offsets[None, :]
    distance = positions[:, None] - index
    window = np.kaiser(2 * half_taps + 1, 8.0)
    # Evaluate the continuous Kaiser window at the fractional distance by interpolating its samples.
    w = np.interp(distance, np.arange(-half_taps, half_taps + 1), window, left=0.0, right=0.0)
    kernel = cutoff * np.sinc(cutoff * distance) * w
    padded = np.concatenate([np.zeros(half_taps), x, np.zeros(half_taps + 1)])
    values = padded[index + half_taps]
    return (values * kernel).sum(axis=1).astype(np.float32)
