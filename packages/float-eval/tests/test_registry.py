"""The metric registry: built-ins as entry points, a third-party metric through its entry point in the CLI."""

from __future__ import annotations

import json
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from float_eval import (
    DEFAULT_METRICS,
    EvalConfig,
    VideoMetric,
    available_metrics,
    evaluate,
    register_metric,
    required_weights,
)
from float_eval.cli import app
from float_eval.registry import _BUILTINS, ENTRY_POINT_GROUP, create_metric, unregister_metric

PYPROJECT = Path(__file__).parents[1] / "pyproject.toml"

TOY_MODULE = '''
"""A metric from another package: per video, generated frames / reference frames; the mean over videos."""

import numpy as np


class ToyMetric:
    name = "toy"
    higher_is_better = True
    weights = ()

    def __init__(self, config):
        self.fps = config.fps
        self.reset()

    def update(self, pair):
        ratio = pair.generated.shape[0] / pair.reference.shape[0]
        pair.result.scores[self.name] = ratio
        self.ratios.append(ratio)

    def compute(self):
        return float(np.mean(self.ratios)) if self.ratios else None

    def reset(self):
        self.ratios = []

    def settings(self):
        return {"what": "frame-count ratio", "fps": self.fps}
'''


@pytest.fixture
def toy_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An installed-looking package on sys.path: a module and a dist-info declaring the entry point."""
    site = tmp_path / "site"
    (site / "toy_eval_metric-0.1.dist-info").mkdir(parents=True)
    (site / "toy_eval_metric.py").write_text(TOY_MODULE)
    info = site / "toy_eval_metric-0.1.dist-info"
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-eval-metric\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\ntoy = toy_eval_metric:ToyMetric\n")
    monkeypatch.syspath_prepend(str(site))
    yield site
    sys.modules.pop("toy_eval_metric", None)


def test_builtins_are_declared_as_entry_points() -> None:
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["entry-points"][ENTRY_POINT_GROUP]
    assert declared == _BUILTINS
    assert tuple(available_metrics()[: len(DEFAULT_METRICS)]) == DEFAULT_METRICS
    config = EvalConfig(generated=Path("g"), reference=Path("r"))
    for name in DEFAULT_METRICS:
        metric = create_metric(name, config)
        assert isinstance(metric, VideoMetric) and metric.name == name


def test_third_party_metric_runs_through_float_eval_run(
    toy_distribution: Path, folders: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    gen, ref, src = folders
    runner = CliRunner()
    listed = runner.invoke(app, ["metrics"])
    assert listed.exit_code == 0 and "toy      toy_eval_metric:ToyMetric" in listed.output
    assert "toy" in available_metrics()

    out = tmp_path / "report.json"
    args = ["run", "--generated", str(gen), "--reference", str(ref), "--sources", str(src), "--out", str(out)]
    result = runner.invoke(app, [*args, "--metrics", "toy"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    # a: 40/40 frames, b: 12/40 (a frame folder), c: 30/30 (30 fps resampled to 25); d has no generated video.
    assert report["aggregate"] == {"toy": pytest.approx((1.0 + 0.3 + 1.0) / 3)}
    assert report["higher_is_better"] == {"toy": True}
    assert report["settings"]["toy"] == {"what": "frame-count ratio", "fps": 25.0}
    assert report["settings"]["weights_sha256"] == {}
    scores = {v["name"]: v["scores"] for v in report["per_video"]}
    assert scores == {"a": {"toy": 1.0}, "b": {"toy": 0.3}, "c": {"toy": 1.0}, "d": {}}
    md = out.with_suffix(".md").read_text()
    assert "| LSE-C↑ | toy↑ |" in md and "| — | 0.767 |" in md
    assert "toy: 0.7667" in result.output

    unknown = runner.invoke(app, [*args, "--metrics", "toy,psnr"])
    assert unknown.exit_code == 2
    assert "unknown metric(s) ['psnr']" in unknown.output and "lse, toy" in unknown.output


class _Failing:
    """Two numbers, and a compute() that refuses: both are reported as None with the reason counted."""

    name = "failing"
    higher_is_better: ClassVar[dict[str, bool]] = {"fail_up": True, "fail_down": False}
    weights = ()

    def __init__(self, config: EvalConfig) -> None:
        self.seen = 0

    def update(self, pair: Any) -> None:
        self.seen += 1
        pair.note("failing saw this video")

    def compute(self) -> dict[str, float | None]:
        raise ValueError(f"refused after {self.seen} videos")

    def reset(self) -> None:
        self.seen = 0

    def settings(self) -> dict[str, Any]:
        return {"seen": self.seen}


def test_in_process_registration_and_errors(folders: tuple[Path, Path, Path]) -> None:
    gen, ref, _ = folders
    register_metric("failing", _Failing)
    try:
        with pytest.raises(ValueError, match="already registered"):
            register_metric("failing", _Failing)
        with pytest.raises(ValueError, match="already registered"):
            register_metric("fid", _Failing)
        report = evaluate(EvalConfig(generated=gen, reference=ref, metrics=["failing"]), progress=False)
        assert report.aggregate == {"fail_up": None, "fail_down": None}
        assert report.higher_is_better == {"fail_up": True, "fail_down": False}
        assert report.problem_counts["failing not computed: refused after 3 videos"] == 1
        assert report.settings["failing"] == {"seen": 3}
        assert all("failing saw this video" in v.notes for v in report.per_video if v.name != "d")

        register_metric("renamed", _Failing)
        with pytest.raises(TypeError, match="calls itself 'failing'"):
            create_metric("renamed", EvalConfig(generated=gen, reference=ref))
        register_metric("not-a-metric", lambda config: object())
        with pytest.raises(TypeError, match="not a VideoMetric"):
            create_metric("not-a-metric", EvalConfig(generated=gen, reference=ref))
    finally:
        for name in ("failing", "renamed", "not-a-metric"):
            unregister_metric(name)
    assert "failing" not in available_metrics()
    with pytest.raises(ValueError, match=r"unknown metric\(s\) \['failing'\]; choose from fid, fvd"):
        EvalConfig(generated=gen, reference=ref, metrics=["failing"])


def test_required_weights_come_from_the_metrics() -> None:
    def need(**update: Any) -> list[str]:
        return required_weights(EvalConfig(generated=Path("g"), reference=Path("r"), **update))

    assert need(metrics=["lse"]) == ["sfd_face.pth", "syncnet_v2.model"]
    assert need(metrics=["lse"], face_detector="scrfd") == ["det_10g.onnx", "syncnet_v2.model"]
    assert need(metrics=["pfid", "efid"]) == ["det_10g.onnx", "epoch_20.pth", "similarity_Lm3D_all.mat"]
    assert need(metrics=["csim"]) == ["det_10g.onnx", "w600k_r50.onnx"]
    assert set(need()) == {
        "pt_inception-2015-12-05-6726825d.pth",
        "i3d_torchscript.pt",
        "det_10g.onnx",
        "w600k_r50.onnx",
        "epoch_20.pth",
        "similarity_Lm3D_all.mat",
        "sfd_face.pth",
        "syncnet_v2.model",
    }
