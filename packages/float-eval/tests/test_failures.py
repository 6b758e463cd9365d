"""Point 2 of #28: runs that measure nothing fail loudly; pairing options; mismatches and LSE reasons."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fe_standins import Detector, FrameCount, components, write_mp4
from typer.testing import CliRunner

from float_eval import Components, EvalConfig, evaluate, register_metric
from float_eval.cli import app
from float_eval.registry import unregister_metric


@pytest.fixture
def frame_count() -> object:
    register_metric("frame_count", FrameCount)
    yield FrameCount
    unregister_metric("frame_count")


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["run", *args, "--no-progress"])
    return result.exit_code, result.output


def test_nothing_paired_exits_1_unless_allowed(
    folders: tuple[Path, Path, Path], tmp_path: Path, frame_count: object
) -> None:
    gen, ref, _ = folders
    other = tmp_path / "other"
    other.mkdir()
    write_mp4(other / "zzz.mp4", np.zeros((5, 16, 16, 3), np.uint8), 25)
    args = ["--generated", str(other), "--reference", str(ref), "--metrics", "frame_count"]
    code, output = _run(*args, "--out", str(tmp_path / "r.json"))
    assert code == 1
    assert "0 pairs scored (5 unpaired videos)" in output
    assert "4  unpaired reference" in output and "1  unpaired generated" in output
    assert "no number for frame_count" in output and "--allow-empty" in output
    code, output = _run(*args, "--out", str(tmp_path / "r.json"), "--allow-empty")
    assert code == 0 and (tmp_path / "r.csv").is_file()
    # The ordinary run: three pairs, exit 0, problem counts printed.
    args = ["--generated", str(gen), "--reference", str(ref), "--metrics", "frame_count"]
    code, output = _run(*args, "--out", str(tmp_path / "ok.json"))
    assert code == 0, output
    assert "3 pairs scored (1 unpaired videos)" in output and "mismatched frame count" in output


def test_empty_metrics_are_refused(folders: tuple[Path, Path, Path], tmp_path: Path) -> None:
    gen, ref, _ = folders
    args = ["--generated", str(gen), "--reference", str(ref), "--metrics", " "]
    code, output = _run(*args, "--out", str(tmp_path / "r.json"))
    assert code == 2 and "--metrics" in output and "no metric named" in output
    with pytest.raises(ValueError, match="no metric named"):
        EvalConfig(generated=gen, reference=ref, metrics=[])


def test_pairing_by_pattern_and_by_file(tmp_path: Path, frame_count: object) -> None:
    gen, ref = tmp_path / "gen", tmp_path / "ref"
    gen.mkdir(), ref.mkdir()
    frames = np.full((6, 16, 16, 3), 100, np.uint8)
    for name in ("a", "b", "c"):
        write_mp4(ref / f"{name}.mp4", frames, 25)
    for name in ("a_generated", "b_generated", "x"):
        write_mp4(gen / f"{name}.mp4", frames, 25)
    config = EvalConfig(
        generated=gen, reference=ref, metrics=["frame_count"], pair_pattern="{stem}_generated"
    )
    report = evaluate(config, progress=False)
    by_name = {v.name: v for v in report.per_video}
    assert report.pairs_scored == 2 and by_name["a"].generated_name == "a_generated"
    assert by_name["c"].problems == ["no generated video named 'c_generated'"]
    assert "under the pattern '{stem}_generated'" in by_name["x"].problems[0]

    mapping = tmp_path / "pairs.csv"
    mapping.write_text("generated,reference\nx,c\na_generated,a\nmissing,b\n")
    report = evaluate(config.model_copy(update={"pair_pattern": None, "pair_map": mapping}), progress=False)
    by_name = {v.name: v for v in report.per_video}
    assert report.pairs_scored == 2 and by_name["c"].generated_name == "x"
    assert "names generated video 'missing'" in by_name["b"].problems[0]
    assert by_name["b_generated"].problems == ["not in the pairing file"]
    (tmp_path / "pairs.json").write_text(json.dumps({"x": "a", "a_generated": "a"}))
    with pytest.raises(ValueError, match="reference 'a' is paired with 'x' and 'a_generated'"):
        evaluate(config.model_copy(update={"pair_pattern": None, "pair_map": tmp_path / "pairs.json"}))
    with pytest.raises(ValueError, match=r"\{stem\} exactly once"):
        EvalConfig(generated=gen, reference=ref, pair_pattern="generated")


def test_frame_count_and_resolution_mismatches_are_reported_per_pair(
    folders: tuple[Path, Path, Path], frame_count: object
) -> None:
    gen, ref, _ = folders
    write_mp4(gen / "e.mp4", np.full((8, 32, 48, 3), 90, np.uint8), 25)
    write_mp4(ref / "e.mp4", np.full((8, 32, 32, 3), 90, np.uint8), 25)
    report = evaluate(EvalConfig(generated=gen, reference=ref, metrics=["frame_count"]), progress=False)
    by_name = {v.name: v for v in report.per_video}
    assert "frame counts differ: generated 12, reference 40 (at 25 fps)" in by_name["b"].problems
    assert by_name["e"].problems == ["resolutions differ: generated 48x32, reference 32x32"]
    assert by_name["e"].size_generated == [32, 48] and by_name["a"].problems == []
    assert report.problem_counts["mismatched frame count"] == 1
    assert report.problem_counts["mismatched resolution"] == 1


def test_lse_says_why_a_clip_has_no_score(folders: tuple[Path, Path, Path]) -> None:
    gen, ref, src = folders
    # Default --lse-min-track 100: the 12- to 40-frame clips are too short, and the message names the option.
    config = EvalConfig(generated=gen, reference=ref, sources=src, metrics=["lse"])
    report = evaluate(config, components(), progress=False)
    by_name = {v.name: v for v in report.per_video}
    assert any("--lse-min-track 100" in p and "40 frames (1.6 s)" in p for p in by_name["a"].problems)
    assert report.problem_counts["too short for lse (--lse-min-track)"] == 3

    class TooSmall(Detector):
        def detect(self, image: np.ndarray) -> list:
            raise ValueError("S3FD needs frames of at least 128 px at scale 0.25; got 32x32")

    stand_ins = {**components(), "lse_detector": TooSmall()}
    config = config.model_copy(update={"lse_min_track": 5})
    report = evaluate(config, Components(random_weights=True, **stand_ins), progress=False)
    assert report.problem_counts["frames too small for the face detector (lse)"] == 3
    assert "no face track (lse)" not in report.problem_counts


def test_out_is_checked_before_any_scoring(tmp_path: Path) -> None:
    """#29 item 4: an --out the reports cannot go to is refused first (the video folders do not even exist
    here: the message about --out proves it is checked before anything is read or scored)."""
    a_file = tmp_path / "results"
    a_file.write_text("not a folder")
    a_folder = tmp_path / "folder"
    a_folder.mkdir()
    nowhere = ["--generated", str(tmp_path / "gen"), "--reference", str(tmp_path / "ref")]
    for out, fragment in (
        (a_file / "r.json", "cannot be created or written to"),
        (a_folder, "is a folder"),
    ):
        code, output = _run(*nowhere, "--out", str(out))
        assert code == 2 and fragment in output and "--out" in output, output
    result = CliRunner().invoke(app, ["merge", str(tmp_path / "none.npz"), "--out", str(a_folder)])
    assert result.exit_code == 2 and "is a folder" in result.output


def test_out_in_a_missing_folder_is_created_and_written(
    folders: tuple[Path, Path, Path], tmp_path: Path, frame_count: object
) -> None:
    gen, ref, _ = folders
    out = tmp_path / "new" / "deeper" / "r.json"
    code, output = _run(
        "--generated", str(gen), "--reference", str(ref), "--metrics", "frame_count", "--out", str(out)
    )
    assert code == 0, output
    assert out.is_file() and out.with_suffix(".md").is_file() and out.with_suffix(".csv").is_file()


def test_a_file_given_as_a_video_folder_is_named_as_such(tmp_path: Path) -> None:
    """#29 item 10: a file passed as --generated was reported as a folder that "does not exist"."""
    a_file = tmp_path / "gen.mp4"
    a_file.write_bytes(b"")
    code, output = _run(
        "--generated", str(a_file), "--reference", str(tmp_path), "--out", str(tmp_path / "r.json")
    )
    assert code == 2 and "is a file, not a folder" in output and "does not exist" not in output
