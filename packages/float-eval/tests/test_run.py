"""`evaluate` on folders of tiny videos with stand-in networks: pairing, formats, problems, reports."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from fe_standins import Detector, components

from float_eval import ClipSampling, Components, EvalConfig, WeightsError, evaluate
from float_eval.nets import Face
from float_eval.ops import ARCFACE_TEMPLATE
from float_eval.video import read_audio, read_video


def test_evaluate_reports_every_video_problem_and_setting(
    folders: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    gen, ref, src = folders
    assert read_video(gen / "c.mp4").fps == pytest.approx(30)
    assert read_video(gen / "b").fps_assumed
    assert read_audio(src / "a.wav").shape == (32000,)
    config = EvalConfig(
        generated=gen,
        reference=ref,
        sources=src,
        fvd=ClipSampling(min_clips=2, clip_hop=8),
        lse_min_track=5,
        lse_min_face_size=10,
        device="cpu",
    )
    report = evaluate(config, components(), progress=False)
    by_name = {v.name: v for v in report.per_video}
    assert set(by_name) == {"a", "b", "c", "d"}
    assert by_name["d"].problems == ["no generated video of this name"]
    assert any("shorter than 16" in p for p in by_name["b"].problems)
    assert by_name["b"].frames_without_face["csim"] == 2 and by_name["b"].frames_without_face["lse"] == 2
    assert any("frame rates differ: generated 30 fps, reference 25 fps" in p for p in by_name["c"].problems)
    assert by_name["c"].frames_generated == 30  # 36 frames at 30 fps -> 1.2 s at 25 fps
    assert any("resampled from 30 to 25 fps" in n for n in by_name["c"].notes)
    assert by_name["a"].fvd_clips_generated == 4 and by_name["a"].lse_d is not None
    assert any(str(src / "a.png") in n for n in by_name["a"].notes)
    counts = report.problem_counts
    assert counts["unpaired reference"] == 1 and counts["too short for fvd"] == 1
    assert counts["mismatched frame rate"] == 1 and counts["frames without face (csim)"] == 2
    for key in ("fid", "fvd", "csim", "efid", "pfid", "lse_d", "lse_c"):
        assert report.aggregate[key] is not None and np.isfinite(report.aggregate[key])
    assert report.settings["fvd"]["clip_length"] == 16 and report.settings["lse"]["vshift"] == 15
    assert report.settings["lse"]["face_detector"] == "stand-in"
    assert report.settings["lse"]["min_track"] == 5 and "IoU > 0.5" in report.settings["lse"]["tracking"]
    out = tmp_path / "report.json"
    report.write_json(out)
    report.write_markdown(tmp_path / "report.md", with_paper=True)
    data = json.loads(out.read_text())
    assert data["random_weights"] is True and data["settings"]["run"]["metrics"][0] == "fid"
    md = (tmp_path / "report.md").read_text()
    assert "NOT metrics" in md and "FLOAT (paper, Table 1, HDTF) | 21.100 | 162.052" in md


def test_metrics_sharing_a_detector_detect_each_frame_once(folders: tuple[Path, Path, Path]) -> None:
    gen, ref, src = folders
    calls = 0

    class Counting(Detector):
        def detect(self, image: np.ndarray) -> list[Face]:
            nonlocal calls
            calls += 1
            return super().detect(image)

    stand_ins = {**components(), "detector": Counting()}
    config = EvalConfig(generated=gen, reference=ref, sources=src, metrics=["csim", "efid", "pfid"])
    report = evaluate(config, Components(random_weights=True, **stand_ins), progress=False)
    frames = sum((v.frames_generated or 0) + (v.frames_reference or 0) for v in report.per_video)
    assert frames == 82 + 110
    # CSIM, E-FID and P-FID share one detection per frame and side, plus one per source portrait (CSIM).
    assert calls == frames + 3
    by_name = {v.name: v for v in report.per_video}
    assert by_name["b"].frames_without_face == {
        "csim": 2,
        "efid_generated": 2,
        "efid_reference": 0,
        "pfid_generated": 2,
        "pfid_reference": 0,
    }


def test_config_rejects_unknown_metric(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown metric"):
        EvalConfig(generated=tmp_path, reference=tmp_path, metrics=["fid", "psnr"])


def _scrfd_standin_onnx(path: Path, size: int = 640) -> None:
    """An ONNX model with SCRFD's 9 outputs that always reports one face covering most of the frame."""
    outs = []
    for stride in (8, 16, 32):
        outs.append(torch.zeros((size // stride) ** 2 * 2, 1))
    outs += [torch.zeros((size // s) ** 2 * 2, 4) for s in (8, 16, 32)]
    outs += [torch.zeros((size // s) ** 2 * 2, 10) for s in (8, 16, 32)]
    idx = (40 * (size // 8) + 40) * 2  # stride 8, cell (40, 40): centre (320, 320)
    outs[0][idx] = 0.95
    outs[3][idx] = 280 / 8
    outs[6][idx] = torch.from_numpy((ARCFACE_TEMPLATE * size / 112 - 320).reshape(-1) / 8).float()

    class StandIn(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
            zero = x.mean() * 0
            return tuple(o + zero for o in outs)

    torch.onnx.export(StandIn(), (torch.zeros(1, 3, size, size),), str(path), dynamo=False)


@pytest.mark.slow
def test_cli_run_loads_weight_files_and_writes_reports(
    folders: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """`float-eval run --metrics csim,lse` from a weights folder of random or stand-in files, real formats."""
    from typer.testing import CliRunner

    from float_eval.cli import app
    from float_eval.nets import SyncNet
    from float_eval.weights import file_sha256

    gen, ref, src = folders
    wdir = tmp_path / "weights"
    wdir.mkdir()
    torch.manual_seed(0)
    torch.save(SyncNet().state_dict(), wdir / "syncnet_v2.model")
    _scrfd_standin_onnx(wdir / "det_10g.onnx")
    arc = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 8, stride=8), torch.nn.Flatten(), torch.nn.Linear(4 * 14 * 14, 8)
    )
    torch.onnx.export(
        arc.eval(),
        (torch.zeros(1, 3, 112, 112),),
        str(wdir / "w600k_r50.onnx"),
        dynamic_axes={"input": {0: "n"}},
        input_names=["input"],
        dynamo=False,
    )
    out = tmp_path / "r.json"
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--generated",
            str(gen),
            "--reference",
            str(ref),
            "--sources",
            str(src),
            "--metrics",
            "csim,lse",
            "--weights-dir",
            str(wdir),
            "--out",
            str(out),
            "--lse-min-track",
            "5",
            "--face-detector",
            "scrfd",
            "--lse-min-face-size",
            "10",
            "--no-check-digests",
            "--device",
            "cpu",
            "--paper",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["settings"]["weights_sha256"] == {
        name: file_sha256(wdir / name) for name in ("det_10g.onnx", "w600k_r50.onnx", "syncnet_v2.model")
    }
    by_name = {v["name"]: v for v in data["per_video"]}
    assert by_name["a"]["lse_d"] is not None and by_name["a"]["csim"] is not None
    assert data["settings"]["lse"]["face_detector"] == "scrfd"
    # Stand-in files differ from the pinned digests: accepted only with --no-check-digests, and listed.
    assert sorted(data["settings"]["weights_unverified"]) == [
        "det_10g.onnx",
        "syncnet_v2.model",
        "w600k_r50.onnx",
    ]
    assert "FLOAT (paper" in out.with_suffix(".md").read_text()


def test_lse_without_a_long_enough_track_is_reported(folders: tuple[Path, Path, Path]) -> None:
    gen, ref, src = folders
    config = EvalConfig(generated=gen, reference=ref, sources=src, metrics=["lse"], lse_min_track=5)
    report = evaluate(config, components(), progress=False)  # 24-px faces, default min_face_size 100
    by_name = {v.name: v for v in report.per_video}
    assert by_name["a"].lse_d is None
    assert any("no face track" in p and "larger than 100 px" in p for p in by_name["a"].problems)
    assert report.problem_counts["no face track (lse)"] == 3 and report.aggregate["lse_d"] is None


def test_lse_builds_s3fd_from_the_weights_folder(folders: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """Default LSE tracks: S3FD from sfd_face.pth (random here); 32-px frames are too small and reported."""
    from float_eval.nets import S3FDNet, SyncNet

    gen, ref, src = folders
    wdir = tmp_path / "weights"
    wdir.mkdir()
    torch.manual_seed(0)
    torch.save(S3FDNet().state_dict(), wdir / "sfd_face.pth")
    torch.save(SyncNet().state_dict(), wdir / "syncnet_v2.model")
    config = EvalConfig(
        generated=gen,
        reference=ref,
        sources=src,
        metrics=["lse"],
        weights_dir=wdir,
        check_digests=False,
        device="cpu",
    )
    with pytest.raises(WeightsError, match=r"sfd_face\.pth"):
        evaluate(config.model_copy(update={"check_digests": True}), progress=False)
    report = evaluate(config, progress=False)
    assert report.settings["lse"]["face_detector"] == "s3fd"
    lse = report.settings["lse"]
    assert lse["facedet_scale"] == 0.25 and lse["detection_threshold"] == 0.9
    assert sorted(report.settings["weights_unverified"]) == ["sfd_face.pth", "syncnet_v2.model"]
    assert set(report.settings["weights_sha256"]) == {"sfd_face.pth", "syncnet_v2.model"}
    by_name = {v.name: v for v in report.per_video}
    assert any("S3FD needs frames of at least 128 px" in p for p in by_name["a"].problems)
