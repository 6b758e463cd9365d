"""``prepare``: a folder of talking-head videos -> a sharded, resumable Hugging Face dataset.

Layout of ``out_dir``::

    data/frames/<split>/<video_id>.parquet   one shard per video (see :mod:`float_data.schema`)
    data/videos/<split>/<video_id>.parquet
    state/<video_id>.json                    written last: the video is finished (done or failed)
    manifest.jsonl  failures.jsonl  prepare_config.json  prepare.log  README.md (card; load_dataset reads it)
    shard.json                               only in the output of one shard (``shard=``), for merging

Resuming: a video whose state file matches its sha256 and the config fingerprint is not redone (a changed
emotion label only rewrites its videos row). Every file is written to ``*.tmp`` and renamed, so a killed run
leaves no half-written shard; a rerun yields byte-identical output to an uninterrupted run. A failing video is
logged with its :class:`FailureReason` and skipped. Videos are independent: ``workers`` processes each take
one video at a time (with their own detector), and the output does not depend on the number of workers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from float_data.config import PrepareConfig
from float_data.crop import crop_face
from float_data.detectors import FaceDetector, detect_faces, make_detector
from float_data.errors import FailureReason, VideoError
from float_data.files import atomic_write_text, load_json
from float_data.labels import resolve_emotions
from float_data.landmarks import mouth_aperture, to_crop_coordinates
from float_data.manifest import Failure, ManifestEntry
from float_data.schema import FRAMES_FEATURES, VIDEOS_FEATURES
from float_data.shards import ShardSpec, check_shard_marker, write_shard_marker
from float_data.splits import SPLITS, assign_split, speaker_id_for, video_id_for
from float_data.track import crop_track, follow_face, interpolate_boxes
from float_data.video import (
    VIDEO_EXTENSIONS,
    align_audio,
    iter_video_frames,
    probe_video,
    read_audio,
    video_start_time,
)
from float_data.workers import run_in_workers

logger = logging.getLogger("float_data")
_ROW_GROUP = 64


@dataclass
class PrepareReport:
    """What one ``prepare`` call did: video ids processed now, ids already finished before, ids whose emotion
    label changed (only their videos row was rewritten), failures (all)."""

    out_dir: Path
    processed: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    relabelled: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    entries: list[ManifestEntry] = field(default_factory=list)


def scan_videos(src_dir: str | Path) -> list[str]:
    """Video files under ``src_dir`` (recursive, hidden files skipped) as sorted posix relative paths."""
    root = Path(src_dir)
    if not root.is_dir():
        raise NotADirectoryError(f"source folder {root} does not exist or is not a folder")
    found = [
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in VIDEO_EXTENSIONS
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    ]
    return sorted(found)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _unique_ids(relative_paths: list[str]) -> dict[str, str]:
    ids = {rel: video_id_for(rel) for rel in relative_paths}
    counts: dict[str, int] = {}
    for vid in ids.values():
        counts[vid] = counts.get(vid, 0) + 1
    # a.mp4 and a.mkv would collide: keep the extension in both ids
    return {
        rel: (vid if counts[vid] == 1 else f"{vid}_{Path(rel).suffix.lstrip('.').lower()}")
        for rel, vid in ids.items()
    }


def _encode(image: np.ndarray, config: PrepareConfig) -> bytes:
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if config.image_format == "png":
        ok, buffer = cv2.imencode(".png", bgr)
    else:
        ok, buffer = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, config.jpeg_quality])
    if not ok:
        raise RuntimeError("OpenCV could not encode a crop")
    return buffer.tobytes()


class _ShardWriter:
    """Rows -> one Parquet file, row group by row group, renamed into place on close."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.tmp, self.schema = path, path.with_name(path.name + ".tmp"), schema
        self._writer = pq.ParquetWriter(self.tmp, schema)
        self._rows: list[dict] = []

    def add(self, row: dict) -> None:
        self._rows.append(row)
        if len(self._rows) >= _ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            self._writer.write_table(pa.Table.from_pylist(self._rows, schema=self.schema))
            self._rows = []

    def close(self) -> None:
        self._flush()
        self._writer.close()
        os.replace(self.tmp, self.path)


