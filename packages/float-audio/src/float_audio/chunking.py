"""Encode long sequences in overlapping chunks and blend the seams, so memory stays bounded.

A clip of ``T`` frames is covered by ``n`` equal chunks of ``L <= chunk_frames`` frames, spread evenly so
that neighbours share at least ``overlap_frames`` frames (``n`` is the smallest count that allows it). Each
chunk is encoded on its own (attention never spans more than ``L`` frames). Inside a shared stretch the two
chunks are cross-faded with linear ramps: the earlier chunk's weight falls from 1 to 0 across the overlap
while the later one's rises, so each frame is dominated by the chunk in which it sits farther from an edge
(more context on both sides). Weights are normalised per frame, so any overlap pattern sums to 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

__all__ = ["blend_weights", "encode_in_chunks", "plan_chunks"]


def plan_chunks(total_frames: int, chunk_frames: int, overlap_frames: int) -> list[tuple[int, int]]:
    """Half-open frame spans ``[(start, end), ...]`` covering ``[0, total_frames)``.

    One span when ``total_frames <= chunk_frames``; otherwise equal-length spans of at most ``chunk_frames``
    frames whose neighbours overlap by at least ``overlap_frames``.
    """
    if total_frames <= 0:
        raise ValueError(f"total_frames must be > 0, got {total_frames}")
    if chunk_frames <= 0 or overlap_frames < 0 or 2 * overlap_frames >= chunk_frames:
        raise ValueError(
            "need chunk_frames > 0 and 0 <= 2 x overlap_frames < chunk_frames, got "
            f"chunk_frames={chunk_frames}, overlap_frames={overlap_frames}"
        )
    if total_frames <= chunk_frames:
        return [(0, total_frames)]
    count = math.ceil((total_frames - overlap_frames) / (chunk_frames - overlap_frames))
    length = math.ceil((total_frames + (count - 1) * overlap_frames) / count)
    starts = [round(k * (total_frames - length) / (count - 1)) for k in range(count)]
    return [(start, start + length) for start in starts]


def blend_weights(spans: list[tuple[int, int]]) -> list[torch.Tensor]:
    """Per-span ``[L_k]`` float32 weights: 1 inside, linear ramps over the overlap with each neighbour.

    A ramp over an overlap of ``m`` frames takes the values ``(i + 1) / (m + 1)``, ``i = 0..m-1``, so the two
    chunks' weights sum to exactly 1 on every shared frame.
    """
    weights = []
    for k, (start, end) in enumerate(spans):
        weight = torch.ones(end - start, dtype=torch.float32)
        if k > 0:
            shared = max(0, min(spans[k - 1][1], end) - start)
            if shared:
                weight[:shared] = torch.arange(1, shared + 1, dtype=torch.float32) / (shared + 1)
        if k + 1 < len(spans):
            next_start = spans[k + 1][0]
            shared = max(0, end - next_start)
            if shared:
                ramp = 1.0 - torch.arange(1, shared + 1, dtype=torch.float32) / (shared + 1)
                weight[end - start - shared :] = torch.minimum(weight[end - start - shared :], ramp)
        weights.append(weight)
    return weights


def encode_in_chunks(
    encode_span: Callable[[int, int], torch.Tensor],
    total_frames: int,
    chunk_frames: int,
    overlap_frames: int,
) -> torch.Tensor:
    """Run ``encode_span(start, end) -> [B, end - start, D]`` over a chunk plan and blend into ``[B, T, D]``.

    Only one chunk's activations exist at a time; the output is accumulated in place.
    """
    spans = plan_chunks(total_frames, chunk_frames, overlap_frames)
    weights = blend_weights(spans)
    output: torch.Tensor | None = None
    total_weight = torch.zeros(total_frames, dtype=torch.float32)
    for (start, end), weight in zip(spans, weights, strict=True):
        features = encode_span(start, end)
        if features.ndim != 3 or features.shape[1] != end - start:
            raise RuntimeError(
                f"chunk encoder returned shape {list(features.shape)} for frames [{start}, {end}); "
                f"expected [B, {end - start}, D]"
            )
        if output is None:
            output = features.new_zeros(features.shape[0], total_frames, features.shape[2])
        output[:, start:end] += features * weight.to(features)[None, :, None]
        total_weight[start:end] += weight
    assert output is not None  # plan_chunks always returns at least one span
    return output / total_weight.to(output)[None, :, None]
