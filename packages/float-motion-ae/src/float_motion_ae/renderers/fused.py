"""``FusedRenderer``: the NCHW fused inference route (polyphase upsampling, folded bias and gain, Winograd).

One frame at a time, when no gradient is needed, on CPU, for float32/float64 tensors (bf16/fp16 would move
the warps: these kernels compute the flows in the model dtype, so those dtypes keep the official order):

- "transposed 3x3 conv then 4x4 blur" runs as one polyphase stride-1 3x3 conv
  (``kernels.upsample_phase_kernel``) on maps of at least ``POLYPHASE_MIN_PIXELS``; coarser maps keep the
  transposed conv + blur, cheaper there;
- the activation's bias and gain ride in the conv, the leaky ReLU runs in place on its output;
- the style modulation goes on the smaller side (activations on coarse maps with big weights);
- with ``winograd=True``, float32 3x3 convs on maps of at least ``WINOGRAD_MIN_PIXELS`` use NNPACK;
- the RGB 1x1 conv commutes with the warp mask; the blend ``w * m + out * (1 - m)`` is one ``lerp``.

Exact up to float rounding (float64 agrees with the reference to ~1e-13 per layer, 1e-9 end to end).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import torch
import torch.nn.functional as F

from float_motion_ae.renderers.base import InferenceRenderer
from float_motion_ae.renderers.constants import weight_constant
from float_motion_ae.renderers.kernels import conv1x1, conv3x3

if TYPE_CHECKING:
    from float_motion_ae.decoder import ModulatedConv2d, StyledConv, Synthesis, ToFlow, ToRGB

POLYPHASE_MIN_PIXELS = 64 * 64
"""Upsampling convs on inputs with fewer pixels use transposed conv + blur (cheaper there), else polyphase."""

WINOGRAD_MIN_PIXELS = 32 * 32
"""3x3 convs on maps with fewer pixels run direct: NNPACK re-transforms the whole kernel on every call."""


@dataclass(frozen=True)
class FusedRenderer(InferenceRenderer):
    """Exact NCHW fused kernels at inference (see the module docstring); the official formulation elsewhere.

    Attributes:
        winograd: run float32 3x3 convs through NNPACK's Winograd transform where the build has it (error of
            one unit-scale conv vs float64 ~3e-5, against ~2e-6 direct).
        batch: see ``Renderer``.
    """

    winograd: bool = False

    def accepts(self, conv: ModulatedConv2d, x: torch.Tensor) -> bool:
        return super().accepts(conv, x) and x.dtype in (torch.float32, torch.float64)

    def modulated_conv(self, conv: ModulatedConv2d, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        if self.accepts(conv, x) and (x.shape[0] == 1 or self.batch_mode(x) == "weights"):
            s = conv.modulation(style)
            return torch.cat([self.conv_frame(conv, x[i : i + 1], s[i]) for i in range(x.shape[0])])
        return super().modulated_conv(conv, x, style)

    def styled_conv(self, layer: StyledConv, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        if x.shape[0] == 1 and self.accepts(layer.conv, x):
            # leaky(z + b) * g == leaky(g * z + g * b) for g > 0: bias and gain ride in the conv, and the
            # activation runs in place on its output (no noise is ever fed, so NoiseInjection is identity).
            act = layer.activate
            s = layer.conv.modulation(style)[0]
            out = self.conv_frame(layer.conv, x, s, bias=act.bias, gain=act.gain)
            return F.leaky_relu_(out, act.negative_slope)
        return super().styled_conv(layer, x, style)

    def render_batch(
        self, synthesis: Synthesis, latent: torch.Tensor, features: tuple[torch.Tensor, ...]
    ) -> torch.Tensor:
        if latent.shape[0] != 1 or not self.accepts(synthesis.conv1.conv, latent):
            return super().render_batch(synthesis, latent, features)
        # One frame: the official maths with the masking folded into cheaper places (the RGB 1x1 conv
        # commutes with the mask; the blend ``w * m + out * (1 - m)`` is one ``lerp``).
        out = synthesis.conv1(synthesis.input(1), latent)
        flow: torch.Tensor | None = None
        rgb: torch.Tensor | None = None
        last = len(synthesis.to_flows) - 1
        for level, (to_flow, to_rgb, feature) in enumerate(
            zip(synthesis.to_flows, synthesis.to_rgbs, features, strict=True)
        ):
            out = synthesis.convs[2 * level](out, latent)
            out = synthesis.convs[2 * level + 1](out, latent)
            sampled, mask, flow = cast("ToFlow", to_flow).sample(out, latent, feature, flow)
            rgb = masked_rgb(cast("ToRGB", to_rgb), sampled, mask, rgb)
            if level != last:
                out = torch.lerp(out, sampled, mask)
        assert rgb is not None
        return rgb

    def conv_frame(
        self,
        conv: ModulatedConv2d,
        x: torch.Tensor,
        s: torch.Tensor,
        bias: torch.Tensor | None = None,
        gain: float = 1.0,
    ) -> torch.Tensor:
        """One frame through the fused kernels: ``gain * (modconv(x, s) + bias)``.

        Args:
            conv: the layer.
            x: [1, in, H, W] input maps.
            s: [in] modulation scales (``conv.modulation(style)[0]``).
            bias: optional [1, out, 1, 1] (or [out]) bias added before the gain (the activation's bias).
            gain: positive factor (the leaky-ReLU gain, which commutes with the leaky ReLU).

        Returns:
            [1, out, H, W] ([1, out, 2H, 2W] when upsampling), the pre-activation.
        """
        if conv.demodulate:
            c = torch.rsqrt(weight_constant(conv, "energy") @ s.square() + 1e-8) * gain
        else:
            c = torch.full((conv.out_ch,), gain, dtype=x.dtype, device=x.device)
        b = None if bias is None else bias.reshape(-1) * gain
        if conv.upsample and x.shape[2] * x.shape[3] < POLYPHASE_MIN_PIXELS:
            # Coarse maps: the polyphase conv does 4x the multiply-adds of the transposed conv, and the
            # separate blur is cheap there; modulate activations (small) rather than the big weight.
            transposed = weight_constant(conv, "transposed")
            out = F.conv_transpose2d(x * s[None, :, None, None], transposed, stride=2)
            out = conv.blur(out).mul_(c[:, None, None])
            return out if b is None else out.add_(b[:, None, None])
        base = weight_constant(conv, "phases" if conv.upsample else "kernel")
        if conv.upsample:  # base holds the 4 output phases per channel, pixel_shuffle order
            c = c.repeat_interleave(4)
            b = None if b is None else b.repeat_interleave(4)
        out_numel = base.shape[0] * x.shape[2] * x.shape[3]
        if x.numel() + 2 * out_numel < base.numel():
            # Small maps, big weight (coarse levels): modulate the activations, scale the output.
            out = self._conv(conv, x * s[None, :, None, None], base, None)
            out.mul_(c[:, None, None])
            if b is not None:
                out.add_(b[:, None, None])
        else:
            weight = base * (c[:, None] * s[None, :])[:, :, None, None]
            out = self._conv(conv, x, weight, b)
        return F.pixel_shuffle(out, 2) if conv.upsample else out

    def _conv(
        self, conv: ModulatedConv2d, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        if weight.shape[-1] == 3:
            winograd = self.winograd and x.shape[2] * x.shape[3] >= WINOGRAD_MIN_PIXELS
            return conv3x3(x, weight, bias, winograd=winograd)
        if weight.shape[-1] == 1:
            return conv1x1(x, weight, bias)
        return F.conv2d(x, weight, bias, padding=conv.padding)


def masked_rgb(
    to_rgb: ToRGB, x: torch.Tensor, mask: torch.Tensor, skip: torch.Tensor | None = None
) -> torch.Tensor:
    """``to_rgb(x * mask, skip)`` for one frame without the C-channel product.

    A 1x1 conv commutes with a per-pixel scale: ``conv(x * m) = m * conv(x)``, so the mask multiplies
    3 output channels instead of C input channels. ``x`` [1, C, H, W], ``mask`` [1, 1, H, W] -> [1, 3, H, W].
    """
    conv, act = to_rgb.projection, to_rgb.activation
    out = conv1x1(x, conv.weight * conv.scale, None).mul_(mask)
    out = F.leaky_relu_(out.add_(act.bias), act.negative_slope).mul_(act.gain).add_(to_rgb.bias)
    return out if skip is None else out.add_(to_rgb.upsample(skip))