def _detect_track(path: Path, config: PrepareConfig, detector: FaceDetector) -> tuple[int, np.ndarray, float]:
    """Pass 1: count frames, detect on every ``detect_every``-th: (n, face boxes [n, 4], face fraction)."""
    sampled: list[int] = []
    detections = []
    n = 0
    for k, frame in enumerate(iter_video_frames(path, config.fps)):
        n = k + 1
        if k % config.detect_every == 0:
            sampled.append(k)
            detections.append(detect_faces(detector, frame, config.detect_height))
    chosen = follow_face(detections)
    found = {k: box for k, box in zip(sampled, chosen, strict=True) if box is not None}
    fraction = len(found) / max(1, len(sampled))
    if fraction < config.min_face_fraction:
        raise VideoError(
            FailureReason.NO_FACE,
            path,
            f"a face was found in {len(found)} of {len(sampled)} sampled frames (min_face_fraction "
            f"{config.min_face_fraction}); use footage with a visible frontal face or another detector",
        )
    return n, interpolate_boxes(found, n), fraction


def prepare_video(
    path: Path,
    relative: str,
    video_id: str,
    out_dir: Path,
    config: PrepareConfig,
    detector: FaceDetector,
    sha256: str,
    emotion: list[float] | None = None,
) -> ManifestEntry:
    """Process one video into its two shards and return its manifest entry (raises :class:`VideoError`).

    ``emotion``: the dataset's label for it (7 probabilities, see :mod:`float_data.labels`) or None."""
    info = probe_video(path)
    start = video_start_time(path)  # decodes one frame: zero-frame videos fail here, before audio checks
    track = None
    if config.require_audio or info.has_audio:
        track = read_audio(path, config.sample_rate)
    n, face_boxes, fraction = _detect_track(path, config, detector)
    crops = crop_track(face_boxes, config.crop_scale, config.track_mode, config.smooth_window)
    speaker = speaker_id_for(relative, config.speaker_pattern)
    split = assign_split(speaker, config.val_fraction, config.test_fraction, config.split_salt)
    use_landmarks = config.landmarks and detector.provides_landmarks

    for table in ("frames", "videos"):  # a video may have moved split since an earlier run
        for other in SPLITS:
            (out_dir / "data" / table / other / f"{video_id}.parquet").unlink(missing_ok=True)
    writer = _ShardWriter(
        out_dir / "data" / "frames" / split / f"{video_id}.parquet", FRAMES_FEATURES.arrow_schema
    )
    count = 0
    for k, frame in enumerate(iter_video_frames(path, config.fps)):
        if k >= n:
            break
        box = crops[k]
        points = detector.landmarks(frame, tuple(face_boxes[k])) if use_landmarks else None
        row_points: list[float] = []
        aperture = None
        if points is not None:
            local = to_crop_coordinates(points, box, config.crop_size)
            row_points = [float(v) for v in local.reshape(-1)]
            aperture = float(mouth_aperture(local))
        writer.add(
            {
                "video_id": video_id,
                "frame_index": k,
                "image": {"bytes": _encode(crop_face(frame, box, config.crop_size), config), "path": None},
                "crop_box": box.to_list(),
                "face_box": [float(v) for v in face_boxes[k]],
                "landmarks": row_points,
                "mouth_aperture": aperture,
            }
        )
        count += 1
    writer.close()
    if count != n:
        raise VideoError(
            FailureReason.DECODE_ERROR, path, f"second decoding pass gave {count} frames, not {n}"
        )

    start = video_start_time(path)
    audio = (
        align_audio(track, start, n, config.fps)
        if track is not None
        else np.zeros(round(n * config.sample_rate / config.fps), np.float32)
    )
    videos = _ShardWriter(
        out_dir / "data" / "videos" / split / f"{video_id}.parquet", VIDEOS_FEATURES.arrow_schema
    )
    videos.add(
        {
            "video_id": video_id,
            "speaker_id": speaker,
            "split": split,
            "n_frames": n,
            "fps": config.fps,
            "sample_rate": config.sample_rate,
            "audio": audio,
            "emotion": emotion,
        }
    )
    videos.close()
    median = np.median(np.array([c.to_list() for c in crops]), axis=0)
    return ManifestEntry(
        video_id=video_id,
        speaker_id=speaker,
        split=split,
        source_path=relative,
        sha256=sha256,
        source_fps=round(info.source_fps, 6),
        duration_s=round(n / config.fps, 6),
        width=info.width,
        height=info.height,
        fps=config.fps,
        n_frames=n,
        sample_rate=config.sample_rate,
        n_samples=int(audio.shape[0]),
        has_audio=track is not None,
        crop_box=[float(median[0]), float(median[1]), float(int(median[2]))],
        crop_size=config.crop_size,
        track_mode=config.track_mode,
        detector=detector.name,
        has_landmarks=use_landmarks,
        face_fraction=round(fraction, 6),
        emotion=emotion,
    )


