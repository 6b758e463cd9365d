from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from float_audio import (
    OFFICIAL_PROJECTION_PREFIX,
    AudioProjection,
    OfficialLicenseWarning,
    convert_official,
    load_official,
)


def _official_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """A synthetic stand-in for float.pth: the 4 projection tensors plus unrelated keys of other modules."""
    generator = torch.Generator().manual_seed(seed)
    return {
        f"{OFFICIAL_PROJECTION_PREFIX}0.weight": torch.randn(512, 9216, generator=generator) * 0.01,
        f"{OFFICIAL_PROJECTION_PREFIX}0.bias": torch.randn(512, generator=generator),
        f"{OFFICIAL_PROJECTION_PREFIX}1.weight": torch.rand(512, generator=generator) + 0.5,
        f"{OFFICIAL_PROJECTION_PREFIX}1.bias": torch.randn(512, generator=generator),
        "fmt.x_embedder.proj.weight": torch.zeros(4, 4),
        "motion_autoencoder.dec.direction.weight": torch.zeros(4, 4),
    }


def test_forward_shape_and_activation() -> None:
    torch.manual_seed(0)
    projection = AudioProjection(64, 16)
    with torch.no_grad():
        out = projection(torch.randn(2, 7, 64))
    assert out.shape == (2, 7, 16)
    assert float(out.min()) >= -0.2785  # SiLU's minimum
    with pytest.raises(ValueError, match="last dim 64"):
        projection(torch.randn(2, 7, 63))


def test_save_load_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    projection = AudioProjection(64, 16, eps=1e-6)
    with torch.no_grad():
        projection.norm.weight.uniform_(0.5, 1.5)
    projection.save_pretrained(tmp_path / "proj")
    assert {p.name for p in (tmp_path / "proj").iterdir()} >= {"config.json", "model.safetensors"}
    config = json.loads((tmp_path / "proj" / "config.json").read_text())
    assert config == {"in_dim": 64, "out_dim": 16, "eps": 1e-6}
    loaded = AudioProjection.from_pretrained(tmp_path / "proj")
    x = torch.randn(3, 5, 64)
    torch.testing.assert_close(loaded(x), projection(x), rtol=0, atol=0)


def test_official_projection_converts_exactly() -> None:
    state = _official_state_dict()
    with pytest.warns(OfficialLicenseWarning, match="CC BY-NC"):
        projection = convert_official(state)
    assert (projection.in_dim, projection.out_dim) == (9216, 512)
    torch.testing.assert_close(projection.linear.weight, state[f"{OFFICIAL_PROJECTION_PREFIX}0.weight"])
    torch.testing.assert_close(projection.norm.bias, state[f"{OFFICIAL_PROJECTION_PREFIX}1.bias"])
    # the converted module computes exactly Linear -> LayerNorm -> SiLU with the official tensors
    x = torch.randn(1, 3, 9216)
    keys = ("0.weight", "0.bias", "1.weight", "1.bias")
    w0, b0, w1, b1 = (state[OFFICIAL_PROJECTION_PREFIX + key] for key in keys)
    expected = torch.nn.functional.silu(torch.nn.functional.layer_norm(x @ w0.T + b0, (512,), w1, b1))
    torch.testing.assert_close(projection(x), expected)


def test_official_projection_from_file(tmp_path: Path) -> None:
    path = tmp_path / "float.pth"
    torch.save(_official_state_dict(), path)
    with pytest.warns(OfficialLicenseWarning):
        projection = load_official(path)
    assert projection.linear.weight.shape == (512, 9216)
    with pytest.raises(FileNotFoundError, match=r"missing\.pth"):
        load_official(tmp_path / "missing.pth")


def test_converter_is_strict() -> None:
    state = _official_state_dict()
    missing = {k: v for k, v in state.items() if not k.endswith("1.bias")}
    with pytest.raises(KeyError, match=r"missing \['audio_encoder.audio_projection.1.bias'\]"):
        convert_official(missing)
    extra = {**state, f"{OFFICIAL_PROJECTION_PREFIX}2.weight": torch.zeros(1)}
    with pytest.raises(KeyError, match=r"unexpected \['audio_encoder.audio_projection.2.weight'\]"):
        convert_official(extra)
    wrong = {**state, f"{OFFICIAL_PROJECTION_PREFIX}0.weight": torch.zeros(512, 768)}
    with pytest.raises(ValueError, match=r"0.weight: expected \[512, 9216\], found \[512, 768\]"):
        convert_official(wrong)
    with pytest.warns(OfficialLicenseWarning):
        converted = convert_official(state)
    assert sorted(converted.state_dict()) == ["linear.bias", "linear.weight", "norm.bias", "norm.weight"]
    with pytest.raises(TypeError, match="load_official"):
        convert_official("float.pth")  # type: ignore[arg-type]
