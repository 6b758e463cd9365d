"""Video ids, speaker ids and the train/val/test assignment (by speaker, never by frame)."""

from __future__ import annotations

import hashlib
import re
from pathlib import PurePosixPath

SPLITS = ("train", "val", "test")


def video_id_for(relative_path: str) -> str:
    """A file-name-safe id from a path relative to the source: ``spk1/clip 2.mp4`` -> ``spk1__clip_2``."""
    stem = PurePosixPath(relative_path).with_suffix("").as_posix()
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stem.replace("/", "__"))


def speaker_id_for(relative_path: str, pattern: str | None = None) -> str:
    """Speaker of a video: ``pattern``'s group ``speaker`` (regex on the posix relative path), else its first
    folder, else the file stem (one video = one speaker)."""
    path = PurePosixPath(relative_path)
    if pattern is not None:
        match = re.search(pattern, path.as_posix())
        if match is None or "speaker" not in match.groupdict():
            raise ValueError(
                f"speaker_pattern {pattern!r} does not match {relative_path!r} with a (?P<speaker>...) group"
            )
        return match.group("speaker")
    return path.parts[0] if len(path.parts) > 1 else path.stem


def assign_split(speaker_id: str, val_fraction: float, test_fraction: float, salt: str = "float-data") -> str:
    """``train``/``val``/``test`` from a hash of the speaker id: stable, and unaffected by other speakers."""
    digest = hashlib.sha256(f"{salt}:{speaker_id}".encode()).hexdigest()
    u = int(digest[:12], 16) / float(1 << 48)
    if u < test_fraction:
        return "test"
    if u < test_fraction + val_fraction:
        return "val"
    return "train"