def _dataset_card(entries: list[ManifestEntry], config: PrepareConfig) -> str:
    lines = ["---", "configs:"]
    for table in ("frames", "videos"):
        splits = sorted({e.split for e in entries}, key=SPLITS.index)
        if not splits:
            continue
        lines += [f"- config_name: {table}", "  data_files:"]
        for split in splits:
            lines += [f"  - split: {split}", f"    path: data/{table}/{split}/*.parquet"]
    if not entries:
        lines = ["---"]
    lines += ["---", "", "# Talking-head dataset prepared by float-data", ""]
    for split in SPLITS:
        chosen = [e for e in entries if e.split == split]
        frames = sum(e.n_frames for e in chosen)
        lines.append(f"- {split}: {len(chosen)} videos, {frames} frames at {config.fps:g} fps")
    lines += [
        "",
        f"Crops: {config.crop_size} px square, scale {config.crop_scale}, track {config.track_mode}.",
        f"Audio: {config.sample_rate} Hz mono float32, cut to the frames.",
        "Load: `datasets.load_dataset(<folder>, 'frames', split='train')` or `float_data.PreparedDataset`.",
        "",
    ]
    return "\n".join(lines)


def write_index(
    out: Path, entries: list[ManifestEntry], failures: list[Failure], config: PrepareConfig
) -> None:
    """Write ``manifest.jsonl`` (by video id), ``failures.jsonl`` (by source path) and the dataset card."""
    entries = sorted(entries, key=lambda e: e.video_id)
    failures = sorted(failures, key=lambda f: f.source_path)
    atomic_write_text(
        out / "manifest.jsonl", "".join(json.dumps(e.model_dump(), sort_keys=True) + "\n" for e in entries)
    )
    atomic_write_text(
        out / "failures.jsonl", "".join(json.dumps(f.model_dump(), sort_keys=True) + "\n" for f in failures)
    )
    atomic_write_text(out / "README.md", _dataset_card(entries, config))


@dataclass(frozen=True)
class VideoTask:
    """One video to prepare: its path relative to the source folder, its id and its emotion label."""

    relative: str
    video_id: str
    emotion: list[float] | None = None


@dataclass(frozen=True)
class VideoOutcome:
    """What became of a task: ``status`` done, failed, resumed or relabelled, and its ``prepare.log`` line."""

    video_id: str
    status: str
    message: str = ""
    warning: bool = False


