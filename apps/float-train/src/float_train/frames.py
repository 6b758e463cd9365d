"""Stage 1 with ``data.pair_sampling: video``: every crop held in memory, pairs drawn per video.

The demo bundle's recipe draws each (source, driving) pair as: a video uniformly, then two frames of it
uniformly and independently (they may coincide), from one seeded ``torch.Generator`` that the paired
augmentation draws from too. Its corpus is small (300 clips at 64 px are about 27k frames, 330 MB of uint8),
so the crops are decoded once instead of at every step. Validation pairs follow inference: frame 0 of a
validation video is the source, a seeded later frame the driving one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow.parquet as pq
import torch
from tqdm.auto import tqdm

from float_data import PreparedDataset, decode_image

__all__ = ["VALIDATION_PAIR_SEED", "VideoFrames", "load_frames", "to_model"]

VALIDATION_PAIR_SEED = 1234
"""Seed of the validation pairs' driving frames (the same whatever ``train.seed``)."""


def to_model(frames: torch.Tensor) -> torch.Tensor:
    """uint8 ``[B, S, S, 3]`` -> float32 ``[B, 3, S, S]`` in [-1, 1] (``x / 127.5 - 1``).

    A permuted view (channels-last strides), as the demo recipe fed its auto-encoder: the memory layout
    picks the convolution kernels, so it is kept for runs to match to the last bit."""
    return frames.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


@dataclass
class VideoFrames:
    """The crops of some videos, concatenated.

    ``frames``: uint8 ``[N, S, S, 3]``; ``ranges[v] = (first row, frame count)`` of video ``v``.
    """

    frames: torch.Tensor
    ranges: list[tuple[int, int]]

    def __len__(self) -> int:
        return len(self.ranges)

    def draw_pairs(self, count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows ``[count]`` of (source, driving) frames: a uniform video, then two uniform frames of it."""
        videos = torch.randint(len(self), (count,), generator=generator)
        sources, drivings = [], []
        for v in videos.tolist():
            first, n = self.ranges[v]
            pick = torch.randint(n, (2,), generator=generator)
            sources.append(first + int(pick[0]))
            drivings.append(first + int(pick[1]))
        return torch.tensor(sources), torch.tensor(drivings)

    def validation_pairs(self, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows ``[count]``: frame 0 of video ``i % len(self)`` and a seeded other frame of it."""
        generator = torch.Generator().manual_seed(VALIDATION_PAIR_SEED)
        sources, drivings = [], []
        for i in range(count):
            first, n = self.ranges[i % len(self)]
            sources.append(first)
            drivings.append(first + int(torch.randint(1, n, (1,), generator=generator)))
        return torch.tensor(sources), torch.tensor(drivings)

    def images(self, rows: torch.Tensor) -> torch.Tensor:
        """float32 ``[B, 3, S, S]`` in [-1, 1] of ``rows`` ``[B]``."""
        return to_model(self.frames[rows])

    def spread(self, count: int) -> torch.Tensor:
        """About ``count`` frames ``[M, 3, S, S]``: every ``N // count``-th one (all when fewer)."""
        return to_model(self.frames[:: max(1, len(self.frames) // count)])


def load_frames(datasets: list[PreparedDataset], split: str, progress: bool = False) -> VideoFrames:
    """Decode every crop of ``split`` of each prepared dataset, in order (video id order within each).

    Raises:
        ValueError: a video with fewer than two frames (no pair to draw).
    """
    chunks: list[torch.Tensor] = []
    ranges: list[tuple[int, int]] = []
    first = 0
    for prepared in datasets:
        entries = prepared.videos_in(split)
        for entry in tqdm(entries, desc=f"loading {prepared.root.name}", unit="video", disable=not progress):
            path = prepared.root / "data" / "frames" / entry.split / f"{entry.video_id}.parquet"
            table = pq.read_table(path, columns=["image"])
            images = np.stack([decode_image(v) for v in table.column("image").to_pylist()])
            if len(images) < 2:
                raise ValueError(f"video {entry.video_id} of {prepared.root} has {len(images)} frame(s)")
            chunks.append(torch.from_numpy(images))
            ranges.append((first, len(images)))
            first += len(images)
    return VideoFrames(torch.cat(chunks), ranges)
