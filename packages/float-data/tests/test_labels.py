"""Emotion labels from the dataset: RAVDESS names and labels files -> stored per video -> stage-2 windows."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch
from typer.testing import CliRunner

from float_data import (
    EMOTIONS,
    MotionWindows,
    MotionWindowStream,
    PrepareConfig,
    PreparedDataset,
    build_motion_cache,
    parse_ravdess_name,
    prepare_dataset,
    read_labels_file,
)
from float_data.cli import app
from float_data.labels import emotion_vector, one_hot

CONFIG = PrepareConfig(
    crop_size=32, detect_every=10, smooth_window=5, val_fraction=0.0, test_fraction=0.0, landmarks=False
)
HAPPY = "Actor_01/01-01-03-02-01-01-01.mp4"  # audio-video, speech, happy, strong, statement 1, rep 1, actor 1
CALM = "Actor_02/01-01-02-01-02-02-02.mp4"  # calm: FLOAT has no calm class -> neutral
OTHER = "extra/interview.mp4"  # not a RAVDESS name: no label from names


def test_ravdess_names_map_onto_float_classes() -> None:
    assert EMOTIONS == ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
    name = parse_ravdess_name("Actor_12/02-01-06-01-02-01-12.mp4")
    assert (name.modality, name.vocal_channel, name.emotion, name.intensity) == (2, 1, "fearful", 1)
    assert (name.statement, name.repetition, name.actor, name.float_emotion) == (2, 1, 12, "fear")
    expected = ["neutral", "neutral", "happy", "sad", "angry", "fear", "disgust", "surprise"]
    for code, float_name in enumerate(expected, start=1):
        vector = one_hot(parse_ravdess_name(f"01-01-{code:02d}-01-01-01-01.mp4").float_emotion)
        assert vector == [1.0 if e == float_name else 0.0 for e in EMOTIONS]
    for bad in (
        "interview.mp4",
        "01-01-09-01-01-01-01.mp4",
        "01-01-03-01-01-01-25.mp4",
        "04-01-03-01-01-01-01",
    ):
        with pytest.raises(ValueError, match="RAVDESS"):
            parse_ravdess_name(bad)


def test_emotion_vectors_and_labels_files(tmp_path: Path) -> None:
    assert emotion_vector("Surprised") == one_hot("surprise") and one_hot("anger") == one_hot("angry")
    assert emotion_vector([0, 0, 0, 2, 2, 0, 0]) == [0, 0, 0, 0.5, 0.5, 0, 0]
    for bad in (["x"], [1, 2], [-1, 1, 1, 1, 1, 1, 1], [0] * 7):
        with pytest.raises(ValueError):
            emotion_vector(bad)
    with pytest.raises(ValueError, match="unknown emotion"):
        one_hot("bored")
    csv_names = tmp_path / "names.csv"
    csv_names.write_text("source_path,emotion\na/x.mp4,sad\n")
    assert read_labels_file(csv_names) == {"a/x.mp4": one_hot("sad")}
    csv_probs = tmp_path / "probs.csv"
    csv_probs.write_text("video_id," + ",".join(EMOTIONS) + "\nclip,0.5,0,0,0,0.5,0,0\n")
    assert read_labels_file(csv_probs)["clip"] == [0.5, 0, 0, 0, 0.5, 0, 0]
    jsonl = tmp_path / "labels.jsonl"
    jsonl.write_text('{"video_id": "a", "emotion": "happy"}\n{"video_id": "b", "emotion": [1,1,0,0,0,0,0]}\n')
    assert read_labels_file(jsonl)["b"] == [0.5, 0.5, 0, 0, 0, 0, 0]
    twice = tmp_path / "twice.csv"
    twice.write_text("video_id,emotion\na,sad\na,happy\n")
    with pytest.raises(ValueError, match="labelled twice"):
        read_labels_file(twice)
    keyless = tmp_path / "keyless.csv"
    keyless.write_text("name,emotion\na,sad\n")
    with pytest.raises(ValueError, match="video_id"):
        read_labels_file(keyless)
    with pytest.raises(ValueError, match="labels_file"):
        PrepareConfig(labels="file")


@pytest.fixture(scope="module")
def ravdess_dir(tmp_path_factory, make_clip) -> Path:
    src = tmp_path_factory.mktemp("ravdess")
    for relative in (HAPPY, CALM, OTHER):
        make_clip(src / relative, seconds=2.6, fps=25, size=64)
    return src


def _digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and p.name != "prepare.log"
        and ".hf_cache" not in p.parts
        and p.suffix != ".safetensors"
    }


def _toy_encoders():
    def encode_motion(crops: torch.Tensor) -> torch.Tensor:  # [B, 3, S, S] -> [B, 3]
        return crops.mean(dim=(2, 3))

    def encode_audio(wav: torch.Tensor, frames: int) -> torch.Tensor:  # -> [T, 2]
        return wav[: frames * 640].reshape(frames, 640)[:, :2]

    return encode_motion, encode_audio


def test_ravdess_labels_are_stored_and_feed_stage_two_windows(ravdess_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = prepare_dataset(ravdess_dir, out, CONFIG.model_copy(update={"labels": "ravdess"}))
    by_id = {e.video_id: e for e in report.entries}
    happy, calm = "Actor_01__01-01-03-02-01-01-01", "Actor_02__01-01-02-01-02-02-02"
    assert by_id[happy].emotion == one_hot("happy") and by_id[calm].emotion == one_hot("neutral")
    assert by_id["extra__interview"].emotion is None
    assert "1 videos have no emotion label, e.g. extra/interview.mp4" in (out / "prepare.log").read_text()
    row = pq.read_table(out / "data" / "videos" / "train" / f"{happy}.parquet").to_pylist()[0]
    assert row["emotion"] == one_hot("happy")
    data = PreparedDataset(out)
    assert data.videos("train")["emotion"][2] is None  # the HF view has the column, None when unlabelled

    motion, audio = _toy_encoders()
    cache = tmp_path / "cache"
    build_motion_cache(data, cache, motion, audio, predict_emotion=None)  # no predictor needed
    with pytest.raises(ValueError, match=r"no emotion label .*extra__interview"):
        MotionWindows(data, cache, emotion="labels")
    # keep only the labelled videos: the trainer's view with labels instead of a predictor
    (out / "manifest.jsonl").write_text(
        "".join(json.dumps(e.model_dump(), sort_keys=True) + "\n" for e in report.entries if e.emotion)
    )
    data = PreparedDataset(out)
    windows = MotionWindows(data, cache, context=10, length=50, emotion="labels")
    assert len(windows) == 2
    for item in windows:
        want = one_hot("happy") if item["video_id"] == happy else one_hot("neutral")
        assert item["emotion"].dtype == torch.float32 and item["emotion"].tolist() == want
        assert item["motion"].shape == (60, 3) and item["audio"].shape == (60, 2)
    streamed = {
        item["video_id"]: item["emotion"].tolist()
        for item in MotionWindowStream(data, cache, emotion="labels")
    }
    assert streamed == {happy: one_hot("happy"), calm: one_hot("neutral")}
    with pytest.raises(ValueError, match="no predicted emotion"):
        MotionWindows(data, cache)[0]


def test_labels_file_relabels_without_redoing_crops(ravdess_dir: Path, tmp_path: Path) -> None:
    """A labels file (CLI) labels every video; changing it later rewrites only the videos rows, and the
    result equals a fresh run with the new labels."""
    labels = tmp_path / "labels.csv"
    labels.write_text(
        f"source_path,emotion\n{HAPPY},happy\n{CALM},calm\n{OTHER},angry\nmissing/clip.mp4,sad\n"
    )
    out = tmp_path / "out"
    options = ["--crop-size", "32", "--detect-every", "10", "--smooth-window", "5", "--no-landmarks"]
    options += ["--val-fraction", "0", "--test-fraction", "0", "--no-progress"]
    result = CliRunner().invoke(
        app, ["prepare", str(ravdess_dir), str(out), *options, "--labels-file", str(labels)]
    )
    assert result.exit_code == 0, result.output
    assert {e.video_id: e.emotion for e in PreparedDataset(out).entries}["extra__interview"] == one_hot(
        "angry"
    )
    assert "1 labels match no video, e.g. missing/clip.mp4" in (out / "prepare.log").read_text()
    frames_before = {p.name: p.stat().st_mtime_ns for p in (out / "data" / "frames").rglob("*.parquet")}

    labels.write_text(
        f"video_id,emotion\nextra__interview,sad\nActor_01__01-01-03-02-01-01-01,happy\n{CALM},calm\n"
    )
    config = CONFIG.model_copy(update={"labels": "file", "labels_file": str(labels)})
    again = prepare_dataset(ravdess_dir, out, config)
    assert again.relabelled == ["extra__interview"] and again.processed == [] and len(again.resumed) == 2
    assert {
        p.name: p.stat().st_mtime_ns for p in (out / "data" / "frames").rglob("*.parquet")
    } == frames_before
    fresh = tmp_path / "fresh"
    prepare_dataset(ravdess_dir, fresh, config)
    assert _digest(out) == _digest(fresh)
