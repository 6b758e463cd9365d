"""Weights manifest, folder checks, error messages and the ``float-eval weights`` command."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from float_eval import MANIFEST, WEIGHTS_ENV, WeightsError, check_weights, resolve_weight, weights_dir
from float_eval.cli import app


def test_manifest_lists_every_file_with_source_and_licence() -> None:
    names = {e.name for e in MANIFEST}
    assert {
        "pt_inception-2015-12-05-6726825d.pth",
        "i3d_torchscript.pt",
        "syncnet_v2.model",
        "w600k_r50.onnx",
        "det_10g.onnx",
        "epoch_20.pth",
        "similarity_Lm3D_all.mat",
    } == names
    for entry in MANIFEST:
        assert entry.url.startswith("http") and entry.licence and entry.metrics


def test_weights_dir_from_argument_env_and_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "env"))
    assert weights_dir() == tmp_path / "env"
    assert weights_dir(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv(WEIGHTS_ENV)
    assert weights_dir().name == "float-eval"


def test_missing_wrong_and_present_files(tmp_path: Path) -> None:
    statuses = {s.name: s for s in check_weights(tmp_path)}
    assert not any(s.present for s in statuses.values())
    with pytest.raises(WeightsError) as info:
        resolve_weight("syncnet_v2.model", tmp_path)
    msg = str(info.value)
    assert (
        "syncnet_v2.model" in msg and "robots.ox.ac.uk" in msg and str(tmp_path / "syncnet_v2.model") in msg
    )

    # A file whose sha256 does not start with the published prefix is refused as the wrong file.
    (tmp_path / "pt_inception-2015-12-05-6726825d.pth").write_bytes(b"not the inception weights")
    with pytest.raises(WeightsError, match="wrong file"):
        resolve_weight("pt_inception-2015-12-05-6726825d.pth", tmp_path)

    # An unpinned file is accepted and its digest recorded.
    (tmp_path / "syncnet_v2.model").write_bytes(b"abc")
    path, digest = resolve_weight("syncnet_v2.model", tmp_path)
    assert path == tmp_path / "syncnet_v2.model"
    assert digest == hashlib.sha256(b"abc").hexdigest()
    with pytest.raises(KeyError, match="not in the float-eval weights manifest"):
        resolve_weight("unknown.bin", tmp_path)


def test_cli_weights_prints_table_and_checks_folder(tmp_path: Path) -> None:
    (tmp_path / "det_10g.onnx").write_bytes(b"x")
    result = CliRunner().invoke(app, ["weights", "--weights-dir", str(tmp_path)])
    assert result.exit_code == 1  # some files are missing
    out = result.output
    for entry in MANIFEST:
        assert entry.name in out and entry.url in out
    assert "[OK]" in out and "[MISSING]" in out
    assert "1/7 files ok" in out


def test_cli_run_without_weights_names_the_missing_file(tmp_path: Path) -> None:
    (tmp_path / "gen").mkdir()
    (tmp_path / "ref").mkdir()
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--generated",
            str(tmp_path / "gen"),
            "--reference",
            str(tmp_path / "ref"),
            "--metrics",
            "lse",
            "--weights-dir",
            str(tmp_path / "w"),
            "--out",
            str(tmp_path / "r.json"),
        ],
    )
    assert result.exit_code == 2
    assert "det_10g.onnx" in result.output and "buffalo_l.zip" in result.output
