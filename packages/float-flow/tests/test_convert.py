from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from float_flow import (
    FlowMatchingTransformer,
    OfficialLicenseWarning,
    TransformerConfig,
    WindowConditions,
    band_mask,
    convert_official,
    load_official,
    official_shapes,
)

MANIFEST = Path(__file__).parent / "fixtures" / "official_fmt_tensors.json"


def build_synthetic_state_dict() -> dict[str, torch.Tensor]:
    """A float.pth-like state dict: every fmt.* tensor of the manifest plus other prefixes.

    Tensor k is filled with the constant 1e-4 * (k + 1) (a cheap fill, unlike 157 M random draws) so a
    tensor landing under the wrong name would be caught.
    """
    manifest = json.loads(MANIFEST.read_text())["tensors"]
    state = {key: torch.full(shape, 1e-4 * (k + 1)) for k, (key, shape) in enumerate(manifest.items())}
    state["motion_autoencoder.dec.direction.weight"] = torch.randn(512, 20)
    state["audio_encoder.audio_projection.0.bias"] = torch.zeros(512)
    return state


@pytest.fixture(scope="module")
def official_state() -> dict[str, torch.Tensor]:
    return build_synthetic_state_dict()


def test_manifest_fixture_has_the_93_official_tensors() -> None:
    data = json.loads(MANIFEST.read_text())
    assert data["num_tensors"] == 93 == len(data["tensors"])
    assert sum(math.prod(s) for s in data["tensors"].values()) == 156_698_112


def test_official_shapes_match_the_module_and_the_manifest(tiny_config: dict) -> None:
    manifest = json.loads(MANIFEST.read_text())["tensors"]
    shapes = official_shapes(TransformerConfig())
    assert {f"fmt.{k}": list(v) for k, v in shapes.items()} == manifest
    tiny = FlowMatchingTransformer(**tiny_config)
    assert official_shapes(tiny.config) == {k: tuple(v.shape) for k, v in tiny.state_dict().items()}


def test_synthetic_float_pth_converts_with_all_93_tensors(official_state: dict[str, torch.Tensor]) -> None:
    state = official_state
    fmt_keys = [k for k in state if k.startswith("fmt.")]
    assert len(fmt_keys) == 93
    with pytest.warns(OfficialLicenseWarning, match="CC BY-NC-ND"):
        model = convert_official(state)
    assert model.config.dim_motion == 512 and model.config.depth == 8 and model.config.num_frames == 50
    ours = model.state_dict()
    assert len(ours) == 93
    for key in fmt_keys:  # every official tensor landed, unchanged, under the same name
        assert torch.equal(ours[key.removeprefix("fmt.")], state[key]), key
    assert sum(p.numel() for p in model.parameters()) == 156_698_112
    assert torch.equal(model.alignment_mask, band_mask(60, 2))
    assert not model.pos_embed.requires_grad and model.blocks[7].mlp.fc2.weight.requires_grad
    # the converted model runs on the official shapes
    B = 1
    cond = WindowConditions(
        source=torch.randn(B, 512),
        audio=torch.randn(B, 50, 512),
        emotion=torch.full((B, 7), 1 / 7),
        prev_motion=torch.zeros(B, 10, 512),
        prev_audio=torch.zeros(B, 10, 512),
    )
    with torch.no_grad():
        v = model(torch.randn(B, 50, 512), torch.tensor([0.5]), cond)
    assert v.shape == (1, 50, 512) and torch.isfinite(v).all()


def test_conversion_is_an_exact_mapping_of_our_own_names(
    tmp_path: Path,
    tiny_model: FlowMatchingTransformer,
    make_cond: Callable[..., WindowConditions],
    tiny_config: dict,
) -> None:
    """A checkpoint written with official names (fmt. + ours) converts to a model with identical outputs."""
    official_like = {f"fmt.{k}": v for k, v in tiny_model.state_dict().items()}
    # a stored band mask (a file saved from state_dict()) is accepted when it is the band we rebuild
    official_like["fmt.alignment_mask"] = band_mask(16, tiny_config["attention_window"])
    official_like["motion_autoencoder.enc.fc.0.weight"] = torch.zeros(2, 2)
    path = tmp_path / "float.pth"
    torch.save(official_like, path)
    with pytest.warns(OfficialLicenseWarning):
        converted = load_official(
            path, num_heads=tiny_config["num_heads"], attention_window=tiny_config["attention_window"]
        )
    # L' is not visible in the shapes; the converter assumes the official 10, so rebuild ours to compare.
    assert converted.config.num_tokens == tiny_model.config.num_tokens
    reference = FlowMatchingTransformer(**{**tiny_config, "num_frames": 6, "num_prev_frames": 10})
    reference.load_state_dict(tiny_model.state_dict())
    cond = WindowConditions(
        source=torch.randn(2, 8),
        audio=torch.randn(2, 6, 6),
        emotion=torch.rand(2, 7),
        prev_motion=torch.randn(2, 10, 8),
        prev_audio=torch.randn(2, 10, 6),
    )
    x, t = torch.randn(2, 6, 8), torch.rand(2)
    assert torch.equal(converted.eval()(x, t, cond), reference.eval()(x, t, cond))
    assert converted.alignment_mask.shape == (16, 16)


def test_missing_or_misshapen_tensors_are_refused(official_state: dict[str, torch.Tensor]) -> None:
    state = dict(official_state)
    del state["fmt.blocks.3.attn.proj.bias"]
    with pytest.raises(KeyError, match=r"missing \['fmt.blocks.3.attn.proj.bias'\]"):
        convert_official(state)
    state = dict(official_state)
    state["fmt.decoder.linear.bias"] = torch.zeros(511)
    with pytest.raises(ValueError, match=r"fmt.decoder.linear.bias has shape \(511,\)"):
        convert_official(state)
    state = dict(official_state)
    state["fmt.extra.weight"] = torch.zeros(1)
    with pytest.raises(KeyError, match="unexpected"):
        convert_official(state)
    with pytest.raises(KeyError, match="no 'fmt"):
        convert_official({"motion_autoencoder.x": torch.zeros(1)})
    with pytest.raises(FileNotFoundError, match=r"float\.pth"):
        load_official("/nonexistent/float.pth")
    with pytest.raises(TypeError, match="load_official"):
        convert_official("/nonexistent/float.pth")  # type: ignore[arg-type]


def test_a_stored_band_mask_must_be_the_band(official_state: dict[str, torch.Tensor]) -> None:
    state = {**official_state, "fmt.alignment_mask": band_mask(60, 2)}
    with pytest.warns(OfficialLicenseWarning):
        assert torch.equal(convert_official(state).alignment_mask, band_mask(60, 2))
    state["fmt.alignment_mask"] = band_mask(60, 3)  # another band width: the attention would differ
    with pytest.raises(ValueError, match=r"fmt\.alignment_mask is not the \+-2-frame band"):
        convert_official(state)
    state["fmt.alignment_mask"] = torch.zeros(3, 3, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"fmt\.alignment_mask has shape \(3, 3\), expected \(60, 60\)"):
        convert_official(state)
