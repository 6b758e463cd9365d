"""Weights manifest, folder checks, error messages and the ``float-eval weights`` command."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from float_eval import WeightsError, resolve_weight
from float_eval.cli import app
from float_eval.weights import MANIFEST, WEIGHTS_ENV, WeightFile, check_weights, fetch_weights, weights_dir


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


def test_run_lists_every_missing_weight_file_at_once(tmp_path: Path) -> None:
    (tmp_path / "gen").mkdir()
    (tmp_path / "ref").mkdir()
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "syncnet_v2.model").write_bytes(b"not syncnet")
    args = ["run", "--generated", str(tmp_path / "gen"), "--reference", str(tmp_path / "ref")]
    result = CliRunner().invoke(app, [*args, "--metrics", "fid,lse", "--weights-dir", str(tmp_path / "w")])
    assert result.exit_code == 2
    out = result.output
    assert "3 weight file(s) missing or wrong" in out
    for name in ("pt_inception-2015-12-05-6726825d.pth", "sfd_face.pth", "syncnet_v2.model"):
        entry = {e.name: e for e in MANIFEST}[name]
        assert f"put at:  {tmp_path / 'w' / name}" in out and entry.url in out
        assert f"sha256:  {entry.sha256}" in out
    assert "syncnet_v2.model [wrong]" in out and "float-eval weights fetch" in out


def _entry(name: str, url: str, payload: bytes, member: str | None = None, pinned: bool = True) -> WeightFile:
    digest = hashlib.sha256(payload).hexdigest() if pinned else None
    return WeightFile(
        name=name, metrics=("fid",), url=url, licence="test", sha256=digest, download=url, member=member
    )


def test_fetch_downloads_verifies_and_extracts(tmp_path: Path) -> None:
    import zipfile

    site = tmp_path / "site"
    site.mkdir()
    (site / "good.bin").write_bytes(b"good weights")
    (site / "tampered.bin").write_bytes(b"tampered")
    with zipfile.ZipFile(site / "pack.zip", "w") as z:
        z.writestr("pack/inner.onnx", b"inner weights")
    entries = (
        _entry("good.bin", (site / "good.bin").as_uri(), b"good weights"),
        _entry("tampered.bin", (site / "tampered.bin").as_uri(), b"the real file"),
        _entry("inner.onnx", (site / "pack.zip").as_uri(), b"inner weights", member="inner.onnx"),
        _entry("offline.bin", (site / "absent.bin").as_uri(), b"x"),
        WeightFile(name="manual.pth", metrics=("fid",), url="https://drive.example/folder", licence="test"),
    )
    folder = tmp_path / "weights"
    results = {r.name: r for r in fetch_weights(folder, entries=entries)}
    assert {k: r.outcome for k, r in results.items()} == {
        "good.bin": "fetched",
        "tampered.bin": "failed",
        "inner.onnx": "fetched",
        "offline.bin": "failed",
        "manual.pth": "manual",
    }
    assert (folder / "good.bin").read_bytes() == b"good weights"
    assert (folder / "inner.onnx").read_bytes() == b"inner weights"
    assert not (folder / "tampered.bin").exists() and "not the manifest's" in results["tampered.bin"].message
    assert "https://drive.example/folder" in results["manual.pth"].message
    assert sorted(p.name for p in folder.iterdir()) == ["good.bin", "inner.onnx"]  # no partial files left
    again = {r.name: r.outcome for r in fetch_weights(folder, entries=entries[:1])}
    assert again == {"good.bin": "present"}


def test_fetch_cli_refuses_unknown_names(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["weights", "fetch", "--weights-dir", str(tmp_path), "--only", "x.bin"])
    assert result.exit_code == 2 and "not in the manifest: x.bin" in result.output


def _random_lse_weights(folder: Path) -> None:
    import torch

    from float_eval.nets import S3FDNet, SyncNet

    folder.mkdir(exist_ok=True)
    torch.manual_seed(0)
    torch.save(S3FDNet().state_dict(), folder / "sfd_face.pth")
    torch.save(SyncNet().state_dict(), folder / "syncnet_v2.model")


def test_unverified_weights_are_announced_loudly(folders: tuple[Path, Path, Path], tmp_path: Path) -> None:
    gen, ref, src = folders
    _random_lse_weights(tmp_path / "w")
    out = tmp_path / "r.json"
    args = ["run", "--generated", str(gen), "--reference", str(ref), "--sources", str(src), "--no-progress"]
    args += [
        "--metrics",
        "lse",
        "--weights-dir",
        str(tmp_path / "w"),
        "--out",
        str(out),
        "--no-check-digests",
    ]
    result = CliRunner().invoke(app, args)
    # 32-px frames are too small for S3FD: LSE scores nothing, which fails the run unless allowed.
    assert result.exit_code == 1 and "frames too small for the face detector (lse)" in result.output
    result = CliRunner().invoke(app, [*args, "--allow-empty"])
    assert result.exit_code == 0
    assert "WARNING: UNVERIFIED WEIGHTS: sfd_face.pth, syncnet_v2.model differ" in result.output
    assert "**UNVERIFIED WEIGHTS: sfd_face.pth, syncnet_v2.model" in out.with_suffix(".md").read_text()


def test_a_corrupt_weight_file_is_a_clear_error(folders: tuple[Path, Path, Path], tmp_path: Path) -> None:
    gen, ref, _ = folders
    _random_lse_weights(tmp_path / "w")
    (tmp_path / "w" / "syncnet_v2.model").write_bytes(b"truncated download")
    args = ["run", "--generated", str(gen), "--reference", str(ref), "--metrics", "lse", "--no-check-digests"]
    result = CliRunner().invoke(
        app, [*args, "--weights-dir", str(tmp_path / "w"), "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 2 and result.exception is not None and isinstance(result.exception, SystemExit)
    assert "syncnet_v2.model could not be loaded" in result.output and "download it again" in result.output
    assert "Traceback" not in result.output


def test_pytorch_fid_is_pinned() -> None:
    import tomllib

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    # float_eval.nets.inception uses pytorch-fid's private _inception_v3 and FID blocks: exactly 0.3.0.
    assert "pytorch-fid==0.3.0" in project["dependencies"]
