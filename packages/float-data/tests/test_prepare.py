"""``prepare`` end to end on real footage: crops, 25 fps / 16 kHz alignment, splits, failures, resuming, and
the scaled-out runs (worker processes, shards joined by merge) giving the same files as one process."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import datasets
import numpy as np
import pytest
from typer.testing import CliRunner

from float_data import (
    DlibDetector,
    PrepareConfig,
    PreparedDataset,
    ShardSpec,
    decode_image,
    detect_faces,
    merge_shards,
    prepare_dataset,
    shard_of,
)
from float_data.cli import app

CONFIG = PrepareConfig(
    crop_size=96,
    detect_every=5,
    smooth_window=9,
    val_fraction=0.3,
    test_fraction=0.3,
    speaker_pattern=r"^(?P<speaker>[^/]+)/",
)
CLI_OPTIONS = [
    "--crop-size",
    "96",
    "--detect-every",
    "5",
    "--smooth-window",
    "9",
    "--val-fraction",
    "0.3",
    "--test-fraction",
    "0.3",
    "--speaker-pattern",
    r"^(?P<speaker>[^/]+)/",
]
EXPECTED_FAILURES = {
    "bad/corrupt.mp4": "unreadable",
    "bad/noaudio.mp4": "no_audio",
    "bad/noface.mp4": "no_face",
    "bad/zero.avi": "zero_frames",
    "bad/garbage.mkv": "unreadable",
}


@pytest.fixture(scope="module")
def source_dir(
    tmp_path_factory,
    make_clip,
    run_ffmpeg,
    make_zero_frame_video,
    carphone_mp4: Path,
    espeak_wav: Path,
    noise_png: Path,
):
    """Three speakers (astronaut clips, carphone with espeak-ng speech muxed in) plus five bad files."""
    root = tmp_path_factory.mktemp("videos")
    make_clip(root / "astro" / "take1.mp4", seconds=2.0, fps=30, size=96)
    make_clip(root / "astro" / "take2.mkv", seconds=1.5, fps=24, size=128, audio=espeak_wav)
    run_ffmpeg(
        "-i",
        str(carphone_mp4),
        "-i",
        str(espeak_wav),
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-c:v",
        "copy",
        "-c:a",
        "aac",
        "-shortest",
        str((root / "car").mkdir() or root / "car" / "carphone.mp4"),
    )
    make_clip(root / "astro2" / "slow.mov", seconds=1.0, fps=12, size=64)
    good = root / "astro" / "take1.mp4"
    (root / "bad").mkdir()
    (root / "bad" / "corrupt.mp4").write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    (root / "bad" / "garbage.mkv").write_bytes(b"\x1a\x45\xdf\xa3" + os.urandom(3000))
    make_clip(root / "bad" / "noaudio.mp4", seconds=1.0, size=64, audio=None)
    make_clip(root / "bad" / "noface.mp4", seconds=1.0, size=64, image=noise_png)
    make_zero_frame_video(root / "bad" / "zero.avi")
    (root / "notes.txt").write_text("not a video")
    return root


@pytest.fixture(scope="module")
def prepared(source_dir: Path, tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("prepared")
    report = prepare_dataset(source_dir, out, CONFIG)
    return out, report


def _tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every output file except the log (which has timestamps) and caches."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "prepare.log" and ".hf_cache" not in p.parts
    }


def test_manifest_and_failures(prepared, source_dir: Path) -> None:
    out, report = prepared
    ids = [e.video_id for e in report.entries]
    assert ids == ["astro2__slow", "astro__take1", "astro__take2", "car__carphone"]
    assert {f.source_path: f.reason for f in report.failures} == EXPECTED_FAILURES
    for failure in report.failures:
        assert failure.detail and len(failure.sha256) == 64
    log = (out / "prepare.log").read_text()
    assert "bad/noface.mp4: skipped: no_face" in log and "bad/corrupt.mp4: skipped: unreadable" in log
    manifest = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert [m["video_id"] for m in manifest] == ids
    by_id = {e.video_id: e for e in report.entries}
    car = by_id["car__carphone"]
    assert car.source_path == "car/carphone.mp4" and abs(car.source_fps - 29.97) < 0.01
    assert car.sha256 == hashlib.sha256((source_dir / "car" / "carphone.mp4").read_bytes()).hexdigest()
    assert car.detector == "dlib" and car.has_landmarks and car.face_fraction == 1.0
    # speakers never straddle splits; the split is a pure function of the speaker id
    assert by_id["astro__take1"].split == by_id["astro__take2"].split
    for entry in report.entries:
        assert entry.n_samples == entry.n_frames * 640
        assert len(entry.crop_box) == 3 and entry.crop_size == 96


def test_frame_counts_match_durations(prepared, source_dir: Path, ffprobe_video_seconds) -> None:
    _, report = prepared
    for entry in report.entries:
        seconds = ffprobe_video_seconds(source_dir / entry.source_path)
        assert abs(entry.n_frames - seconds * 25) <= 1, (entry.video_id, entry.n_frames, seconds)


def test_tables_crops_landmarks_and_audio(prepared) -> None:
    out, report = prepared
    data = PreparedDataset(out)
    detector = DlibDetector()
    for split in sorted({e.split for e in report.entries}):
        frames = data.frames(split)
        videos = data.videos(split)
        entries = data.videos_in(split)
        assert len(frames) == sum(e.n_frames for e in entries)
        for entry, (start, count) in zip(entries, data.frame_ranges(split).values(), strict=True):
            rows = frames.select(range(start, start + count))
            assert rows["video_id"] == [entry.video_id] * count
            assert rows["frame_index"] == list(range(count))
            crop = np.asarray(rows[count // 2]["image"])
            assert crop.shape == (96, 96, 3)
            faces = detect_faces(detector, crop)
            assert faces, f"no face in the crop of {entry.video_id}"
            x0, y0, x1, y1 = faces[0].box
            assert abs((x0 + x1) / 2 - 48) < 12 and abs((y0 + y1) / 2 - 48) < 12  # centred
            assert 0.4 * 96 < x1 - x0 < 0.8 * 96  # the face box is ~1 / 1.6 of the crop side
            landmarks = np.array(rows[count // 2]["landmarks"]).reshape(68, 2)
            assert (landmarks > 0).all() and (landmarks < 96).all()
            assert rows[0]["mouth_aperture"] is not None
        for row in videos:
            entry = next(e for e in entries if e.video_id == row["video_id"])
            assert len(row["audio"]) == entry.n_frames * 640 and row["sample_rate"] == 16000
            assert np.abs(np.array(row["audio"])).max() > 0.05
    # the carphone crop follows the face: its crop box moves less than the raw detections do
    car = next(e for e in report.entries if e.video_id == "car__carphone")
    table = data.frames(car.split)
    start, count = data.frame_ranges(car.split)[car.video_id]
    boxes = np.array(table.select(range(start, start + count))["crop_box"])
    assert np.abs(np.diff(boxes[:, 0])).max() < 2.0


def test_loads_with_hugging_face_datasets(prepared, tmp_path: Path) -> None:
    out, report = prepared
    split = report.entries[0].split
    frames = datasets.load_dataset(str(out), "frames", split=split, cache_dir=str(tmp_path))
    assert frames.features["image"] == datasets.Image()
    assert len(frames) == sum(e.n_frames for e in report.entries if e.split == split)
    streamed = next(iter(PreparedDataset(out).frames_stream(split)))
    assert decode_image(streamed["image"]).shape == (96, 96, 3)


def test_rerun_skips_finished_videos_and_config_must_match(prepared, source_dir: Path) -> None:
    out, _ = prepared
    before = _tree_digest(out)
    leftover = next((out / "data" / "frames").rglob("*.parquet")).with_suffix(".parquet.tmp")
    leftover.write_bytes(b"half-written shard of a killed run")
    again = prepare_dataset(source_dir, out, CONFIG)
    assert not leftover.exists()
    assert again.processed == [] and len(again.resumed) == 9
    assert _tree_digest(out) == before
    with pytest.raises(ValueError, match="different settings"):
        prepare_dataset(source_dir, out, CONFIG.model_copy(update={"crop_size": 64}))


@pytest.mark.slow
def test_killed_run_resumes_to_identical_dataset(prepared, source_dir: Path, tmp_path: Path) -> None:
    """SIGKILL the CLI after its first finished video; the rerun gives byte-identical files."""
    out, _ = prepared
    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "float_data", "prepare", str(source_dir), str(killed), *CLI_OPTIONS]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if list((killed / "state").glob("*.json")):
            break
        time.sleep(0.005)
    assert process.poll() is None, "the run finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = len(list((killed / "state").glob("*.json")))
    assert 1 <= finished < 9 and not (killed / "manifest.jsonl").exists()
    rerun = subprocess.run(command, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert "resumed" in rerun.stdout and "4 videos" in rerun.stdout
    assert _tree_digest(killed) == _tree_digest(out)


def test_two_workers_give_the_files_of_one(prepared, source_dir: Path, tmp_path: Path) -> None:
    out, report = prepared
    seen: list[tuple[str, str]] = []
    parallel = prepare_dataset(
        source_dir, tmp_path / "two", CONFIG, workers=2, on_video=lambda v, s: seen.append((v, s))
    )
    good = {e.video_id for e in report.entries}
    assert sorted(seen) == sorted((v, "done" if v in good else "failed") for v in report.processed)
    assert parallel.processed == report.processed and parallel.entries == report.entries
    assert _tree_digest(tmp_path / "two") == _tree_digest(out)


def test_three_shards_merge_into_the_single_run(prepared, source_dir: Path, tmp_path: Path) -> None:
    """Each shard prepares the videos whose id hashes to it; merge gives the single run's files exactly."""
    out, report = prepared
    ids = [*(e.video_id for e in report.entries), "bad__corrupt", "bad__garbage", "bad__noaudio"]
    ids += ["bad__noface", "bad__zero"]
    owners = {shard_of(video_id, 3) for video_id in ids}
    assert owners == {0, 1, 2}  # every shard has work (shard 0 only a failing video)
    shards = [tmp_path / f"shard{i}" for i in range(3)]
    done: list[str] = []
    for i, folder in enumerate(shards):
        part = prepare_dataset(source_dir, folder, CONFIG, shard=ShardSpec(i, 3))
        assert all(shard_of(v, 3) == i for v in part.processed)
        done += part.processed
        marker = json.loads((folder / "shard.json").read_text())
        assert marker["index"] == i and marker["n_listed"] == 9 and marker["videos"] == sorted(part.processed)
    assert sorted(done) == sorted(ids)  # disjoint and complete
    # a shard's entries keep the split of the single run (split is a function of the path alone)
    splits = {e.video_id: e.split for e in report.entries}
    for folder in shards:
        for entry in PreparedDataset(folder).entries:
            assert entry.split == splits[entry.video_id]

    with pytest.raises(ValueError, match="each of the shards"):
        merge_shards(shards[:2], tmp_path / "partial")
    with pytest.raises(ValueError, match="holds shard 1/3"):
        prepare_dataset(source_dir, shards[1], CONFIG, shard=ShardSpec(0, 3))
    with pytest.raises(ValueError, match="holds shard 2/3"):
        prepare_dataset(source_dir, shards[2], CONFIG)
    with pytest.raises(ValueError, match="single-machine run"):
        prepare_dataset(source_dir, out, CONFIG, shard=ShardSpec(0, 3))

    result = CliRunner().invoke(
        app, ["merge", *map(str, reversed(shards)), "--out", str(tmp_path / "merged")]
    )
    assert result.exit_code == 0, result.output
    assert "4 videos (" in result.output and "5 skipped" in result.output
    assert _tree_digest(tmp_path / "merged") == _tree_digest(out)
    assert "# shard 0/3" in (tmp_path / "merged" / "prepare.log").read_text()
    # merging again (e.g. after a killed merge) places nothing new and changes nothing
    again = merge_shards(shards, tmp_path / "merged", link=True)
    assert again.copied == 0 and _tree_digest(tmp_path / "merged") == _tree_digest(out)
    linked = merge_shards(shards, tmp_path / "linked", link=True)
    assert linked.copied > 0 and _tree_digest(tmp_path / "linked") == _tree_digest(out)

    # an unfinished shard is refused with what to do
    next((shards[1] / "state").glob("*.json")).unlink()
    refused = CliRunner().invoke(app, ["merge", *map(str, shards), "-o", str(tmp_path / "refused")])
    assert refused.exit_code == 2 and "unfinished" in refused.output and "rerun" in refused.output
    assert not (tmp_path / "refused").exists()


