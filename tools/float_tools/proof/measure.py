"""The numbers of the proof: Pearson r, the shuffled-audio pairing, the speech-part mask, PSNR."""

from __future__ import annotations

import numpy as np
import torch


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two 1-D series, over their common prefix (the shorter length).

    Returns NaN when either series is constant over that prefix (r is undefined there) or shorter than 3.
    """
    n = min(len(a), len(b))
    x, y = np.asarray(a[:n], dtype=np.float64), np.asarray(b[:n], dtype=np.float64)
    if n < 3:
        return float("nan")
    x, y = x - x.mean(), y - y.mean()
    denom = np.sqrt((x * x).sum() * (y * y).sum())
    if denom == 0:
        return float("nan")
    return float((x * y).sum() / denom)


def shuffled_pairs(n: int, seed: int = 0) -> list[int]:
    """A derangement of ``range(n)``: clip i is paired with the audio of clip ``result[i] != i`` (n >= 2).

    A seeded cyclic shift of a seeded permutation: no clip keeps its own audio, every audio is used once.
    """
    if n < 2:
        raise ValueError(f"the shuffled baseline needs at least 2 clips, got {n}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    shift = int(rng.integers(1, n))
    result = [0] * n
    for k in range(n):
        result[int(order[k])] = int(order[(k + shift) % n])
    return result


def speech_mask(n_frames: int, speech_frames: tuple[int, int]) -> np.ndarray:
    """Boolean ``[n_frames]``: True on the frames ``[first, end)`` that hold speech (the corpus's
    ``speech_frames``), False on the silent padding."""
    first, end = speech_frames
    mask = np.zeros(n_frames, dtype=bool)
    mask[max(0, first) : min(n_frames, end)] = True
    return mask


def psnr(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB of ``[B, 3, H, W]`` images in [-1, 1], computed on the [0, 1] scale -> ``[B]``."""
    mse = ((prediction.clamp(-1, 1) - target.clamp(-1, 1)) / 2).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(1.0 / mse.clamp_min(1e-10))
