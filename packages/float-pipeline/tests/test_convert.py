"""The official-checkpoint conversion on a synthetic float.pth built from the official keys and shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from float_motion_ae import OFFICIAL_LICENSE_NOTICE
from float_pipeline import ConversionError, convert_official_checkpoint, read_manifest
from float_pipeline.convert import check_coverage

# Keys and shapes of the 274 tensors of the official float.pth (copy of the design manifest; no weights).
MANIFEST = Path(__file__).parent / "fixtures" / "official_float_pth.json"
OFFICIAL_PARAMS = 206_657_800


def _official_shapes() -> dict[str, list[int]]:
    return json.loads(MANIFEST.read_text())["tensors"]


def test_coverage_is_strict() -> None:
    keys = {name: torch.empty(0) for name in _official_shapes()}
    assert sum(check_coverage(keys).values()) == 274
    with pytest.raises(ConversionError, match=r"no converter maps: wav2vec2\.extra"):
        check_coverage({**keys, "wav2vec2.extra": torch.empty(0)})
    fewer = dict(keys)
    fewer.pop("fmt.blocks.3.mlp.fc1.weight")
    with pytest.raises(ConversionError, match=r"fmt\.\*: 92 \(expected 93\)"):
        check_coverage(fewer)


@pytest.mark.slow
def test_converts_all_274_tensors_into_a_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generator = torch.Generator().manual_seed(0)
    # float16 halves the synthetic file (413 MB); the converters cast to float32, shapes are what is checked
    state = {
        name: torch.randn(shape, generator=generator).to(torch.float16)
        for name, shape in _official_shapes().items()
    }
    checkpoint = tmp_path / "float.pth"
    torch.save(state, checkpoint)
    out = tmp_path / "bundle"
    assert convert_official_checkpoint(checkpoint, out, audio_backbone="/models/wav2vec2") == out
    err = capsys.readouterr().err
    assert "CC BY-NC" in err  # the licence notice comes first
    assert err.count(OFFICIAL_LICENSE_NOTICE) == 1  # once, not again by each package's converter
    manifest = read_manifest(out)
    assert manifest.license == "cc-by-nc-nd-4.0" and manifest.resolution == 512
    assert manifest.audio.kind == "wav2vec2" and manifest.audio.backbone == "/models/wav2vec2"
    assert manifest.emotion_predictor is not None and manifest.emotion_predictor.name == "speech"
    assert manifest.defaults.steps == 9 and manifest.defaults.emotion == "auto"
    assert "CC BY-NC-ND 4.0" in (out / "README.md").read_text()
    tensors = {
        component: load_file(out / component / "model.safetensors")
        for component in ("motion_ae", "flow", "audio_projection")
    }
    params = sum(
        t.numel() for part in tensors.values() for name, t in part.items() if "alignment_mask" not in name
    )
    assert params == OFFICIAL_PARAMS
    pairs = {
        "motion_autoencoder.dec.direction.weight": tensors["motion_ae"]["dec.direction.weight"],
        "fmt.blocks.7.attn.qkv.weight": tensors["flow"]["blocks.7.attn.qkv.weight"],
        "audio_encoder.audio_projection.0.weight": tensors["audio_projection"]["linear.weight"],
    }
    for name, ours in pairs.items():
        assert torch.equal(ours, state[name].float()), name
    with pytest.raises(ConversionError, match="overwrite"):
        convert_official_checkpoint(checkpoint, out)


def test_missing_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="official checkpoint not found"):
        convert_official_checkpoint(tmp_path / "float.pth", tmp_path / "out")
    assert not (tmp_path / "out").exists()
