"""Rescale a trained auto-encoder's latent space without changing a single rendered pixel.

FLOAT's flow model starts every sample from N(0, I) noise, so the motion latents it generates should vary on
a scale of about 1. A small auto-encoder trained with L1 only may settle on latents a hundred times smaller,
where the flow model's velocity errors swamp the signal. The decoder only sees ``latent = identity + motion``
through the linear style maps of its modulated convolutions, so multiplying identity and motion by ``c`` and
dividing every style map's weight by ``c`` leaves the decoder's output unchanged:

- the identity's last 4x4 conv (no bias) is multiplied by ``c``;
- the motion head (linear layers with biases) gets its first weight divided by ``c`` (it now reads ``c x``)
  and its last weight and bias multiplied by ``c`` (so the coefficients, hence the motion, scale by ``c``);
- every ``ModulatedConv2d.modulation`` weight of the decoder is divided by ``c``.
"""

from __future__ import annotations

from typing import cast

import torch

from float_motion_ae.layers import EqualConv2d, EqualLinear
from float_motion_ae.model import MotionAutoEncoder

__all__ = ["coefficient_scale", "rescale_latents"]


@torch.no_grad()
def coefficient_scale(model: MotionAutoEncoder, images: torch.Tensor) -> float:
    """Mean over the M directions of the std of the motion coefficients of ``images`` ``[N, 3, S, S]``."""
    coeffs = torch.cat([model.encode(images[s : s + 64]).coeffs for s in range(0, len(images), 64)])
    return coeffs.std(0).mean().item()


@torch.no_grad()
def rescale_latents(model: MotionAutoEncoder, factor: float) -> MotionAutoEncoder:
    """Multiply identity and motion latents by ``factor`` (> 0) in place; renders stay the same. Returns
    ``model``. Save and reload it before fast inference (the decoder caches derived inference kernels)."""
    if not factor > 0:
        raise ValueError(f"factor must be > 0, got {factor}")
    last_conv = cast(EqualConv2d, model.enc.net_app.convs[-1])
    last_conv.weight.mul_(factor)
    if last_conv.bias is not None:
        last_conv.bias.mul_(factor)
    head = [cast(EqualLinear, layer) for layer in model.enc.fc]
    head[0].weight.div_(factor)
    head[-1].weight.mul_(factor)
    if head[-1].bias is not None:
        head[-1].bias.mul_(factor)
    for name, module in model.dec.named_modules():
        if name.endswith("conv") and hasattr(module, "modulation"):
            module.modulation.weight.div_(factor)
    return model
