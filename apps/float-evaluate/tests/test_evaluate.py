"""float-evaluate end to end: a two-clip prepared split, a tiny random bundle, float-eval stand-in networks.

Every network here has random or stand-in weights, so no number below is a metric: the tests check the
plumbing (clips, resume, failures, report contents), and that the report says the numbers are not metrics.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from float_data import FaceDetection, PrepareConfig, decode_image, prepare_dataset
from float_eval import Components
from float_eval.nets import Face
from float_eval.ops import ARCFACE_TEMPLATE
from float_evaluate import EvaluateConfig, run_evaluation
from float_evaluate.cli import app
from float_pipeline import (
    NoFaceError,
    Pipeline,
    load_bundle,
)
from float_pipeline.testing import build_random_bundle

SIZE = 32  # bundle resolution = prepared crop size


class _WholeFace:
    """float-data detector stand-in: the middle of the frame is the face (no model, no landmarks)."""

    name = "stand-in"
    provides_landmarks = False

    def detect(self, image: np.ndarray) -> list[FaceDetection]:
        h, w = image.shape[:2]
        return [FaceDetection(box=(w * 0.3, h * 0.25, w * 0.7, h * 0.75), score=1.0)]

    def landmarks(self, image: np.ndarray, box: tuple[float, float, float, float]) -> None:
        return None


@pytest.fixture(scope="module")
def prepared(
    tmp_path_factory: pytest.TempPathFactory,
    portrait_png: Path,
    speech_wav: Path,
    require_tool: Callable[[str], str],
) -> Path:
    """Two real talking clips (astronaut + espeak speech, 2.0 s and 2.4 s) prepared as a test split."""
    ffmpeg = require_tool("ffmpeg")
    root = tmp_path_factory.mktemp("prepared")
    src = root / "src"
    src.mkdir()
    for name, seconds in (("alice", "2.0"), ("bob", "2.4")):
        inputs = ["-loop", "1", "-framerate", "25", "-i", str(portrait_png), "-i", str(speech_wav)]
        video = ["-t", seconds, "-vf", "scale=64:64", "-r", "25", "-pix_fmt", "yuv420p", "-c:v", "libx264"]
        out = ["-preset", "ultrafast", "-c:a", "aac", str(src / f"{name}.mp4")]
        subprocess.run([ffmpeg, "-v", "error", "-y", *inputs, *video, *out], check=True)
    config = PrepareConfig(
        crop_size=SIZE, landmarks=False, detect_height=None, val_fraction=0.0, test_fraction=0.99
    )
    report = prepare_dataset(src, root / "data", config, detector=_WholeFace())
    assert sorted(e.split for e in report.entries) == ["test", "test"]
    return root / "data"


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared seeded random bundle (32x32 auto-encoder, one-block flow, 16-band log-mel): not a model."""
    return build_random_bundle(tmp_path_factory.mktemp("bundle") / "tiny", size=SIZE)


class _Detector:
    """float-eval detector stand-in: one face over the middle of any frame, with template keypoints."""

    name = "stand-in"

    def detect(self, image: np.ndarray) -> list[Face]:
        h, w = image.shape[:2]
        kps = ARCFACE_TEMPLATE * np.array([w / 112, h / 112])
        return [Face(np.array([2.0, 2.0, w - 2.0, h - 2.0]), 1.0, kps)]


class _Sync(torch.nn.Module):
    def forward_lip(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, 2].mean(dim=(1, 2, 3))[:, None] / 255.0

    def forward_aud(self, x: torch.Tensor) -> torch.Tensor:
        return (x[:, 0, 0, 8:12].mean(dim=1) > 0).float()[:, None]


class _I3D(torch.nn.Module):
    def forward(
        self, x: torch.Tensor, rescale: bool = False, resize: bool = False, return_features: bool = False
    ) -> torch.Tensor:
        return x.float().mean(dim=(3, 4)).flatten(1)[:, :6] / 255.0


