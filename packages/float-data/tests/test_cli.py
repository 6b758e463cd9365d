"""The ``float-data`` command line: prepare, info, and its error messages."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from float_data import PreparedDataset
from float_data.cli import app

runner = CliRunner()


def test_prepare_and_info(make_clip, tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_clip(src / "speaker_a" / "clip.webm", seconds=1.0, fps=30, size=64)
    make_clip(src / "speaker_b" / "silent.mp4", seconds=1.0, fps=30, size=64, audio=None)
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        ["prepare", str(src), str(out), "--crop-size", "48", "--val-fraction", "0", "--test-fraction", "0"],
    )
    assert result.exit_code == 0, result.output
    assert "done     speaker_a__clip" in result.output
    assert "1 videos (25 frames)" in result.output
    assert "skipped  speaker_b/silent.mp4: no_audio" in result.output
    info = runner.invoke(app, ["info", str(out)])
    assert info.exit_code == 0 and "train      1 videos        25 frames       1.0 s" in info.output
    # --no-audio-ok keeps silent videos (with a silent track); --no-landmarks skips the landmark model
    options = [
        "--crop-size",
        "48",
        "--no-audio-ok",
        "--no-landmarks",
        "--val-fraction",
        "0",
        "--test-fraction",
        "0",
    ]
    kept = runner.invoke(app, ["prepare", str(src), str(tmp_path / "out2"), *options])
    assert kept.exit_code == 0 and "2 videos (50 frames)" in kept.output
    data = PreparedDataset(tmp_path / "out2")
    assert [e.has_landmarks for e in data.entries] == [False, False]
    assert [e.has_audio for e in data.entries] == [True, False]
    row = data.frames("train")[0]
    assert row["landmarks"] == [] and row["mouth_aperture"] is None
    silent = data.videos("train")[1]
    assert silent["video_id"] == "speaker_b__silent" and not any(silent["audio"])


def test_errors_name_the_problem(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["prepare", str(tmp_path / "nope"), str(tmp_path / "out")])
    assert missing.exit_code == 2 and "nope does not exist" in missing.output
    bad = runner.invoke(app, ["prepare", str(tmp_path), str(tmp_path / "o"), "--track-mode", "wobble"])
    assert bad.exit_code == 2 and "track_mode" in bad.output
    info = runner.invoke(app, ["info", str(tmp_path)])
    assert info.exit_code == 2 and "float-data prepare" in info.output
