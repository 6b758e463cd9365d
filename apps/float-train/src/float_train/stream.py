"""Streamed training data (``data.streaming: true``): Hugging Face ``datasets.IterableDataset`` per epoch,
shuffled with a buffer, each process reading its share, with a position that a checkpoint stores as JSON.

The examples come from generators over shards (one per video): stage 1 reads a video's frames table (a
parquet file, through fsspec: a local path or any URL fsspec reaches, ``s3://``, ``gs://``, ``https://``...)
and yields one (source, driving) pair per frame, the encoded crops as bytes; stage 2 reads a video's latent
cache (``float_data.build_motion_cache``) and yields its grid windows. For epoch ``e`` the shard order and the
buffer shuffle are seeded by (seed, e), so an epoch's stream is a pure function of (seed, e, rank, world).

Resuming: ``IterableDataset.state_dict()`` records the shard and the row within it but not the shuffle
buffer, which a resume refills from later rows: the samples that sat in the buffer would be skipped. So the
position is this process's (epoch, examples taken from that epoch), saved as plain JSON
(``stream/rank-R.json`` in the checkpoint); a resume rebuilds the epoch's stream and drops that many examples
before decoding anything (a resume therefore re-reads the current epoch's shards up to the position, not
the whole dataset). Examples are taken in the main process, exactly one batch per step, so the position
after a step's batches is the position of its checkpoint.
"""

from __future__ import annotations

import io
import itertools
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import torch
from torch.utils.data import default_collate

from float_data import PairSampling, decode_image, to_model_tensor

__all__ = [
    "ExampleStream",
    "StreamPosition",
    "decode_pair",
    "pair_examples",
    "read_bytes",
    "window_examples",
]


@dataclass
class StreamPosition:
    """Where one process is in its stream: ``offset`` examples of epoch ``epoch`` taken so far."""

    epoch: int = 0
    offset: int = 0

    def to_json(self) -> dict[str, int]:
        return {"epoch": self.epoch, "offset": self.offset}

    @classmethod
    def from_json(cls, data: Any) -> StreamPosition:
        """Raises ValueError unless ``data`` is ``{"epoch": int >= 0, "offset": int >= 0}``."""
        if not isinstance(data, dict) or set(data) != {"epoch", "offset"}:
            raise ValueError(f"a stream position is {{epoch, offset}}, got {data!r}")
        values = [data["epoch"], data["offset"]]
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
            raise ValueError(f"epoch and offset must be integers >= 0, got {data!r}")
        return cls(*values)


def read_bytes(url: str, storage_options: dict[str, Any] | None = None) -> bytes:
    """The whole file at ``url`` (a local path or any fsspec URL)."""
    import fsspec

    with fsspec.open(url, "rb", **(storage_options or {})) as handle:
        data: bytes = handle.read()
    return data


def pair_examples(
    paths: list[str],
    seed: int,
    epoch: int,
    min_gap: int,
    max_gap: int | None,
    storage_options: dict[str, Any],
) -> Iterator[dict[str, Any]]:
    """Stage 1: for each frames shard (one video), one pair per frame as the driving frame, in frame order;
    the source frame is drawn by ``float_data.PairSampling`` from (seed, epoch, video, frame), so the same
    epoch always gives the same pairs. Crops stay encoded (bytes) until :func:`decode_pair`."""
    sampling = PairSampling(min_gap, max_gap)
    for path in paths:
        table = pq.read_table(io.BytesIO(read_bytes(path, storage_options)))
        rows = table.select(["video_id", "frame_index", "image", "landmarks"]).to_pylist()
        for k, row in enumerate(rows):
            video = zlib.crc32(row["video_id"].encode())
            j = sampling.draw(k, len(rows), np.random.default_rng([seed, epoch, video, k]))
            yield {
                "video_id": row["video_id"],
                "source_index": int(rows[j]["frame_index"]),
                "driving_index": int(row["frame_index"]),
                "source": rows[j]["image"]["bytes"],
                "driving": row["image"]["bytes"],
                "landmarks": row["landmarks"],
            }


