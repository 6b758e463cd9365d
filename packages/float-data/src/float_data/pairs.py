"""Stage 1 data: (source, driving) frame pairs from the same video for the motion auto-encoder.

Sampling rule (:class:`PairSampling`): every frame of a split is the driving frame once per epoch; its source
frame is drawn uniformly from the same video among frames ``min_gap <= |j - k| <= max_gap`` (``max_gap``
None = anywhere in the video). Draws are seeded by (seed, epoch, index), so a run is reproducible.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow.parquet as pq
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from float_data.crop import to_model_tensor
from float_data.prepared import PreparedDataset, decode_image


@dataclass(frozen=True)
class PairSampling:
    """Which source frame goes with a driving frame ``k``: uniform over ``min_gap <= |j - k| <= max_gap``."""

    min_gap: int = 0
    max_gap: int | None = None

    def __post_init__(self) -> None:
        if self.min_gap < 0 or (self.max_gap is not None and self.max_gap < self.min_gap):
            raise ValueError(
                f"need 0 <= min_gap <= max_gap, got min_gap={self.min_gap} max_gap={self.max_gap}"
            )

    def draw(self, k: int, n: int, rng: np.random.Generator) -> int:
        """Source index for driving index ``k`` of an ``n``-frame video (``k`` when nothing qualifies)."""
        hi = n - 1 if self.max_gap is None else min(n - 1, k + self.max_gap)
        lo = 0 if self.max_gap is None else max(0, k - self.max_gap)
        candidates = [j for j in range(lo, hi + 1) if abs(j - k) >= self.min_gap]
        return int(rng.choice(candidates)) if candidates else k


def _landmark_tensor(values: list[float]) -> torch.Tensor:
    """Stored 136 floats -> [68, 2] crop pixels; [0, 2] when the dataset has no landmarks."""
    return torch.tensor(values, dtype=torch.float32).reshape(-1, 2)


def _item(source: dict, driving: dict) -> dict:
    return {
        "source": to_model_tensor(decode_image(source["image"])),
        "driving": to_model_tensor(decode_image(driving["image"])),
        "driving_landmarks": _landmark_tensor(driving["landmarks"]),
        "video_id": driving["video_id"],
        "source_index": int(source["frame_index"]),
        "driving_index": int(driving["frame_index"]),
    }


class AutoEncoderPairs(Dataset):
    """Random-access pairs: item ``i`` drives with row ``i`` of the split's frames table.

    Item: ``source``, ``driving`` float32 [3, S, S] in [-1, 1]; ``driving_landmarks`` [68, 2] crop pixels (or
    [0, 2]); ``video_id``; ``source_index``, ``driving_index`` (frame numbers at 25 fps).
    """

    def __init__(
        self,
        prepared: PreparedDataset,
        split: str = "train",
        sampling: PairSampling | None = None,
        seed: int = 0,
    ) -> None:
        self.frames = prepared.frames(split).cast_column("image", _raw_image())
        self.sampling = sampling or PairSampling()
        self.seed, self.epoch = seed, 0
        ranges = prepared.frame_ranges(split)
        self._start = np.concatenate([np.full(n, s, np.int64) for s, n in ranges.values()])
        self._count = np.concatenate([np.full(n, n, np.int64) for _, n in ranges.values()])

    def set_epoch(self, epoch: int) -> None:
        """Draw different source frames in each epoch (same draws for the same epoch)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} pairs")
        start, n = int(self._start[index]), int(self._count[index])
        k = index - start
        rng = np.random.default_rng([self.seed, self.epoch, index])
        j = self.sampling.draw(k, n, rng)
        return _item(self.frames[start + j], self.frames[index])


def _raw_image():
    from datasets import Image

    return Image(decode=False)


class AutoEncoderPairStream(IterableDataset):
    """Streaming pairs: one video shard at a time (videos and frames shuffled by seed and epoch).

    Splits the videos across DataLoader workers; memory holds one video's encoded crops.
    """

    def __init__(
        self,
        prepared: PreparedDataset,
        split: str = "train",
        sampling: PairSampling | None = None,
        seed: int = 0,
        shuffle: bool = True,
    ) -> None:
        self.paths = prepared.shard_paths("frames", split)
        self.sampling = sampling or PairSampling()
        self.seed, self.epoch, self.shuffle = seed, 0, shuffle

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[dict]:
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(len(self.paths)) if self.shuffle else np.arange(len(self.paths))
        worker = get_worker_info()
        if worker is not None:
            order = order[worker.id :: worker.num_workers]
        for v in order:
            rows = pq.read_table(self.paths[int(v)]).to_pylist()
            video_rng = np.random.default_rng([self.seed, self.epoch, int(v)])
            frames = video_rng.permutation(len(rows)) if self.shuffle else np.arange(len(rows))
            for k in frames:
                j = self.sampling.draw(int(k), len(rows), video_rng)
                yield _item(rows[j], rows[int(k)])