class _Pool(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        stats = [x.mean(dim=(2, 3)), x.std(dim=(2, 3)), x.amax(dim=(2, 3)), x.amin(dim=(2, 3))]
        return [torch.cat(stats, 1)[..., None, None]]


def _components() -> Components:
    torch.manual_seed(0)
    pts = ARCFACE_TEMPLATE * (SIZE / 112)
    pts = (pts - pts.mean(0)) / 14.0
    lm3d = np.c_[pts[:, 0], -pts[:, 1], np.linspace(-0.1, 0.1, 5)]
    recon = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten(), torch.nn.Linear(48, 257))
    return Components(
        fid_network=_Pool(),
        i3d=_I3D(),
        syncnet=_Sync(),
        arcface=lambda faces: faces.mean(dim=2).flatten(1),
        detector=_Detector(),
        lse_detector=_Detector(),
        recon_net=recon,
        lm3d=lm3d,
        random_weights=True,
        fid_feature_dim=12,
        fvd_feature_dim=6,
    )


def _config(prepared: Path, bundle_dir: Path, out: Path, **update: object) -> EvaluateConfig:
    base = {
        "checkpoint": str(bundle_dir),
        "data": prepared,
        "out": out,
        "paper_table": True,
        "fvd_min_clips": 2,
        "lse_min_track": 5,
        "lse_min_face_size": 10.0,
        "progress": False,
    }
    return EvaluateConfig(**{**base, **update})