class _VideoJob:
    """Everything a process needs to run tasks; the detector is built on first use (resumed videos need none,
    and each worker process builds its own)."""

    def __init__(
        self, src: Path, out: Path, config: PrepareConfig, retry_failed: bool, detector: FaceDetector | None
    ) -> None:
        self.src, self.out, self.config, self.retry_failed = src, out, config, retry_failed
        self.fingerprint = config.fingerprint()
        self._detector = detector

    def detector(self) -> FaceDetector:
        if self._detector is None:
            c = self.config
            self._detector = make_detector(c.detector, c.weights_dir, c.device, c.landmarks)
        return self._detector

    def __call__(self, task: VideoTask) -> VideoOutcome:
        path = self.src / task.relative
        state_path = self.out / "state" / f"{task.video_id}.json"
        digest = sha256_file(path)
        state = load_json(state_path) if state_path.is_file() else None
        if (
            state is not None
            and state.get("sha256") == digest
            and state.get("fingerprint") == self.fingerprint
            and (state["status"] == "done" or not self.retry_failed)
        ):
            if state["status"] == "done" and state["entry"].get("emotion") != task.emotion:
                entry = _relabel(self.out, ManifestEntry(**state["entry"]), task.emotion)
                record = {"status": "done", "entry": entry.model_dump(), "sha256": digest}
                record["fingerprint"] = self.fingerprint
                atomic_write_text(state_path, json.dumps(record, sort_keys=True) + "\n")
                return VideoOutcome(task.video_id, "relabelled", f"{task.relative}: new emotion label")
            return VideoOutcome(task.video_id, "resumed")
        try:
            detector = self.detector()
            entry = prepare_video(
                path, task.relative, task.video_id, self.out, self.config, detector, digest, task.emotion
            )
            record = {"status": "done", "entry": entry.model_dump()}
            message = f"{task.relative}: done ({entry.n_frames} frames, split {entry.split})"
            warning = False
        except VideoError as error:
            failure = Failure(
                source_path=task.relative, sha256=digest, reason=error.reason.value, detail=error.detail
            )
            record = {"status": "failed", "failure": failure.model_dump()}
            message = f"{task.relative}: skipped: {error.reason.value}: {error.detail}"
            warning = True
        record.update(sha256=digest, fingerprint=self.fingerprint)
        atomic_write_text(state_path, json.dumps(record, sort_keys=True) + "\n")
        return VideoOutcome(task.video_id, str(record["status"]), message, warning)


def _relabel(out: Path, entry: ManifestEntry, emotion: list[float] | None) -> ManifestEntry:
    """Rewrite the one row of a finished video's videos shard with a new emotion label (crops untouched)."""
    path = out / "data" / "videos" / entry.split / f"{entry.video_id}.parquet"
    row = pq.read_table(path).to_pylist()[0]
    row["emotion"] = emotion
    writer = _ShardWriter(path, VIDEOS_FEATURES.arrow_schema)
    writer.add(row)
    writer.close()
    return entry.model_copy(update={"emotion": emotion})


_WORKER_JOB: _VideoJob | None = None  # the job of this worker process (set by _start_worker)


def _start_worker(src: Path, out: Path, config: PrepareConfig, retry_failed: bool, detector: bytes) -> None:
    global _WORKER_JOB
    _WORKER_JOB = _VideoJob(src, out, config, retry_failed, pickle.loads(detector))


def _run_in_worker(task: VideoTask) -> VideoOutcome:
    assert _WORKER_JOB is not None, "worker started without _start_worker"
    return _WORKER_JOB(task)


def _check_config(out: Path, config: PrepareConfig) -> None:
    config_path = out / "prepare_config.json"
    if config_path.is_file():
        previous = PrepareConfig(**json.loads(config_path.read_text()))
        if previous.fingerprint() != config.fingerprint():
            raise ValueError(
                f"{out} was prepared with different settings ({config_path}); "
                "use a new output folder or the same settings to resume"
            )


