"""Prepared datasets (``float-data prepare`` output) loaded whole into memory: the demo corpus is small.

A 180-clip corpus at 64 px is about 15k frames = 180 MB of uint8, so holding it avoids re-decoding PNGs at
every step on a 2-core CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch
from tqdm import tqdm

from float_data import PreparedDataset, decode_image


@dataclass
class VideoFrames:
    """The frames and audio of the videos of one split.

    ``frames``: uint8 ``[N, S, S, 3]`` (all videos concatenated); ``ranges[i] = (first, count)`` of video i;
    ``audio[i]``: float32 ``[count * 640]`` 16 kHz mono aligned to the frames; ``video_ids[i]`` its id.
    """

    frames: torch.Tensor
    ranges: list[tuple[int, int]]
    audio: list[torch.Tensor]
    video_ids: list[str]

    def __len__(self) -> int:
        return len(self.ranges)


def load_split(root: str | Path, split: str = "train", max_videos: int | None = None) -> VideoFrames:
    """Decode every crop and the audio of ``split`` of a prepared dataset (progress bar on stderr)."""
    prepared = PreparedDataset(root)
    entries = prepared.videos_in(split)[:max_videos]
    if not entries:
        raise ValueError(
            f"split {split!r} of prepared dataset {root} has no videos: prepare a corpus into it first"
        )
    chunks, ranges, audio, ids = [], [], [], []
    first = 0
    for entry in tqdm(entries, desc=f"loading {Path(root).name}/{split}", unit="video"):
        base = prepared.root / "data"
        table = pq.read_table(base / "frames" / entry.split / f"{entry.video_id}.parquet", columns=["image"])
        images = np.stack([decode_image(v) for v in table.column("image").to_pylist()])
        row = pq.read_table(base / "videos" / entry.split / f"{entry.video_id}.parquet", columns=["audio"])
        wav = torch.tensor(row.column("audio").to_pylist()[0], dtype=torch.float32)
        chunks.append(torch.from_numpy(images))
        ranges.append((first, len(images)))
        audio.append(wav)
        ids.append(entry.video_id)
        first += len(images)
    return VideoFrames(torch.cat(chunks), ranges, audio, ids)


def concat_splits(parts: list[VideoFrames]) -> VideoFrames:
    """One :class:`VideoFrames` holding the videos of ``parts`` in order (e.g. two prepared corpora)."""
    if not parts:
        raise ValueError("concat_splits needs at least one split")
    ranges, first = [], 0
    for part in parts:
        ranges.extend((first + start, count) for start, count in part.ranges)
        first += len(part.frames)
    return VideoFrames(
        torch.cat([p.frames for p in parts]),
        ranges,
        [a for p in parts for a in p.audio],
        [i for p in parts for i in p.video_ids],
    )


def to_model(frames: torch.Tensor) -> torch.Tensor:
    """uint8 ``[B, S, S, 3]`` -> float ``[B, 3, S, S]`` in [-1, 1]."""
    return frames.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