def decode_pair(example: dict[str, Any]) -> dict[str, Any]:
    """A :func:`pair_examples` example as ``float_data.AutoEncoderPairs`` gives an item: ``source``,
    ``driving`` float32 [3, S, S] in [-1, 1], ``driving_landmarks`` [68, 2] (or [0, 2]), ids and indices."""
    return {
        "source": to_model_tensor(decode_image({"bytes": example["source"]})),
        "driving": to_model_tensor(decode_image({"bytes": example["driving"]})),
        "driving_landmarks": torch.tensor(example["landmarks"], dtype=torch.float32).reshape(-1, 2),
        "video_id": example["video_id"],
        "source_index": example["source_index"],
        "driving_index": example["driving_index"],
    }


def window_examples(
    shards: list[dict[str, Any]], size: int, stride: int, storage_options: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """Stage 2: for each cached video (``{"video_id", "path", "label"}``; ``label`` the manifest's [7] or
    None for the cached prediction), its windows of ``size`` frames starting every ``stride`` frames, as
    ``float_data.MotionWindows`` items (``motion`` [size, D], ``audio`` [size, A], ``emotion`` [7],
    ``video_id``, ``start``)."""
    from safetensors.torch import load

    for shard in shards:
        tensors = load(read_bytes(shard["path"], storage_options))
        label = shard["label"]
        emotion = tensors["emotion"] if label is None else torch.tensor(label, dtype=torch.float32)
        for start in range(0, tensors["motion"].shape[0] - size + 1, stride):
            yield {
                "motion": tensors["motion"][start : start + size],
                "audio": tensors["audio"][start : start + size],
                "emotion": emotion,
                "video_id": shard["video_id"],
                "start": start,
            }


class ExampleStream:
    """One process's endless, resumable stream of examples (see the module docstring).

    Args:
        epoch_dataset: epoch -> the (unshuffled) ``datasets.IterableDataset`` of that epoch; its shards are
            what the shuffle reorders and the processes split.
        buffer_size: shuffle buffer (examples); 1 keeps the shard order's rows in order.
        seed: data-order seed.
        rank, world_size: this process and the process count. With a shard count divisible by the process
            count each process reads its own shards, else every process reads all and keeps every
            ``world_size``-th example (``datasets.distributed.split_dataset_by_node``).
    """

    def __init__(
        self,
        epoch_dataset: Callable[[int], Any],
        buffer_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.epoch_dataset = epoch_dataset
        self.buffer_size, self.seed = buffer_size, seed
        self.rank, self.world_size = rank, world_size
        self.position = StreamPosition()

    def epoch(self, epoch: int) -> Any:
        """This process's ``datasets.IterableDataset`` for ``epoch``, shuffled."""
        from datasets.distributed import split_dataset_by_node

        # datasets takes a 32-bit seed; (seed, epoch) mixed so that neighbouring seeds' epochs differ
        mixed = int(np.random.SeedSequence([self.seed, epoch]).generate_state(1)[0])
        data = self.epoch_dataset(epoch).shuffle(seed=mixed, buffer_size=self.buffer_size)
        if self.world_size > 1:
            data = split_dataset_by_node(data, rank=self.rank, world_size=self.world_size)
        return data

    def examples(self) -> Iterator[dict[str, Any]]:
        """Raw examples from :attr:`position` on, forever (epoch after epoch); :attr:`position` counts each
        one as it is handed out.

        Raises:
            ValueError: an epoch of this process holds no example at all.
        """
        epoch, offset = self.position.epoch, self.position.offset
        while True:
            taken = 0
            for example in itertools.islice(iter(self.epoch(epoch)), offset, None):
                offset, taken = offset + 1, taken + 1
                self.position = StreamPosition(epoch, offset)
                yield example
            if taken == 0 and offset == 0:
                raise ValueError(
                    f"process {self.rank} of {self.world_size} gets no training example from the stream"
                )
            epoch, offset = epoch + 1, 0

    def batches(
        self, batch_size: int, count: int, decode: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> Iterator[dict[str, Any]]:
        """``count`` batches of ``batch_size`` decoded examples (torch's default collate), drawn lazily: after
        a batch is yielded, :attr:`position` is the position after it."""
        examples = self.examples()
        for _ in range(count):
            yield default_collate([decode(e) for e in itertools.islice(examples, batch_size)])
