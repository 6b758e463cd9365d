"""``ChannelsLastRenderer``: the decoder's channels-last inference route (oneDNN convs, exact gather warp).

One frame at a time, every feature map is kept in ``torch.channels_last`` memory format (NHWC strides on an
NCHW-shaped tensor), where PyTorch hands 3x3 and transposed convolutions to oneDNN's direct kernels, which
run near the CPU's GEMM peak (measured on a 2-core AVX-512 CPU: ~220 GFLOP/s fp32, ~440 GFLOP/s bf16, against
85-130 GFLOP/s for NCHW at the fine levels). The maths is the official one, reordered:

- upsampling layers run the stride-2 transposed conv, then the 4x4 FIR blur as a depthwise conv whose
  per-channel kernel also carries the demodulation and whose bias is the activation's bias (both are
  per-output-channel linear maps, so they commute with the blur);
- the style modulation goes on the smaller side: into the weight on fine maps, onto the activations
  (``conv(x * s, W)``) on coarse maps with 512x512 kernels; the leaky-ReLU gain rides in the conv;
- the warp is bilinear sampling written as a gather: each output pixel is the weighted sum of 4 rows of the
  feature map viewed as ``[H * W, C]`` (``embedding_bag``), the same formula as ``grid_sample(...,
  padding_mode="zeros", align_corners=False)`` (bit-identical in float32, measured) at a fraction of its
  cost on channels-last maps;
- the flow head, the sampling positions, the warp and the RGB head run in float32 (float64 for a float64
  model) whatever the model dtype: a bf16 sampling coordinate is off by up to a pixel at 512x512.

In bf16 the convolutions run in bf16 (oneDNN's native AVX512-BF16/AMX kernels where the CPU has them).
Shapes in this module: maps ``[1, C, H, W]`` (channels_last strides), rows ``[H * W, C]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import torch
import torch.nn.functional as F

from float_motion_ae.layers import warp_dtype
from float_motion_ae.renderers.base import InferenceRenderer
from float_motion_ae.renderers.constants import weight_constant

if TYPE_CHECKING:
    from float_motion_ae.decoder import ModulatedConv2d, StyledConv, Synthesis, ToFlow, ToRGB

CL = torch.channels_last


@dataclass(frozen=True)
class ChannelsLastRenderer(InferenceRenderer):
    """The channels-last route at inference (see the module docstring; also bf16/fp16, warping in float32),
    the official formulation elsewhere (training, other devices).

    Attributes:
        batch: see ``Renderer``; with ``"weights"`` each frame of a batch takes this route.
    """

    def modulated_conv(self, conv: ModulatedConv2d, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        if self.accepts(conv, x) and (x.shape[0] == 1 or self.batch_mode(x) == "weights"):
            s = conv.modulation(style)
            return torch.cat([modulated_conv(conv, x[i : i + 1], s[i]) for i in range(x.shape[0])])
        return super().modulated_conv(conv, x, style)

    def styled_conv(self, layer: StyledConv, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        if x.shape[0] == 1 and self.accepts(layer.conv, x):
            return styled_conv(layer, x, style)
        return super().styled_conv(layer, x, style)

    def render_batch(
        self, synthesis: Synthesis, latent: torch.Tensor, features: tuple[torch.Tensor, ...]
    ) -> torch.Tensor:
        if latent.shape[0] == 1 and self.accepts(synthesis.conv1.conv, latent):
            return render(synthesis, latent, features)
        return super().render_batch(synthesis, latent, features)


def to_channels_last(x: torch.Tensor) -> torch.Tensor:
    """``x`` [B, C, H, W] in channels_last memory format (no copy when it already is)."""
    return x.contiguous(memory_format=CL)


def map_rows(x: torch.Tensor) -> torch.Tensor:
    """A [1, C, H, W] map as rows [H * W, C] (a view for channels_last maps, a copy otherwise)."""
    return x[0].permute(1, 2, 0).reshape(-1, x.shape[1])


def rows_map(rows: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Rows [H * W, C] as a [1, C, H, W] map with channels_last strides (a view)."""
    return rows.view(1, height, width, rows.shape[1]).permute(0, 3, 1, 2)