def _children(pid: int) -> list[int]:
    """Live spawned worker processes of ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] not in "ZX" and b"spawn_main" in cmdline:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in "ZX"


@pytest.mark.slow
@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc; workers die with the parent on Linux"
)
def test_killed_parallel_run_resumes_without_redoing_videos(
    prepared, source_dir: Path, tmp_path: Path
) -> None:
    """SIGKILL a ``--workers 2`` run after its first finished video: its workers die with it, and the rerun
    keeps the finished videos' files (same inode, same mtime) and ends with the single run's files."""
    out, _ = prepared
    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "float_data", "prepare", str(source_dir), str(killed), *CLI_OPTIONS]
    process = subprocess.Popen(
        [*command, "--workers", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if list((killed / "state").glob("*.json")):
            break
        time.sleep(0.005)
    assert process.poll() is None, "the run finished before it could be killed"
    workers = _children(process.pid)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert len(workers) == 2
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(w) for w in workers), "worker processes outlived the killed run"
    finished = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (killed / "state").glob("*.json")}
    assert 1 <= len(finished) < 9 and not (killed / "manifest.jsonl").exists()
    rerun = subprocess.run([*command, "--workers", "2"], capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    for name, stamp in finished.items():
        assert f"resumed  {name.removesuffix('.json')}" in rerun.stdout
        path = killed / "state" / name
        assert (path.stat().st_ino, path.stat().st_mtime_ns) == stamp, f"{name} was redone"
    assert rerun.stdout.count("resumed") == len(finished) and "4 videos" in rerun.stdout
    assert _tree_digest(killed) == _tree_digest(out)
