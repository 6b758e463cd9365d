"""Waveform input handling shared by audio predictors: batching and fixed-length time windows."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from float_emotion.protocol import SAMPLE_RATE


def as_clips(waveform: Any, argument: str = "waveform") -> list[Tensor]:
    """Turn ``[N]``, ``[B, N]`` (tensor or numpy) or a sequence of 1-D clips into 1-D float32 tensors.

    Raises:
        ValueError: for empty input, clips with no samples, or arrays with more than 2 dims.
    """
    if isinstance(waveform, np.ndarray | Tensor):
        tensor = torch.as_tensor(waveform, dtype=torch.float32)
        if tensor.dim() == 1:
            clips = [tensor]
        elif tensor.dim() == 2:
            clips = list(tensor.unbind(0))
        else:
            raise ValueError(
                f"{argument} must be [N] or [B, N] (mono, {SAMPLE_RATE} Hz), got shape "
                f"{tuple(tensor.shape)}; "
                "mix multi-channel audio down to mono first"
            )
    elif isinstance(waveform, Sequence) and not isinstance(waveform, str | bytes):
        clips = []
        for i, clip in enumerate(waveform):
            tensor = torch.as_tensor(clip, dtype=torch.float32)
            if tensor.dim() != 1:
                raise ValueError(f"{argument}[{i}] must be a 1-D mono clip, got shape {tuple(tensor.shape)}")
            clips.append(tensor)
    else:
        raise TypeError(
            f"{argument} must be a tensor/array [N] or [B, N] or a list of 1-D clips, "
            f"got {type(waveform).__name__}"
        )
    if not clips:
        raise ValueError(f"{argument} is empty: give at least one clip")
    for i, clip in enumerate(clips):
        if clip.numel() == 0:
            raise ValueError(f"{argument}[{i}] has no samples")
    return clips


def batch_size_of(inputs: Any) -> int:
    """Batch size implied by predictor inputs.

    ``None`` -> 1; ``[N]`` or ``[3, H, W]`` -> 1; ``[B, N]`` or ``[B, C, H, W]`` -> B; a list -> its length;
    anything else (a PIL image, a path) -> 1.
    """
    if inputs is None:
        return 1
    if isinstance(inputs, np.ndarray | Tensor):
        return int(inputs.shape[0]) if inputs.ndim in (2, 4) else 1
    if isinstance(inputs, Sequence) and not isinstance(inputs, str | bytes):
        return len(inputs)
    return 1


def window_bounds(num_samples: int, window: int, hop: int | None = None) -> list[tuple[int, int]]:
    """Sample ranges ``[start, end)`` of the windows covering a clip of ``num_samples`` samples.

    Windows are ``window`` samples long and start every ``hop`` samples (default: ``window``, no overlap).
    The last window is shifted back to end at the clip's end so that every window is full length (no padding
    skews the mean-pooled prediction). A clip shorter than ``window`` gives one window: the whole clip.
    Count: ``W = max(1, ceil((num_samples - window) / hop) + 1)``.
    """
    if window <= 0:
        raise ValueError(f"window must be > 0 samples, got {window}")
    hop = window if hop is None else hop
    if hop <= 0:
        raise ValueError(f"hop must be > 0 samples, got {hop}")
    if num_samples <= window:
        return [(0, num_samples)]
    count = math.ceil((num_samples - window) / hop) + 1
    starts = [min(k * hop, num_samples - window) for k in range(count)]
    return [(s, s + window) for s in starts]


def seconds_to_samples(seconds: float, argument: str, sample_rate: int = SAMPLE_RATE) -> int:
    """Round a duration to whole samples; rejects durations under one sample."""
    samples = round(seconds * sample_rate)
    if samples < 1:
        raise ValueError(f"{argument} must be at least 1/{sample_rate} s, got {seconds}")
    return samples
