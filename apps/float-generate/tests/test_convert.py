"""float-convert-official: the command line over convert_official_checkpoint (exit codes, output).

The conversion itself (274/274 tensors on a synthetic float.pth) is tested in packages/float-pipeline.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import float_generate.convert as convert_cli
from float_generate.convert import app


def test_success_names_the_bundle_the_count_and_the_licence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict] = []

    def fake(checkpoint: Path, out_dir: Path, **options: object) -> Path:
        calls.append({"checkpoint": checkpoint, "out": out_dir, **options})
        return out_dir

    monkeypatch.setattr(convert_cli, "convert_official_checkpoint", fake)
    out = tmp_path / "bundle"
    result = CliRunner().invoke(
        app,
        [str(tmp_path / "float.pth"), str(out), "--audio-backbone", "/models/w2v", "--emotion-model", "none"],
    )
    assert result.exit_code == 0, result.output
    assert "274/274" in result.output and "CC BY-NC" in result.output and str(out) in result.output
    assert calls == [
        {
            "checkpoint": tmp_path / "float.pth",
            "out": out,
            "audio_backbone": "/models/w2v",
            "emotion_model": None,
            "audio_chunk_seconds": 30.0,
            "detector_weights": None,
            "overwrite": False,
        }
    ]


def test_parity_switches_reach_the_conversion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict] = []
    monkeypatch.setattr(
        convert_cli, "convert_official_checkpoint", lambda c, o, **options: calls.append(options) or o
    )
    args = [str(tmp_path / "float.pth"), str(tmp_path / "b"), "--audio-chunk-seconds", "0"]
    result = CliRunner().invoke(app, [*args, "--detector-weights", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert calls[0]["audio_chunk_seconds"] == 0 and calls[0]["detector_weights"] == tmp_path
    result = CliRunner().invoke(app, [*args[:2], "--audio-chunk-seconds", "-1"])
    assert result.exit_code == 2


def test_a_refused_checkpoint_exits_2_with_the_reason(tmp_path: Path) -> None:
    import torch

    path = tmp_path / "float.pth"
    torch.save({"fmt.pos_embed": torch.zeros(1, 61, 1024)}, path)
    result = CliRunner().invoke(app, [str(path), str(tmp_path / "out")])
    assert result.exit_code == 2 and "lacks 273 of the 274 official parameters" in result.output
    assert not (tmp_path / "out").exists()


def test_missing_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, [str(tmp_path / "float.pth"), str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "official checkpoint not found" in result.output and not (tmp_path / "out").exists()


def test_existing_output_needs_overwrite(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    result = CliRunner().invoke(app, [str(tmp_path / "float.pth"), str(tmp_path / "out")])
    assert result.exit_code == 2 and "--overwrite" in result.output
