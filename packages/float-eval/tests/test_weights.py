"""Weights manifest, folder checks, error messages and the ``float-eval weights`` command."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from float_eval import WeightsError, resolve_weight
from float_eval.cli import app
from float_eval.weights import MANIFEST, WEIGHTS_ENV, check_weights, weights_dir


def test_manifest_lists_every_file_with_source_and_licence() -> None:
    names = {e.name for e in MANIFEST}
    assert {
        "pt_inception-2015-12-05-6726825d.pth",
        "i3d_torchscript.pt",
        "syncnet_v2.model",
        "sfd_face.pth",
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

    # A pinned file with another digest is refused; the message names the expected digest and its source.
    (tmp_path / "syncnet_v2.model").write_bytes(b"abc")
    with pytest.raises(WeightsError, match="961e8696") as info:
        resolve_weight("syncnet_v2.model", tmp_path)
    assert "LatentSync" in str(info.value)

    # An unpinned file is accepted and its digest recorded.
    (tmp_path / "i3d_torchscript.pt").write_bytes(b"abc")
    path, digest = resolve_weight("i3d_torchscript.pt", tmp_path)
    assert path == tmp_path / "i3d_torchscript.pt"
    assert digest == hashlib.sha256(b"abc").hexdigest()
    with pytest.raises(KeyError, match="not in the float-eval weights manifest"):
        resolve_weight("unknown.bin", tmp_path)


def test_cli_weights_prints_table_and_checks_folder(tmp_path: Path) -> None:
    (tmp_path / "i3d_torchscript.pt").write_bytes(b"x")
    result = CliRunner().invoke(app, ["weights", "--weights-dir", str(tmp_path)])
    assert result.exit_code == 1  # some files are missing
    out = result.output
    for entry in MANIFEST:
        assert entry.name in out and entry.url in out
    assert "[OK]" in out and "[MISSING]" in out
    assert "1/8 files ok" in out


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
    # LSE tracks use syncnet_python's S3FD by default; --face-detector scrfd would ask for det_10g.onnx.
    assert "sfd_face.pth" in result.output and "robots.ox.ac.uk" in result.output


def test_pinned_digests_are_full_sha256_with_a_named_source() -> None:
    pinned = [e for e in MANIFEST if e.sha256 is not None]
    assert {e.name for e in MANIFEST} - {e.name for e in pinned} == {"i3d_torchscript.pt"}
    for entry in pinned:
        assert len(entry.sha256) == 64 and int(entry.sha256, 16) >= 0
        assert "Hugging Face" in entry.note  # where the digest was read
        if entry.sha256_prefix:
            assert entry.sha256.startswith(entry.sha256_prefix)
    assert "no public source" in {e.name: e for e in MANIFEST}["i3d_torchscript.pt"].note


def test_wrong_size_is_refused(tmp_path: Path) -> None:
    (tmp_path / "similarity_Lm3D_all.mat").write_bytes(b"short")
    (status,) = check_weights(tmp_path, ["similarity_Lm3D_all.mat"])
    assert status.present and not status.ok and "size 5 != expected 994" in status.message
