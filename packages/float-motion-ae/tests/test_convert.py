"""Official checkpoint conversion on a synthetic float.pth built from the manifest's keys and shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from float_motion_ae import (
    OFFICIAL_LICENSE_NOTICE,
    MotionAutoEncoder,
    OfficialLicenseWarning,
    convert_official,
    load_official,
    official_buffers,
    official_shapes,
)


@pytest.fixture(scope="module")
def synthetic_float_pth(fixture_json: Path) -> dict[str, torch.Tensor]:
    """Random tensors under every motion_autoencoder key, plus keys of the other official modules."""
    manifest = json.loads(fixture_json.read_text())
    generator = torch.Generator().manual_seed(0)
    state = {key: torch.randn(shape, generator=generator) for key, shape in manifest["tensors"].items()}
    state["fmt.x_embedder.proj.weight"] = torch.zeros(1024, 512)
    state["audio_encoder.audio_projection.0.bias"] = torch.zeros(512)
    return state


def test_converts_every_tensor_and_nothing_else(
    synthetic_float_pth: dict[str, torch.Tensor], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.warns(OfficialLicenseWarning, match="CC BY-NC") as warned:
        model = convert_official(synthetic_float_pth)
    # Stated once, as a warning a caller that already told the user can silence (no extra print).
    assert [str(w.message) for w in warned] == [OFFICIAL_LICENSE_NOTICE]
    assert capsys.readouterr().err == ""
    ours = model.state_dict()
    official = {k: v for k, v in synthetic_float_pth.items() if k.startswith("motion_autoencoder.")}
    assert len(official) == len(ours) == 177
    for key, value in official.items():
        assert torch.equal(ours[key.removeprefix("motion_autoencoder.")], value), key
    assert sum(p.numel() for p in model.parameters()) == 45_239_560
    # buffers were rebuilt, not read: the blur kernel is the normalised [1, 3, 3, 1] outer product
    kernel = model.enc.net_app.convs[1].conv2[0].kernel
    assert torch.allclose(kernel.sum(), torch.tensor(1.0)) and kernel[1, 1] == 9 / 64
    assert not model.training
    # the basis is recomputed from the stored weight exactly as the official code does
    weight = official["motion_autoencoder.dec.direction.weight"]
    assert torch.equal(model.basis(), torch.linalg.qr(weight + 1e-8).Q)


def test_strict_errors_name_the_key(synthetic_float_pth: dict[str, torch.Tensor]) -> None:
    key = "motion_autoencoder.dec.convs.3.conv.weight"
    missing = {k: v for k, v in synthetic_float_pth.items() if k != key}
    with pytest.warns(OfficialLicenseWarning), pytest.raises(KeyError, match=key):
        convert_official(missing)
    extra = dict(synthetic_float_pth)
    extra["motion_autoencoder.dec.extra.weight"] = torch.zeros(1)
    with pytest.warns(OfficialLicenseWarning), pytest.raises(KeyError, match=r"dec\.extra\.weight"):
        convert_official(extra)
    wrong = dict(synthetic_float_pth)
    wrong["motion_autoencoder.enc.fc.4.weight"] = torch.zeros(21, 512)
    with (
        pytest.warns(OfficialLicenseWarning),
        pytest.raises(ValueError, match=r"enc\.fc\.4\.weight.*\[21, 512\]"),
    ):
        convert_official(wrong)
    with pytest.warns(OfficialLicenseWarning), pytest.raises(KeyError, match="motion_autoencoder"):
        convert_official({"fmt.pos_embed": torch.zeros(1)})


def test_load_official_from_file_and_tiny_config(tmp_path: Path) -> None:
    torch.manual_seed(3)
    tiny = {"size": 16, "latent_dim": 16, "motion_dim": 4, "channel_base": 128, "channel_max": 16}
    source = MotionAutoEncoder(**tiny)
    path = tmp_path / "float.pth"
    torch.save({"state_dict": {f"motion_autoencoder.{k}": v for k, v in source.state_dict().items()}}, path)
    with pytest.warns(OfficialLicenseWarning):
        model = load_official(path, **tiny)
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        assert torch.equal(model.reconstruct(x, x), source.eval().reconstruct(x, x))
    with pytest.raises(FileNotFoundError, match=r"float\.pth"):
        load_official(tmp_path / "missing.pth")


def test_stored_buffers_are_accepted_when_they_are_the_kernels(
    synthetic_float_pth: dict[str, torch.Tensor],
) -> None:
    """A float.pth saved from state_dict() also holds the 35 blur kernels: accepted when they are ours."""
    buffers = official_buffers()
    assert len(buffers) == 35 and set(official_shapes()) == {
        k.removeprefix("motion_autoencoder.")
        for k in synthetic_float_pth
        if k.startswith("motion_autoencoder.")
    }
    with_buffers = {**synthetic_float_pth, **{f"motion_autoencoder.{k}": v for k, v in buffers.items()}}
    with pytest.warns(OfficialLicenseWarning):
        model = convert_official(with_buffers)
    assert torch.equal(model.dec.to_rgbs[2].upsample.kernel, buffers["dec.to_rgbs.2.upsample.kernel"])
    key = "motion_autoencoder.enc.net_app.convs.4.skip.0.kernel"
    with_buffers[key] = torch.ones(4, 4)
    with pytest.warns(OfficialLicenseWarning), pytest.raises(ValueError, match=key.replace(".", r"\.")):
        convert_official(with_buffers)
