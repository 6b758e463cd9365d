"""Reference clips from a float-data prepared split: the crops + aligned audio as mp4, the portrait, the wav.

Each video's shards are read on their own (one video in memory at a time, frames decoded one by one while
they are encoded). Every file is written under a hidden temporary name and renamed into place, so a killed
run never leaves a half-written file under a final name, and a rerun skips what is already there.
"""

from __future__ import annotations

import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from PIL import Image

from float_data import ManifestEntry, PreparedDataset, decode_image
from float_pipeline import VideoWriter, atomic_path

__all__ = ["ReferenceClip", "export_reference", "select_videos"]


@dataclass(frozen=True)
class ReferenceClip:
    """One test video laid out for generation and scoring.

    Attributes:
        video_id: the prepared dataset's id (also the file stem everywhere).
        n_frames: frames at 25 fps; the audio has ``n_frames * 640`` samples at 16 kHz.
        video: ``reference/<id>.mp4`` (prepared crops, H.264, with the audio as AAC).
        portrait: ``sources/<id>.png``, the first crop (the source image of the generation and of CSIM).
        audio: ``sources/<id>.wav``, 16 kHz mono int16.
        resumed: True when all three files were already there.
    """

    video_id: str
    n_frames: int
    video: Path
    portrait: Path
    audio: Path
    resumed: bool


def select_videos(dataset: PreparedDataset, split: str, limit: int | None) -> list[ManifestEntry]:
    """The split's videos sorted by id (the first ``limit``); a clear error when the split is empty."""
    entries = dataset.videos_in(split)
    if not entries:
        counts = {s: len(dataset.videos_in(s)) for s in ("train", "val", "test")}
        raise ValueError(
            f"split {split!r} of {dataset.root} has no videos (videos per split: {counts}); "
            "pass another --split, or prepare the data with a test fraction (float-data prepare)"
        )
    return entries[:limit] if limit is not None else entries


def _write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2")
    with atomic_path(path) as temp, wave.open(str(temp), "wb") as stream:
        stream.setnchannels(1)
        stream.setsampwidth(2)
        stream.setframerate(rate)
        stream.writeframes(pcm.tobytes())


def _read_audio(dataset: PreparedDataset, entry: ManifestEntry, split: str) -> np.ndarray:
    path = dataset.root / "data" / "videos" / split / f"{entry.video_id}.parquet"
    table = pq.read_table(path, columns=["audio", "sample_rate"])
    rate = int(table.column("sample_rate")[0].as_py())
    if rate != 16000:
        raise ValueError(f"{path}: audio is {rate} Hz; float-evaluate needs 16 kHz (float-data's default)")
    return np.asarray(table.column("audio")[0].as_py(), dtype=np.float32)


def _frames(dataset: PreparedDataset, entry: ManifestEntry, split: str) -> Iterator[np.ndarray]:
    path = dataset.root / "data" / "frames" / split / f"{entry.video_id}.parquet"
    table = pq.read_table(path, columns=["frame_index", "image"])
    order = np.argsort(np.asarray(table.column("frame_index").to_pylist()), kind="stable")
    images = table.column("image")
    for i in order:
        yield decode_image(images[int(i)].as_py())


def export_reference(
    dataset: PreparedDataset, entry: ManifestEntry, split: str, reference_dir: Path, sources_dir: Path
) -> ReferenceClip:
    """Write (or find) the reference mp4, the portrait png and the wav of one prepared video."""
    video = reference_dir / f"{entry.video_id}.mp4"
    portrait = sources_dir / f"{entry.video_id}.png"
    audio = sources_dir / f"{entry.video_id}.wav"
    resumed = video.is_file() and portrait.is_file() and audio.is_file()
    if not resumed:
        if entry.fps != 25:
            raise ValueError(f"{entry.video_id}: prepared at {entry.fps} fps; float-evaluate needs 25 fps")
        _write_wav(audio, _read_audio(dataset, entry, split), 16000)
        frames = _frames(dataset, entry, split)
        first = next(frames, None)
        if first is None:
            raise ValueError(f"{entry.video_id}: the frames table holds no frames")
        with atomic_path(portrait) as temp:
            Image.fromarray(first).save(temp, format="PNG")
        with VideoWriter(video, audio, size=first.shape[:2]) as writer:
            writer.write(first)
            for frame in frames:
                writer.write(frame)
    return ReferenceClip(entry.video_id, entry.n_frames, video, portrait, audio, resumed)