def gather_bilinear(table: torch.Tensor, height: int, width: int, grid: torch.Tensor) -> torch.Tensor:
    """Bilinear sampling of a map by gathering rows; ``grid_sample(zeros padding, align_corners=False)``.

    Args:
        table: [H * W, C] rows of the sampled map (row ``y * W + x`` is pixel (y, x)).
        height, width: H and W of the sampled map.
        grid: [P, 2] sampling positions (x, y) in [-1, 1] (-1 is the left/top edge of the first pixel),
            same dtype as ``table``.

    Returns:
        [P, C] sampled values; corners outside the map contribute zero, as with zeros padding.
    """
    ix = ((grid[:, 0] + 1) * width - 1) * 0.5
    iy = ((grid[:, 1] + 1) * height - 1) * 0.5
    x0 = torch.floor(ix)
    y0 = torch.floor(iy)
    wx1, wy1 = ix - x0, iy - y0
    wx0, wy0 = 1 - wx1, 1 - wy1
    x0i, y0i = x0.to(torch.int64), y0.to(torch.int64)
    x1i, y1i = x0i + 1, y0i + 1
    in_x0, in_x1 = (x0i >= 0) & (x0i < width), (x1i >= 0) & (x1i < width)
    in_y0, in_y1 = (y0i >= 0) & (y0i < height), (y1i >= 0) & (y1i < height)
    corners = (
        (x0i, y0i, in_x0 & in_y0),
        (x1i, y0i, in_x1 & in_y0),
        (x0i, y1i, in_x0 & in_y1),
        (x1i, y1i, in_x1 & in_y1),
    )
    weights = (wx0 * wy0, wx1 * wy0, wx0 * wy1, wx1 * wy1)
    # A corner outside the map reads row 0 with weight 0: the zeros padding without a padded copy.
    index = torch.stack([torch.where(ok, y * width + x, 0) for x, y, ok in corners], dim=1)
    weight = torch.stack([torch.where(ok, w, 0) for (_, _, ok), w in zip(corners, weights, strict=True)], 1)
    # Under autocast the grid can come out of a bf16 matmul while the table stays float32.
    return F.embedding_bag(index, table, per_sample_weights=weight.to(table.dtype), mode="sum")


def modulated_conv(
    mc: ModulatedConv2d, x: torch.Tensor, s: torch.Tensor, bias: torch.Tensor | None = None, gain: float = 1.0
) -> torch.Tensor:
    """``gain * (modconv(x, s) + bias)`` for one frame, channels_last.

    Args:
        mc: the layer (3x3 with optional upsampling, or 1x1).
        x: [1, in, H, W] input map (model dtype; made channels_last here if it is not).
        s: [in] modulation scales (``mc.modulation(style)[0]``).
        bias: optional [out] (any shape with ``out`` elements) bias added before the gain.
        gain: positive factor (the leaky-ReLU gain, which commutes with the leaky ReLU).

    Returns:
        [1, out, H, W] ([1, out, 2H, 2W] when upsampling), channels_last, in ``x.dtype``.
    """
    dtype = x.dtype
    x = to_channels_last(x)
    exact = warp_dtype(dtype)  # per-channel factors are computed at >= float32 precision
    s32 = s.to(exact)
    if mc.demodulate:
        c = torch.rsqrt(weight_constant(mc, "energy").to(exact) @ s32.square() + 1e-8) * gain
    else:
        c = torch.full((mc.out_ch,), gain, dtype=exact, device=x.device)
    b = None if bias is None else (bias.reshape(-1).to(exact) * gain).to(dtype)
    weight_numel = mc.in_ch * mc.out_ch * mc.kernel_size**2
    # Modulate the smaller side: activations on coarse maps (big weights), the weight on fine maps.
    modulate_input = x.numel() < weight_numel
    if mc.upsample:
        if modulate_input:
            scaled_x = x * s.to(dtype)[None, :, None, None]
            out = F.conv_transpose2d(scaled_x, weight_constant(mc, "transposed_cl"), stride=2)
        else:
            weight = weight_constant(mc, "transposed").to(exact) * s32[:, None, None, None]  # [in, out, 3, 3]
            out = F.conv_transpose2d(x, to_channels_last(weight.to(dtype)), stride=2)
        # Blur with the demodulation folded into each channel's FIR kernel, bias added by the same conv.
        kernel = torch.flip(mc.blur.kernel, [0, 1]).to(exact)[None, None] * c[:, None, None, None]
        return F.conv2d(out, to_channels_last(kernel.to(dtype)), b, padding=1, groups=mc.out_ch)
    if modulate_input:
        out = F.conv2d(
            x * s.to(dtype)[None, :, None, None], weight_constant(mc, "kernel_cl"), padding=mc.padding
        )
        out = out.mul_(c.to(dtype)[None, :, None, None])
        return out if b is None else out.add_(b[None, :, None, None])
    weight = weight_constant(mc, "kernel").to(exact) * (c[:, None] * s32[None, :])[:, :, None, None]
    return F.conv2d(x, to_channels_last(weight.to(dtype)), b, padding=mc.padding)


