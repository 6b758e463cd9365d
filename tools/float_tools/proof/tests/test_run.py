"""The proof command end to end on a tiny random bundle (fields and plumbing, not the thresholds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from float_data import DlibDetector, PrepareConfig, detect_faces, prepare_dataset, read_video
from float_tools.proof.crop_scale import clip_ratios
from float_tools.proof.crop_scale import main as crop_scale_main
from float_tools.proof.run import AVERAGED_SCORES, Thresholds, check, format_table, main, prepared_crop


def test_proof_command_reports_every_field(
    tiny_bundle: Path, two_clip_corpus: Path, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "report.json"
    status = main(
        ["--bundle", str(tiny_bundle), "--corpus", str(two_clip_corpus), "--clips", "2", "--out", str(out)]
    )
    report = json.loads(out.read_text())
    # A random bundle renders no face: r is undefined (None), the AE gate fails, so the command exits 1.
    assert status == 1
    assert [c["shuffled_audio_from"] for c in report["clips"]] == ["clip_00001.mp4", "clip_00000.mp4"]
    manifest = json.loads((two_clip_corpus / "manifest.json").read_text())["clips"]
    for clip, entry in zip(report["clips"], manifest, strict=True):
        assert clip["n_frames"] == entry["n_frames"]
        assert set(clip) >= set(AVERAGED_SCORES)
        assert 5.0 < clip["ae_psnr"] < 60.0 and 5.0 < clip["ae_copy_psnr"] < 60.0
        assert 5.0 < clip["ae_psnr_pipeline_crop"] < 60.0 and 5.0 < clip["ae_self_psnr"] < 60.0
    assert set(report["mean"]) == {*AVERAGED_SCORES, "gap", "gap_speech"}
    assert report["thresholds"] == {"min_r": 0.6, "min_gap": 0.4, "min_psnr": 28.0}
    assert report["passed"]["AE PSNR >= 28.0 dB"] is False
    printed = capsys.readouterr().out
    assert "clip_00000" in printed and "FAIL  AE PSNR >= 28.0 dB" in printed


def test_gates_and_table_on_a_known_report() -> None:
    clip = {
        "video": "clip_00000.mp4",
        "shuffled_audio_from": "clip_00001.mp4",
        "n_frames": 80,
        "r_true": 0.8,
        "r_shuffled": 0.3,
        "r_true_speech": 0.7,
        "r_shuffled_speech": 0.0,
        "ae_psnr": 30.0,
        "ae_copy_psnr": 22.0,
        "ae_self_psnr": 34.25,
        "ae_psnr_pipeline_crop": 26.5,
        "missed_detections": 0,
    }
    mean = {
        "r_true": 0.8,
        "r_shuffled": 0.3,
        "r_true_speech": 0.7,
        "r_shuffled_speech": 0.0,
        "ae_psnr": 30.0,
        "ae_copy_psnr": 22.0,
        "ae_self_psnr": 34.25,
        "ae_psnr_pipeline_crop": 26.5,
        "gap": 0.5,
        "gap_speech": 0.7,
    }
    report = {"clips": [clip], "mean": mean}
    assert all(check(report, Thresholds()).values())
    strict = check(report, Thresholds(min_r=0.9, min_gap=0.6, min_psnr=31))
    assert not any(strict.values())
    table = format_table(report, strict)
    assert "0.800" in table and "30.00" in table and "26.50" in table and "34.25" in table
    assert "FAIL  r_true >= 0.9" in table
    assert check({"mean": mean | {"r_true": None}}, Thresholds())["r_true >= 0.6"] is False


def test_bad_corpus_exits_2(tiny_bundle: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["--bundle", str(tiny_bundle), "--corpus", str(tmp_path)]) == 2
    assert "manifest.json is missing" in capsys.readouterr().err


@pytest.mark.parametrize("clips", ["1"])
def test_one_clip_is_refused(tiny_bundle: Path, two_clip_corpus: Path, clips: str, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["--bundle", str(tiny_bundle), "--corpus", str(two_clip_corpus), "--clips", clips]) == 2
    assert "at least 2" in capsys.readouterr().err


def test_ae_psnr_crops_held_out_clips_as_float_data_prepares_training_clips(
    two_clip_corpus: Path, tmp_path: Path
) -> None:
    """The gated AE PSNR reads each clip through the crop `float-data prepare --track-mode fixed` gives it."""
    config = PrepareConfig(
        crop_size=32, detector="dlib", landmarks=False, track_mode="fixed", val_fraction=0, test_fraction=0
    )
    prepare_dataset(two_clip_corpus, tmp_path / "prepared", config)
    manifest = (tmp_path / "prepared" / "manifest.jsonl").read_text()
    entries = [json.loads(line) for line in manifest.splitlines()]
    assert len(entries) == 2
    detector = DlibDetector(landmarks=False)
    expected_ratios = []
    for entry in entries:
        frames = read_video(two_clip_corpus / entry["source_path"])
        box = prepared_crop(frames, detector)
        assert [box.cx, box.cy, box.half] == pytest.approx(entry["crop_box"], abs=1e-6)
        x0, y0, x1, y1 = detect_faces(detector, frames[0])[0].box
        expected_ratios.append(entry["crop_box"][2] / (max(x1 - x0, y1 - y0) / 2))
    # proof.crop_scale: the training crop's half-side over frame 0's face half-size, per clip.
    ratios = clip_ratios(tmp_path / "prepared", two_clip_corpus, phases=1)
    assert ratios == pytest.approx(expected_ratios) and all(1.4 < r < 2.5 for r in ratios)
    assert crop_scale_main(["--set", f"{tmp_path / 'prepared'}={two_clip_corpus}", "--phases", "1"]) == 0
    assert crop_scale_main(["--set", str(tmp_path / "prepared")]) == 2


def test_a_clip_without_a_face_is_skipped_not_fatal(
    tiny_bundle: Path, two_clip_corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A detector miss in one clip (here: frame 0's face, faked) is reported; the other clips are scored."""
    from float_tools.proof import run as proof_run

    real = proof_run.ae_psnr
    calls = []

    def first_clip_has_no_face(pipe, frames):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("the dlib detector finds no face in the sampled frames of a corpus clip")
        return real(pipe, frames)

    monkeypatch.setattr(proof_run, "ae_psnr", first_clip_has_no_face)
    report = proof_run.run_proof(tiny_bundle, two_clip_corpus, 2, log=lambda *_: None)
    assert [c["video"] for c in report["clips"]] == ["clip_00001.mp4"]
    assert report["skipped"] == [
        "clip_00000.mp4: the dlib detector finds no face in the sampled frames of a corpus clip"
    ]
    assert "skipped (no face found): clip_00000.mp4" in format_table(report, check(report, Thresholds()))