def prepare_dataset(
    src_dir: str | Path,
    out_dir: str | Path,
    config: PrepareConfig | None = None,
    detector: FaceDetector | None = None,
    retry_failed: bool = False,
    on_video: Callable[[str, str], None] | None = None,
    workers: int = 1,
    shard: ShardSpec | None = None,
    progress: bool = False,
) -> PrepareReport:
    """Turn every video under ``src_dir`` into shards under ``out_dir`` (resumable; see module docstring).

    ``detector``: any :class:`FaceDetector`; default built from ``config.detector`` (with ``workers`` > 1 it
    must pickle: each worker gets a copy). ``on_video(video_id, status)`` is called after each video with
    ``done``, ``failed``, ``resumed`` or ``relabelled``, in completion order. ``workers``: processes preparing
    videos side by side (1 = this process). ``shard``: prepare only the videos of this shard (by a hash of
    the video id) for :func:`float_data.merge_shards`. ``progress``: a bar over the videos (stderr).
    """
    config = config or PrepareConfig()
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    src, out = Path(src_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _check_config(out, config)
    check_shard_marker(out, shard)
    atomic_write_text(out / "prepare_config.json", config.model_dump_json(indent=2) + "\n")
    # half-written files of a killed run; only our own folders (a user's HF cache may live under out_dir)
    for leftover in [*out.glob("*.tmp"), *(out / "data").rglob("*.tmp"), *(out / "state").glob("*.tmp")]:
        leftover.unlink()

    handler = logging.FileHandler(out / "prepare.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    report = PrepareReport(out_dir=out)
    try:
        relative_paths = scan_videos(src)
        ids = _unique_ids(relative_paths)
        emotions, unmatched = resolve_emotions(config.labels, config.labels_file, ids)
        if unmatched:
            logger.warning("%d labels match no video, e.g. %s", len(unmatched), ", ".join(unmatched[:5]))
        if shard is not None:
            relative_paths = write_shard_marker(out, shard, relative_paths, ids, config.fingerprint())
        tasks = [VideoTask(rel, ids[rel], emotions[ids[rel]]) for rel in relative_paths]
        unlabelled = [t.relative for t in tasks if t.emotion is None]
        if config.labels != "none" and unlabelled:
            examples = ", ".join(unlabelled[:5])
            logger.warning("%d videos have no emotion label, e.g. %s", len(unlabelled), examples)
        if workers == 1:
            job = _VideoJob(src, out, config, retry_failed, detector)
            outcomes: Iterator[VideoOutcome] = (job(task) for task in tasks)
        else:
            try:
                frozen = pickle.dumps(detector)
            except Exception as error:  # pickling fails with many types; all mean the same here
                raise ValueError(
                    f"detector {type(detector).__name__} cannot be copied into worker processes ({error}); "
                    "use workers=1 or let prepare build the detector from the config"
                ) from error
            init_args = (src, out, config, retry_failed, frozen)
            outcomes = run_in_workers(_run_in_worker, tasks, workers, _start_worker, init_args)
        statuses: dict[str, str] = {}
        with tqdm(total=len(tasks), unit="video", desc="prepare", disable=not progress) as bar:
            for outcome in outcomes:
                if outcome.message:
                    logger.log(logging.WARNING if outcome.warning else logging.INFO, "%s", outcome.message)
                statuses[outcome.video_id] = outcome.status
                if on_video:
                    on_video(outcome.video_id, outcome.status)
                bar.update()
        for task in tasks:  # the report lists videos in source order whatever order the workers finished in
            status = statuses[task.video_id]
            lists = {"resumed": report.resumed, "relabelled": report.relabelled}
            lists.get(status, report.processed).append(task.video_id)
            state = load_json(out / "state" / f"{task.video_id}.json") or {}
            if state.get("status") == "done":
                report.entries.append(ManifestEntry(**state["entry"]))
            elif state.get("status") == "failed":
                report.failures.append(Failure(**state["failure"]))
        report.entries.sort(key=lambda e: e.video_id)
        write_index(out, report.entries, report.failures, config)
    finally:
        logger.removeHandler(handler)
        handler.close()
    return report


def iter_states(out_dir: str | Path) -> Iterator[dict]:
    """Every finished-video record under ``out_dir/state`` (done and failed), sorted by file name."""
    for path in sorted((Path(out_dir) / "state").glob("*.json")):
        state = load_json(path)
        if state is not None:
            yield state
