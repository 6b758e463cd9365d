"""``ActivationRenderer``: constant conv weights, the style applied to the activations (compiler-friendly).

The modulated conv of StyleGAN2 scales the weight by the style and demodulates it per output channel. Both
factors are diagonal, so they move onto the activations without changing the maths:

    conv(x, W * s * c) = c * conv(x * s, W),   c[o] = rsqrt(sum_{i,k} (W[o, i, k] s[i])^2 + 1e-8)
                                                    = rsqrt(energy @ s^2 + 1e-8),  energy = sum_k W^2

so every conv of the decoder runs with a *constant* weight. oneDNN re-packs a weight into its blocked layout
on every eager call unless the weight is constant and pre-packed: the constant weight is what lets
``torch.compile``'s freezing pre-pack it once, and what makes the graph free of weight-sized work per frame.
The rest of the graph is written for the compiler too: channels_last maps throughout, the upsampling blur as
a depthwise conv with a constant kernel (the demodulation and bias follow it as one per-channel scale and
shift, which commute with the blur), the leaky ReLU fused into that epilogue, the warp as a gather
(``gather_bilinear``, the same formula as ``grid_sample``), the flow and RGB heads in float32 (float64 for a
float64 model) whatever the model dtype, and no Python-side caches inside the traced function (constants are
computed from the parameters; freezing folds them).

``ActivationRenderer(compile=False)`` runs the graph eagerly (weight-derived constants cached per layer);
``compile=True`` runs it through ``torch.compile`` (see ``float_motion_ae.compiled``: inductor with
freezing, a persistent cache under the user's cache dir, eager fallback with a one-line notice when there is
no C++ compiler or compiling fails). Shapes: maps ``[B, C, H, W]`` (channels_last strides), rows
``[H * W, C]``. A batch of N frames is rendered frame by frame (see ``Renderer.render``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import torch
import torch.nn.functional as F

from float_motion_ae.layers import warp_dtype
from float_motion_ae.renderers.base import InferenceRenderer
from float_motion_ae.renderers.channels_last import gather_bilinear, map_rows, rows_map, to_channels_last
from float_motion_ae.renderers.constants import weight_constant
from float_motion_ae.renderers.winograd import winograd_applies, winograd_conv3x3, winograd_weight

if TYPE_CHECKING:
    from float_motion_ae.decoder import ModulatedConv2d, StyledConv, Synthesis, ToFlow, ToRGB

CL = torch.channels_last


@dataclass(frozen=True)
class ActivationRenderer(InferenceRenderer):
    """Constant-weight, activation-modulated, channels-last route at inference (see the module docstring);
    the official formulation elsewhere (training, other devices, layer shapes it does not cover).

    Attributes:
        batch: see ``Renderer``.
        compile: run the whole decoder through ``torch.compile`` (``float_motion_ae.compiled``); falls back
            to this route in eager mode, with a one-line notice, when compiling is not possible.
        winograd: run the float32 3x3 convs with >= 256 input channels on 16-64 px maps as Winograd
            F(2x2, 3x3) (``renderers.winograd``: 2.25x fewer multiplications; bf16 keeps the direct conv);
            False keeps oneDNN's direct conv everywhere.
    """

    compile: bool = False
    winograd: bool = True

    def modulated_conv(self, conv: ModulatedConv2d, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        if self.accepts(conv, x):
            return modulated_conv(conv, x, conv.modulation(style), cached=True, winograd=self.winograd)
        return super().modulated_conv(conv, x, style)

    def styled_conv(self, layer: StyledConv, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        if self.accepts(layer.conv, x):
            return styled_conv(layer, x, style, cached=True, winograd=self.winograd)
        return super().styled_conv(layer, x, style)

    def render_batch(
        self, synthesis: Synthesis, latent: torch.Tensor, features: tuple[torch.Tensor, ...]
    ) -> torch.Tensor:
        if latent.shape[0] != 1 or not self.accepts(synthesis.conv1.conv, latent):
            return super().render_batch(synthesis, latent, features)
        if self.compile:
            from float_motion_ae.compiled import compiled_render

            return compiled_render(synthesis, latent, features, winograd=self.winograd)
        return render(synthesis, latent, features, cached=True, winograd=self.winograd)


# ------------------------------------------------------------------------------------------- constants
def kernel(conv: ModulatedConv2d, cached: bool) -> torch.Tensor:
    """The constant conv weight ``W * scale``, channels_last: [out, in, k, k] (``[in, out, 3, 3]`` for the
    transposed conv of an upsampling layer)."""
    if cached:
        return weight_constant(conv, "transposed_cl" if conv.upsample else "kernel_cl")
    scaled = conv.weight[0] * conv.scale
    if conv.upsample:
        scaled = scaled.transpose(0, 1)
    return scaled.contiguous(memory_format=CL)


def transformed_kernel(conv: ModulatedConv2d, cached: bool) -> torch.Tensor:
    """The Winograd-transformed constant weight ``G (W * scale) G^T`` [16, in, out] of a 3x3 conv."""
    if cached:
        return weight_constant(conv, "winograd")
    return winograd_weight(conv.weight[0] * conv.scale)


def energy(conv: ModulatedConv2d, cached: bool) -> torch.Tensor:
    """``sum_k (W * scale)^2`` [out, in] at >= float32 precision (bf16 sums of thousands of squares drift)."""
    if cached:
        return weight_constant(conv, "energy")
    w = conv.weight[0].to(torch.promote_types(conv.weight.dtype, torch.float32)) * conv.scale
    return w.square().sum(dim=(2, 3))


def blur_kernel(conv: ModulatedConv2d, dtype: torch.dtype) -> torch.Tensor:
    """The upsampling FIR as a depthwise conv weight [out, 1, 4, 4] (flipped: conv2d correlates)."""
    taps = torch.flip(conv.blur.kernel, [0, 1]).to(dtype)
    return taps[None, None].expand(conv.out_ch, 1, *taps.shape).contiguous(memory_format=CL)


# ---------------------------------------------------------------------------------------------- layers
def modulated_conv(
    mc: ModulatedConv2d,
    x: torch.Tensor,
    s: torch.Tensor,
    bias: torch.Tensor | None = None,
    gain: float = 1.0,
    cached: bool = True,
    winograd: bool = False,
) -> torch.Tensor:
    """``gain * (modconv(x, s) + bias)`` with a constant weight: ``conv(x * s, W) * c * gain + bias * gain``.

    Args:
        mc: the layer (3x3 with optional upsampling, or 1x1).
        x: [B, in, H, W] input map (model dtype).
        s: [B, in] modulation scales (``mc.modulation(style)``).
        bias: optional [out] (any shape with ``out`` elements) bias added before the gain.
        gain: positive factor (the leaky-ReLU gain, which commutes with the leaky ReLU).
        cached: read weight-derived constants from the layer's cache (eager); False computes them from the
            parameters (inside ``torch.compile``, where freezing folds them).
        winograd: run a 3x3 stride-1 conv of one frame as Winograd F(2x2, 3x3) where that is faster
            (``winograd.winograd_applies``: float32, wide channels, 16-64 px maps).

    Returns:
        [B, out, H, W] ([B, out, 2H, 2W] when upsampling), channels_last, in ``x.dtype``.
    """
    dtype = x.dtype
    exact = warp_dtype(dtype)  # per-channel factors at >= float32 precision
    s32 = s.to(exact)
    if mc.demodulate:
        c = torch.rsqrt(s32.square() @ energy(mc, cached).to(exact).T + 1e-8) * gain  # [B, out]
    else:
        c = torch.full((x.shape[0], mc.out_ch), gain, dtype=exact, device=x.device)
    scaled = to_channels_last(x) * s.to(dtype)[:, :, None, None]
    if mc.upsample:
        out = F.conv_transpose2d(scaled, kernel(mc, cached).to(dtype), stride=2)
        out = F.conv2d(out, blur_kernel(mc, dtype), padding=1, groups=mc.out_ch)
    elif (
        winograd
        and mc.kernel_size == 3
        and x.shape[0] == 1
        and winograd_applies(mc.in_ch, x.shape[2], x.shape[3], dtype)
    ):
        out = winograd_conv3x3(scaled, transformed_kernel(mc, cached).to(dtype))
    else:
        out = F.conv2d(scaled, kernel(mc, cached).to(dtype), padding=mc.padding)
    out = out * c.to(dtype)[:, :, None, None]
    if bias is not None:
        out = out + (bias.reshape(1, -1, 1, 1) * gain).to(dtype)
    return out


def styled_conv(
    layer: StyledConv, x: torch.Tensor, style: torch.Tensor, cached: bool = True, winograd: bool = False
) -> torch.Tensor:
    """StyledConv: ``leaky(modconv(x) + bias) * sqrt(2)``, channels_last [B, out, H', W']."""
    act = layer.activate
    s = layer.conv.modulation(style)
    out = modulated_conv(layer.conv, x, s, bias=act.bias, gain=act.gain, cached=cached, winograd=winograd)
    return F.leaky_relu(out, act.negative_slope)


def identity_grid(height: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """[H * W, 2] (x, y) rows of ``ToFlow.identity_grid`` (``linspace(-1, 1)`` per axis), no Python cache."""
    ys = torch.linspace(-1.0, 1.0, height, dtype=torch.float64, device=like.device)
    xs = torch.linspace(-1.0, 1.0, width, dtype=torch.float64, device=like.device)
    grid = torch.stack([xs[None, :].expand(height, width), ys[:, None].expand(height, width)], dim=-1)
    return grid.reshape(-1, 2).to(like.dtype)


def flow_and_warp(
    to_flow: ToFlow, x: torch.Tensor, style: torch.Tensor, table: torch.Tensor, skip: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """ToFlow for one frame without the final masking, in the warp dtype.

    Args:
        x: [1, C, H, W] decoder map (channels_last, model dtype).
        style: [1, d] latent.
        table: [H * W, C] rows of the source feature at this level (warp dtype).
        skip: [1, 3, H/2, W/2] flow pre-activation of the previous level, or None.

    Returns:
        ``(sampled [H * W, C], mask [H * W, 1], flow pre-activation [1, 3, H, W])``, warp dtype.
    """
    height, width = x.shape[2], x.shape[3]
    dtype = warp_dtype(x.dtype)
    conv = to_flow.conv
    s = conv.modulation(style)[0].to(dtype)
    weight = (conv.weight[0, :, :, 0, 0] * conv.scale).to(dtype) * s[None, :]  # [3, C], no demodulation
    pre = F.linear(map_rows(to_channels_last(x)).to(dtype), weight, to_flow.bias.reshape(-1).to(dtype))
    pre_map = rows_map(pre, height, width)  # [1, 3, H, W]
    if skip is not None:
        pre_map = pre_map + to_flow.upsample(skip)
    pre_rows = map_rows(to_channels_last(pre_map))
    offsets = torch.tanh(pre_rows[:, 0:2])
    grid = identity_grid(height, width, pre_rows) + offsets
    mask = torch.sigmoid(pre_rows[:, 2:3])
    return gather_bilinear(table, height, width, grid), mask, pre_map


def masked_rgb(
    to_rgb: ToRGB,
    sampled: torch.Tensor,
    mask: torch.Tensor,
    skip: torch.Tensor | None,
    height: int,
    width: int,
) -> torch.Tensor:
    """ToRGB of ``sampled * mask`` (rows, warp dtype) + upsampled ``skip`` -> [1, 3, H, W].

    The 1x1 conv commutes with the per-pixel mask, so the mask scales 3 channels instead of C.
    """
    conv, act = to_rgb.projection, to_rgb.activation
    weight = (conv.weight[:, :, 0, 0] * conv.scale).to(sampled.dtype)
    rgb = F.linear(sampled, weight) * mask + act.bias.reshape(1, -1).to(sampled.dtype)
    rgb = F.leaky_relu(rgb, act.negative_slope) * act.gain + to_rgb.bias.reshape(1, -1).to(sampled.dtype)
    out = rows_map(rgb, height, width)
    return out if skip is None else out + to_rgb.upsample(skip)


def render(
    synthesis: Synthesis,
    latent: torch.Tensor,
    features: tuple[torch.Tensor, ...],
    cached: bool = True,
    winograd: bool = False,
) -> torch.Tensor:
    """One frame through the activation route.

    Args:
        synthesis: the decoder.
        latent: [1, d] identity + motion (model dtype).
        features: coarse-to-fine source maps [1, C_l, H_l, W_l]; fastest when already channels_last in the
            warp dtype (``MotionAutoEncoder.prepare_features``).
        cached: see ``modulated_conv`` (False inside ``torch.compile``).
        winograd: see ``modulated_conv``.

    Returns:
        [1, 3, S, S] image (contiguous NCHW), model dtype.
    """
    dtype = latent.dtype
    wdtype = warp_dtype(dtype)
    out = styled_conv(synthesis.conv1, synthesis.input.input.to(dtype), latent, cached, winograd)
    flow: torch.Tensor | None = None
    rgb: torch.Tensor | None = None
    last = len(synthesis.to_flows) - 1
    for level, (to_flow, to_rgb, feature) in enumerate(
        zip(synthesis.to_flows, synthesis.to_rgbs, features, strict=True)
    ):
        out = styled_conv(cast("StyledConv", synthesis.convs[2 * level]), out, latent, cached, winograd)
        out = styled_conv(cast("StyledConv", synthesis.convs[2 * level + 1]), out, latent, cached, winograd)
        height, width = out.shape[2], out.shape[3]
        table = map_rows(to_channels_last(feature.to(wdtype)))
        sampled, mask, flow = flow_and_warp(cast("ToFlow", to_flow), out, latent, table, flow)
        rgb = masked_rgb(cast("ToRGB", to_rgb), sampled, mask, rgb, height, width)
        if level != last:
            sampled_map = rows_map(sampled.to(dtype), height, width)
            out = torch.lerp(out, sampled_map, rows_map(mask.to(dtype), height, width))
    assert rgb is not None
    return rgb.contiguous().to(dtype)
