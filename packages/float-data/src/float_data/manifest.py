"""What ``prepare`` records: a :class:`ManifestEntry` per prepared video, a :class:`Failure` per skip."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict


class ManifestEntry(BaseModel):
    """A prepared video. ``crop_box`` is the median crop (cx, cy, half) in source pixels; per-frame boxes are
    in the frames table. ``n_frames`` frames at ``fps``; audio has ``n_frames * sample_rate / fps``
    samples. ``emotion``: the dataset's label as 7 probabilities (angry, disgust, fear, happy, neutral, sad,
    surprise), None without labels (see :mod:`float_data.labels`)."""

    model_config = ConfigDict(extra="forbid")

    video_id: str
    speaker_id: str
    split: str
    source_path: str
    sha256: str
    source_fps: float
    duration_s: float
    width: int
    height: int
    fps: float
    n_frames: int
    sample_rate: int
    n_samples: int
    has_audio: bool
    crop_box: list[float]
    crop_size: int
    track_mode: str
    detector: str
    has_landmarks: bool
    face_fraction: float
    emotion: list[float] | None = None


class Failure(BaseModel):
    """A skipped video: ``reason`` is a :class:`~float_data.errors.FailureReason` value."""

    model_config = ConfigDict(extra="forbid")

    source_path: str
    sha256: str
    reason: str
    detail: str


def read_jsonl(path: str | Path) -> list[dict]:
    """Rows of a JSON-lines file (empty list when it does not exist)."""
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def read_manifest(root: str | Path) -> list[ManifestEntry]:
    """Entries of ``root/manifest.jsonl``, sorted by video id."""
    return [ManifestEntry(**row) for row in read_jsonl(Path(root) / "manifest.jsonl")]


def read_failures(root: str | Path) -> list[Failure]:
    """Entries of ``root/failures.jsonl``, sorted by source path."""
    return [Failure(**row) for row in read_jsonl(Path(root) / "failures.jsonl")]