def styled_conv(layer: StyledConv, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """StyledConv for one frame: ``leaky(modconv(x) + bias) * sqrt(2)``, channels_last [1, out, H', W']."""
    act = layer.activate
    s = layer.conv.modulation(style)[0]
    out = modulated_conv(layer.conv, x, s, bias=act.bias, gain=act.gain)
    return F.leaky_relu_(out, act.negative_slope)


def flow_and_warp(
    to_flow: ToFlow,
    x: torch.Tensor,
    style: torch.Tensor,
    table: torch.Tensor,
    skip: torch.Tensor | None,
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
    weight = weight_constant(conv, "kernel").to(dtype)[:, :, 0, 0] * s[None, :]  # [3, C], no demodulation
    pre = F.linear(map_rows(to_channels_last(x)).to(dtype), weight, to_flow.bias.reshape(-1).to(dtype))
    pre_map = rows_map(pre, height, width)  # [1, 3, H, W]
    if skip is not None:
        pre_map = pre_map + to_flow.upsample(skip)
    pre_rows = map_rows(to_channels_last(pre_map))
    # Elementwise ops on a strided [:, 0:2] slice take a slow scalar path: run them on the contiguous rows.
    offsets = torch.tanh(pre_rows)[:, 0:2]
    grid = to_flow.identity_grid(height, width, pre_rows).reshape(-1, 2) + offsets
    mask = torch.sigmoid(pre_rows[:, 2:3].contiguous())
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
    weight = (conv.weight * conv.scale).to(sampled.dtype)[:, :, 0, 0]
    rgb = F.linear(sampled, weight).mul_(mask).add_(act.bias.reshape(1, -1).to(sampled.dtype))
    rgb = F.leaky_relu_(rgb, act.negative_slope).mul_(act.gain).add_(to_rgb.bias.reshape(1, -1).to(rgb.dtype))
    out = rows_map(rgb, height, width)
    return out if skip is None else out + to_rgb.upsample(skip)


def render(synthesis: Synthesis, latent: torch.Tensor, features: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """One frame through the channels-last route.

    Args:
        synthesis: the decoder.
        latent: [1, d] identity + motion (model dtype).
        features: coarse-to-fine source maps [1, C_l, H_l, W_l]; fastest when already channels_last in the
            warp dtype (``MotionAutoEncoder.prepare_features``), else converted here on every call.

    Returns:
        [1, 3, S, S] image (contiguous NCHW), model dtype.
    """
    dtype = latent.dtype
    wdtype = warp_dtype(dtype)
    out = styled_conv(synthesis.conv1, synthesis.input(1), latent)
    flow: torch.Tensor | None = None
    rgb: torch.Tensor | None = None
    last = len(synthesis.to_flows) - 1
    for level, (to_flow, to_rgb, feature) in enumerate(
        zip(synthesis.to_flows, synthesis.to_rgbs, features, strict=True)
    ):
        out = styled_conv(cast("StyledConv", synthesis.convs[2 * level]), out, latent)
        out = styled_conv(cast("StyledConv", synthesis.convs[2 * level + 1]), out, latent)
        height, width = out.shape[2], out.shape[3]
        table = map_rows(to_channels_last(feature.to(wdtype)))
        sampled, mask, flow = flow_and_warp(cast("ToFlow", to_flow), out, latent, table, flow)
        rgb = masked_rgb(cast("ToRGB", to_rgb), sampled, mask, rgb, height, width)
        if level != last:
            sampled_map = rows_map(sampled.to(dtype), height, width)
            out = torch.lerp(out, sampled_map, rows_map(mask.to(dtype), height, width))
    assert rgb is not None
    return rgb.contiguous().to(dtype)
