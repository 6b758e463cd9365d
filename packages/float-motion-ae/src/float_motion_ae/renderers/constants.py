"""Weight-derived constants of the fast renderers, cached on each ``ModulatedConv2d`` until its weight changes
(``ModulatedConv2d.cached``).

``"kernel"``: scaled weight ``W * scale`` [out, in, k, k]; ``"transposed"``: the same as a transposed-conv
weight [in, out, k, k]; ``"phases"``: polyphase upsampling kernels [4 * out, in, 3, 3] (``FusedRenderer``);
``"energy"``: ``sum_k (W * scale)^2`` [out, in] at >= float32 precision; ``"kernel_cl"`` /
``"transposed_cl"``: those two in channels_last memory format (``ChannelsLastRenderer``); ``"winograd"``: the
Winograd F(2x2, 3x3) transform of the kernel [16, in, out] (``ActivationRenderer``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from float_motion_ae.renderers.kernels import upsample_phase_kernel
from float_motion_ae.renderers.winograd import winograd_weight

if TYPE_CHECKING:
    from float_motion_ae.decoder import ModulatedConv2d

CONSTANT_NAMES: tuple[str, ...] = (
    "kernel",
    "transposed",
    "phases",
    "energy",
    "kernel_cl",
    "transposed_cl",
    "winograd",
)


def weight_constant(conv: ModulatedConv2d, name: str) -> torch.Tensor:
    """The constant ``name`` of ``conv`` (see the module docstring), built on first use and cached."""
    if name not in CONSTANT_NAMES:
        raise ValueError(f"unknown weight constant {name!r}; one of {', '.join(CONSTANT_NAMES)}")
    return conv.cached(name, lambda: _build(conv, name))


def _build(conv: ModulatedConv2d, name: str) -> torch.Tensor:
    w = conv.weight
    if name.endswith("_cl"):
        return weight_constant(conv, name[: -len("_cl")]).contiguous(memory_format=torch.channels_last)
    if name == "energy":
        # At >= float32 precision: bf16 sums of 4608 squares would shift the demodulation.
        exact = w[0].to(torch.promote_types(w.dtype, torch.float32)) * conv.scale
        return exact.square().sum(dim=(2, 3))
    scaled = w[0] * conv.scale
    if name == "transposed":
        return scaled.transpose(0, 1).contiguous()
    if name == "winograd":
        return winograd_weight(scaled)
    if name == "phases":
        return upsample_phase_kernel(scaled, conv.blur.kernel).contiguous()
    return scaled.contiguous()
