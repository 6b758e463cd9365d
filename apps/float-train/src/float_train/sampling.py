"""Which samples each process reads at each step: a pure function of (seed, step, rank).

The data stream is the concatenation of seeded permutations of the dataset, one per epoch. Global step
``s`` consumes stream positions ``[s * G, (s + 1) * G)`` with ``G = batch_size * world_size``; rank ``r``
takes its ``batch_size`` consecutive positions of that block. Because nothing depends on how the loop got
to step ``s``, the data position of a checkpoint is just its step, and a resumed run reads exactly the
batches an uninterrupted one would have read; different ranks always read different samples.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import numpy as np
from torch.utils.data import Dataset, Sampler

__all__ = ["EpochIndexed", "StepBatchSampler", "stream_item"]


@lru_cache(maxsize=8)
def _permutation(num_items: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(num_items)


def stream_item(position: int, num_items: int, seed: int) -> tuple[int, int]:
    """(epoch, dataset index) at ``position`` of the seeded stream of ``num_items`` items."""
    epoch, offset = divmod(position, num_items)
    return epoch, int(_permutation(num_items, seed, epoch)[offset])


class StepBatchSampler(Sampler[list[tuple[int, int]]]):
    """Batches of ``(epoch, index)`` for steps ``start_step .. end_step - 1`` of one rank.

    Args:
        num_items: dataset length (> 0).
        batch_size: samples per rank per step.
        world_size, rank: the process group.
        seed: data-order seed.
        start_step, end_step: the half-open range of global steps to serve (0-based).
    """

    def __init__(
        self,
        num_items: int,
        batch_size: int,
        world_size: int,
        rank: int,
        seed: int,
        start_step: int,
        end_step: int,
    ) -> None:
        if num_items <= 0:
            raise ValueError("the dataset is empty: nothing to train on")
        self.num_items, self.batch_size = num_items, batch_size
        self.world_size, self.rank, self.seed = world_size, rank, seed
        self.start_step, self.end_step = start_step, end_step

    def batch(self, step: int) -> list[tuple[int, int]]:
        """The ``(epoch, index)`` pairs this rank reads at global ``step``."""
        first = (step * self.world_size + self.rank) * self.batch_size
        return [stream_item(first + i, self.num_items, self.seed) for i in range(self.batch_size)]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for step in range(self.start_step, self.end_step):
            yield self.batch(step)

    def __len__(self) -> int:
        return max(0, self.end_step - self.start_step)


class EpochIndexed(Dataset):
    """Wraps a dataset with ``set_epoch`` so that item ``(epoch, index)`` is drawn for that epoch.

    Stage-1 pairs draw their source frame from (seed, epoch, index); passing the epoch with the index keeps
    that exact in DataLoader worker processes too, where a ``set_epoch`` in the main process is not seen.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]) -> Any:
        epoch, index = key
        set_epoch = getattr(self.dataset, "set_epoch", None)
        if set_epoch is not None:
            set_epoch(epoch)
        return self.dataset[index]
