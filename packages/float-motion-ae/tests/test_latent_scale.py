"""Rescaling the latent space leaves every rendered pixel unchanged and scales identity and motion."""

from __future__ import annotations

import pytest
import torch

from float_motion_ae import MotionAutoEncoder, default_renderer
from float_motion_ae.training import coefficient_scale, rescale_latents


@pytest.mark.parametrize("layers", [1, 2])
def test_rescale_keeps_renders_and_scales_latents(layers: int) -> None:
    torch.manual_seed(0)
    model = MotionAutoEncoder(
        size=32, latent_dim=16, motion_dim=4, channel_base=256, channel_max=16, motion_layers=layers
    )
    model.eval().set_renderer(default_renderer(batch="activations"))
    images = torch.rand(3, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        before = model.encode(images)
        render = model.reconstruct(images[:1], images)
        scale = coefficient_scale(model, images)
    rescale_latents(model, 7.5)
    with torch.no_grad():
        after = model.encode(images)
        render_after = model.reconstruct(images[:1], images)
    torch.testing.assert_close(after.identity, before.identity * 7.5, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(after.coeffs, before.coeffs * 7.5, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(render_after, render, rtol=1e-4, atol=1e-4)
    assert coefficient_scale(model, images) == pytest.approx(scale * 7.5, rel=1e-4)
    with pytest.raises(ValueError, match="> 0"):
        rescale_latents(model, 0.0)
