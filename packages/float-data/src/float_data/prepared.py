"""Reading a prepared dataset: its manifest, and its tables as Hugging Face datasets (random or streamed)."""

from __future__ import annotations

import io
from pathlib import Path

import datasets
import numpy as np
from PIL import Image

from float_data.manifest import ManifestEntry, read_failures, read_manifest
from float_data.splits import SPLITS


def decode_image(value: dict | Image.Image) -> np.ndarray:
    """A stored crop (datasets Image value or raw ``{"bytes": ...}``) -> uint8 RGB [S, S, 3]."""
    if isinstance(value, Image.Image):
        return np.asarray(value.convert("RGB"))
    return np.asarray(Image.open(io.BytesIO(value["bytes"])).convert("RGB"))


class PreparedDataset:
    """A folder written by :func:`float_data.prepare_dataset`.

    ``frames(split)`` is a memory-mapped :class:`datasets.Dataset`, rows ordered by (video id, frame);
    ``frame_ranges(split)`` maps each video id to its (first row, frame count) in it.
    """

    def __init__(self, root: str | Path, cache_dir: str | Path | None = None) -> None:
        self.root = Path(root)
        if not (self.root / "manifest.jsonl").is_file():
            raise FileNotFoundError(
                f"{self.root / 'manifest.jsonl'} not found: "
                f"run `float-data prepare SRC_DIR {self.root}` first"
            )
        self.entries: list[ManifestEntry] = read_manifest(self.root)
        self.failures = read_failures(self.root)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else self.root / ".hf_cache"

    def videos_in(self, split: str | None = None) -> list[ManifestEntry]:
        """Manifest entries of ``split`` (all when None), sorted by video id."""
        if split is not None and split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        return [e for e in self.entries if split is None or e.split == split]

    def shard_paths(self, table: str, split: str) -> list[str]:
        """Parquet shards of ``table`` (frames or videos) for ``split``, in video id order."""
        return [
            str(self.root / "data" / table / split / f"{e.video_id}.parquet") for e in self.videos_in(split)
        ]

    def _files(self, table: str, split: str) -> list[str]:
        files = self.shard_paths(table, split)
        if not files:
            raise ValueError(f"split {split!r} of {self.root} has no videos")
        return files

    def frames(self, split: str = "train") -> datasets.Dataset:
        """Frames table of ``split`` (random access; images decode to PIL on access)."""
        return datasets.Dataset.from_parquet(self._files("frames", split), cache_dir=str(self.cache_dir))

    def videos(self, split: str = "train") -> datasets.Dataset:
        """Videos table of ``split`` (one row per video, with its 16 kHz audio)."""
        return datasets.Dataset.from_parquet(self._files("videos", split), cache_dir=str(self.cache_dir))

    def frames_stream(self, split: str = "train") -> datasets.IterableDataset:
        """Frames table of ``split`` streamed shard by shard (nothing converted or cached)."""
        return datasets.load_dataset(
            "parquet", data_files=self._files("frames", split), split="train", streaming=True
        )

    def frame_ranges(self, split: str = "train") -> dict[str, tuple[int, int]]:
        """video id -> (first row in ``frames(split)``, number of frames)."""
        ranges: dict[str, tuple[int, int]] = {}
        start = 0
        for entry in self.videos_in(split):
            ranges[entry.video_id] = (start, entry.n_frames)
            start += entry.n_frames
        return ranges
