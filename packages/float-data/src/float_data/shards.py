"""Sharding a ``prepare`` run across machines: which shard owns a video, and the marker each shard leaves.

A shard ``i/n`` prepares the videos whose id hashes to ``i`` (sha256 of the id, so every machine, Python
version and file-system order agrees) into its own output folder. Every shard scans the whole source folder:
video ids (which de-duplicate ``a.mp4`` / ``a.mkv``), speakers and train/val/test splits are functions of
the relative paths alone, so a video gets the same id and split in any shard as in a single-machine run.
``shard.json`` records the shard, the listing it saw and the video ids it owns, so
:func:`float_data.merge_shards` can check that the shards fit together and are finished.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from float_data.files import atomic_write_text, load_json

MARKER = "shard.json"


def shard_of(video_id: str, count: int) -> int:
    """The shard (0 .. count - 1) that owns ``video_id``: a stable hash, unaffected by other videos."""
    digest = hashlib.sha256(f"float-data-shard:{video_id}".encode()).hexdigest()
    return int(digest[:15], 16) % count


@dataclass(frozen=True)
class ShardSpec:
    """Shard ``index`` of ``count`` (written ``index/count``, 0-based: ``0/3``, ``1/3``, ``2/3``)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"a shard is i/n with 0 <= i < n, got {self.index}/{self.count}")

    @classmethod
    def parse(cls, text: str) -> ShardSpec:
        """``"2/8"`` -> ShardSpec(2, 8)."""
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if match is None:
            raise ValueError(f"a shard is written i/n (e.g. 0/4 for the first of 4), got {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    def owns(self, video_id: str) -> bool:
        return shard_of(video_id, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def listing_digest(relative_paths: list[str]) -> str:
    """sha256 of the sorted source listing: shards that saw different folders must not be merged."""
    return hashlib.sha256("\n".join(relative_paths).encode()).hexdigest()


def read_shard_marker(out_dir: str | Path) -> dict | None:
    """The ``shard.json`` of a shard's output folder, or None for a single-machine (or merged) folder."""
    path = Path(out_dir) / MARKER
    return load_json(path) if path.is_file() else None


def check_shard_marker(out_dir: Path, shard: ShardSpec | None) -> None:
    """Refuse to resume a folder as another shard, a shard's folder without ``shard``, or the reverse."""
    marker = read_shard_marker(out_dir)
    if marker is not None:
        found = ShardSpec(marker["index"], marker["count"])
        if shard != found:
            wanted = f"shard {shard}" if shard else "a single-machine run"
            raise ValueError(
                f"{out_dir} holds shard {found} of a sharded run, not {wanted}: resume it with --shard "
                f"{found}, or join the shards with `float-data merge`"
            )
    elif shard is not None and ((out_dir / "manifest.jsonl").is_file() or any(out_dir.glob("state/*.json"))):
        raise ValueError(f"{out_dir} holds a single-machine run; give each shard a new output folder")


def write_shard_marker(
    out_dir: Path, shard: ShardSpec, relative_paths: list[str], ids: dict[str, str], fingerprint: str
) -> list[str]:
    """Record ``shard`` in ``out_dir/shard.json``; return the relative paths of the videos it owns."""
    owned = [rel for rel in relative_paths if shard.owns(ids[rel])]
    marker = {
        "index": shard.index,
        "count": shard.count,
        "listing": listing_digest(relative_paths),
        "n_listed": len(relative_paths),
        "fingerprint": fingerprint,
        "videos": sorted(ids[rel] for rel in owned),
    }
    atomic_write_text(out_dir / MARKER, json.dumps(marker, indent=1, sort_keys=True) + "\n")
    return owned