def _frames(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def test_run_generates_scores_and_resumes(prepared: Path, bundle_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    pipeline = Pipeline(load_bundle(bundle_dir), progress=False)
    run = run_evaluation(_config(prepared, bundle_dir, out), pipeline=pipeline, components=_components())
    ids = ["alice", "bob"]
    assert [c.video_id for c in run.clips] == ids and sorted(run.generated) == ids and not run.failed
    n_frames = {c.video_id: c.n_frames for c in run.clips}
    assert n_frames == {"alice": 50, "bob": 60}

    # Reference clips: the prepared crops (first one = the portrait, bit-exact PNG) and the aligned audio.
    first = pq.read_table(prepared / "data" / "frames" / "test" / "alice.parquet").column("image")[0].as_py()
    np.testing.assert_array_equal(np.asarray(Image.open(out / "sources" / "alice.png")), decode_image(first))
    for name in ids:
        assert _frames(out / "reference" / f"{name}.mp4").shape == (n_frames[name], SIZE, SIZE, 3)
        assert _frames(out / "generated" / f"{name}.mp4").shape == (n_frames[name], SIZE, SIZE, 3)
        with av.open(str(out / "sources" / f"{name}.wav")) as wav:
            assert wav.streams.audio[0].rate == 16000
            samples = sum(f.samples for f in wav.decode(audio=0))
        assert samples == n_frames[name] * 640

    report = json.loads((out / "report.json").read_text())
    assert report["random_weights"] is True
    assert [v["name"] for v in report["per_video"]] == ids
    for video in report["per_video"]:
        assert video["frames_generated"] == video["frames_reference"] == n_frames[video["name"]]
        assert video["problems"] == [] and video["fvd_clips_generated"] == 3  # starts 0, 16, 32
    for key in ("fid", "fvd", "csim", "efid", "pfid", "lse_d", "lse_c"):
        assert report["aggregate"][key] is not None and np.isfinite(report["aggregate"][key])
    ours = report["settings"]["float_evaluate"]
    assert ours["split"] == "test" and ours["videos"] == 2 and ours["bundle_resolution"] == SIZE
    assert ours["bundle_description"] == "tiny random test bundle" and ours["generation"]["crop"] is False
    assert report["settings"]["lse"]["face_detector"] == "stand-in"
    md = (out / "report.md").read_text()
    assert "NOT metrics" in md and "FLOAT (paper, Table 1, HDTF) | 21.100 | 162.052" in md

    # Resume: nothing is regenerated, the files are untouched, the numbers are the same.
    stamp = (out / "generated" / "alice.mp4").stat().st_mtime_ns
    (out / "generated" / ".alice.x1.part.mp4").write_bytes(b"left by a killed writer")
    again = run_evaluation(_config(prepared, bundle_dir, out), pipeline=pipeline, components=_components())
    assert again.generated == [] and sorted(again.resumed) == ids
    assert (out / "generated" / "alice.mp4").stat().st_mtime_ns == stamp
    assert not (out / "generated" / ".alice.x1.part.mp4").exists()
    assert again.report.aggregate == pytest.approx(run.report.aggregate)

    # --limit 1 scores only the first video although the folders hold two.
    limited = _config(prepared, bundle_dir, out, limit=1, metrics=["csim"])
    one = run_evaluation(limited, pipeline=pipeline, components=_components())
    assert [v.name for v in one.report.per_video] == ["alice"]


class _FailsOnBob(Pipeline):
    def generate(self, image, audio, out, options=None, **overrides):  # type: ignore[no-untyped-def]
        if Path(out).stem == "bob":
            raise NoFaceError("no face found in bob.png")
        return super().generate(image, audio, out, options, **overrides)


def test_failed_generation_is_reported_and_counted(prepared: Path, bundle_dir: Path, tmp_path: Path) -> None:
    pipeline = _FailsOnBob(load_bundle(bundle_dir), progress=False)
    config = _config(prepared, bundle_dir, tmp_path / "eval", metrics=["csim", "fid"])
    run = run_evaluation(config, pipeline=pipeline, components=_components())
    assert run.failed == {"bob": "NoFaceError: no face found in bob.png"}
    by_name = {v.name: v for v in run.report.per_video}
    assert by_name["bob"].problems[0] == "generation: NoFaceError: no face found in bob.png"
    assert "no generated video of this name" in by_name["bob"].problems
    assert run.report.problem_counts["generation failed"] == 1
    assert by_name["alice"].csim is not None and run.report.aggregate["csim"] == by_name["alice"].csim


def test_cli_errors_name_the_problem(prepared: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["run", "--data", str(prepared), "--out", str(tmp_path / "o"), "--no-progress"]
    missing = runner.invoke(app, ["run", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")])
    assert missing.exit_code == 2
    assert "manifest.jsonl" in missing.output and "float-data prepare" in missing.output
    empty = runner.invoke(app, [*base, "--split", "val"])
    assert empty.exit_code == 2 and "split 'val'" in empty.output and "has no videos" in empty.output
    bad = runner.invoke(app, [*base, "--metrics", "psnr"])
    assert bad.exit_code == 2 and "unknown metric" in bad.output
    no_bundle = runner.invoke(app, [*base, "--checkpoint", str(tmp_path / "nope"), "--metrics", "csim"])
    assert no_bundle.exit_code == 2 and "nope" in no_bundle.output


def test_cli_run_reads_the_weights_folder(prepared: Path, bundle_dir: Path, tmp_path: Path) -> None:
    """CLI with real weight loading: random SyncNet and S3FD files, 32-px crops (too small for S3FD)."""
    from float_eval.nets import S3FDNet, SyncNet

    wdir = tmp_path / "weights"
    wdir.mkdir()
    torch.manual_seed(0)
    torch.save(S3FDNet().state_dict(), wdir / "sfd_face.pth")
    torch.save(SyncNet().state_dict(), wdir / "syncnet_v2.model")
    out = tmp_path / "eval"
    args = ["run", "--data", str(prepared), "--out", str(out), "--checkpoint", str(bundle_dir)]
    args += ["--metrics", "lse", "--weights-dir", str(wdir), "--no-progress", "--device", "cpu"]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2 and "sfd_face.pth" in refused.output and "wrong file" in refused.output
    assert not list((out / "generated").glob("*.mp4"))
    result = CliRunner().invoke(app, [*args, "--no-check-digests", "--paper-table"])
    assert result.exit_code == 0, result.output
    # The refused run stopped before generating anything: weights are checked first.
    assert "2 videos: 2 generated, 0 resumed, 0 failed" in result.output
    # #28 point 3: stdout says it too, not only report.md
    assert "WARNING: UNVERIFIED WEIGHTS: sfd_face.pth, syncnet_v2.model differ" in result.output
    report = json.loads((out / "report.json").read_text())
    assert report["settings"]["lse"]["face_detector"] == "s3fd"
    assert sorted(report["settings"]["weights_unverified"]) == ["sfd_face.pth", "syncnet_v2.model"]
    # Frames too small for S3FD are counted as such (#28), not as "no face track".
    assert report["problem_counts"]["frames too small for the face detector (lse)"] == 2
    for video in report["per_video"]:
        assert any("S3FD needs frames of at least 128 px" in p for p in video["problems"])
    assert "FLOAT (paper, Table 1, HDTF)" in (out / "report.md").read_text()
