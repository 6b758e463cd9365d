"""StyleGAN2-like decoder that renders a latent by warping the source image's encoder features.

Module and parameter names follow the official checkpoint (``dec.*``). The maths is the official one; the
execution differs where it is faster and numerically equivalent:

- no grouped convolution: on CPU each frame is one dense conv with its modulated weight (a batch-1 conv
  already runs near peak there, and the result is bit-identical alone or in a batch); on GPU a batch is one
  dense conv on modulated *activations* (``conv(x * s, W) * demod``), see ``BatchStrategy``;
- blur / upsampling filters run as one depthwise convolution over all maps;
- the identity sampling grid of each resolution is built once and cached;
- at inference (no gradient needed) each frame runs fused CPU kernels (see ``DecoderKernels``): by default
  the channels-last route of ``float_motion_ae.channels_last`` (oneDNN convolutions, demodulation and bias
  folded into the depthwise blur, an exact gather-based warp; also in bf16), or the NCHW kernels of
  ``float_motion_ae.fused`` (upsampling conv + blur as one polyphase conv, bias and gain folded into the
  conv, Winograd 3x3 convolutions on float32).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from float_motion_ae import channels_last
from float_motion_ae.basis import Direction
from float_motion_ae.config import MotionAEConfig
from float_motion_ae.fused import (
    DecoderKernels,
    conv1x1,
    conv3x3,
    default_kernels,
    upsample_phase_kernel,
)
from float_motion_ae.layers import BLUR_TAPS, Blur, EqualConv2d, EqualLinear, FusedLeakyReLU, Upsample

BatchStrategy = Literal["auto", "weights", "activations"]
"""How a batch of N > 1 samples is modulated: ``"weights"`` loops over samples with per-sample weights
(exact, CPU default), ``"activations"`` runs one dense conv on ``x * s`` then demodulates (GPU default; equal
to the per-sample result up to float rounding), ``"auto"`` picks by device."""


POLYPHASE_MIN_PIXELS = 64 * 64
"""Upsampling convs on inputs with fewer pixels use transposed conv + blur (cheaper there), else polyphase."""

WINOGRAD_MIN_PIXELS = 32 * 32
"""3x3 convs on maps with fewer pixels run direct: NNPACK re-transforms the whole kernel on every call."""


class ModulatedConv2d(nn.Module):
    """Style-modulated convolution (StyleGAN2), optionally 2x transposed-conv upsampling + blur.

    ``weight`` [1, out, in, k, k]; ``modulation`` maps the style [B, style_dim] to per-input-channel scales
    (bias initialised to 1). With demodulation each output channel is rescaled to unit expected variance:
    ``demod[b, o] = rsqrt(sum_{i,kh,kw} (scale * W[o,i,kh,kw] * s[b,i])^2 + 1e-8)``.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel_size: int,
        style_dim: int,
        demodulate: bool = True,
        upsample: bool = False,
    ):
        super().__init__()
        self.in_ch, self.out_ch, self.kernel_size = in_ch, out_ch, kernel_size
        self.weight = nn.Parameter(torch.randn(1, out_ch, in_ch, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_ch, bias_init=1.0)
        self.scale = 1.0 / math.sqrt(in_ch * kernel_size**2)
        self.padding = kernel_size // 2
        self.demodulate = demodulate
        self.upsample = upsample
        self.batch_strategy: BatchStrategy = "auto"
        self.kernels: DecoderKernels = "auto"
        # Weight-derived constants of the fused path, rebuilt whenever the weight changes (see _constant).
        self._derived: dict[str, torch.Tensor] = {}
        self._derived_key: tuple[object, ...] | None = None
        if upsample:
            p = (len(BLUR_TAPS) - 2) - (kernel_size - 1)
            self.blur = Blur(pad=((p + 1) // 2 + 1, p // 2 + 1), upsample_factor=2)

    def inference_kernels(self, x: torch.Tensor) -> DecoderKernels | None:
        """The fused kernels to use for ``x``, or None for the reference path (gradients, GPU, settings)."""
        if self.kernels == "reference" or x.device.type != "cpu":
            return None
        if torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad):
            return None
        if self.upsample and (self.kernel_size != 3 or tuple(self.blur.kernel.shape) != (4, 4)):
            return None
        kernels = default_kernels() if self.kernels == "auto" else self.kernels
        if kernels != "channels_last" and x.dtype not in (torch.float32, torch.float64):
            # The NCHW fused kernels compute flows in the model dtype; in bf16/fp16 that moves the warps,
            # so those dtypes keep the official order there (the channels-last route warps in float32).
            return None
        return kernels

    def fused(
        self,
        x: torch.Tensor,
        s: torch.Tensor,
        kernels: DecoderKernels,
        bias: torch.Tensor | None = None,
        gain: float = 1.0,
    ) -> torch.Tensor:
        """One frame through the fused kernels: ``gain * (modconv(x, s) + bias)``.

        Args:
            x: [1, in, H, W] input maps.
            s: [in] modulation scales (``self.modulation(style)[0]``).
            kernels: ``"fused"`` or ``"winograd"`` (see ``DecoderKernels``).
            bias: optional [1, out, 1, 1] (or [out]) bias added before the gain (the activation's bias).
            gain: positive factor (the leaky-ReLU gain, which commutes with the leaky ReLU).

        Returns:
            [1, out, H, W] ([1, out, 2H, 2W] when upsampling), the pre-activation.
        """
        if self.demodulate:
            c = torch.rsqrt(self._constant("energy") @ s.square() + 1e-8) * gain
        else:
            c = torch.full((self.out_ch,), gain, dtype=x.dtype, device=x.device)
        b = None if bias is None else bias.reshape(-1) * gain
        if self.upsample and x.shape[2] * x.shape[3] < POLYPHASE_MIN_PIXELS:
            # Coarse maps: the polyphase conv does 4x the multiply-adds of the transposed conv, and the
            # separate blur is cheap there; modulate activations (small) rather than the big weight.
            out = F.conv_transpose2d(x * s[None, :, None, None], self._constant("transposed"), stride=2)
            out = self.blur(out).mul_(c[:, None, None])
            return out if b is None else out.add_(b[:, None, None])
        base = self._constant("phases" if self.upsample else "kernel")
        if self.upsample:  # base holds the 4 output phases per channel, pixel_shuffle order
            c = c.repeat_interleave(4)
            b = None if b is None else b.repeat_interleave(4)
        out_numel = base.shape[0] * x.shape[2] * x.shape[3]
        if x.numel() + 2 * out_numel < base.numel():
            # Small maps, big weight (coarse levels): modulate the activations, scale the output.
            out = self._fused_conv(x * s[None, :, None, None], base, None, kernels)
            out.mul_(c[:, None, None])
            if b is not None:
                out.add_(b[:, None, None])
        else:
            weight = base * (c[:, None] * s[None, :])[:, :, None, None]
            out = self._fused_conv(x, weight, b, kernels)
        return F.pixel_shuffle(out, 2) if self.upsample else out

    def _fused_conv(
        self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, kernels: DecoderKernels
    ) -> torch.Tensor:
        if weight.shape[-1] == 3:
            winograd = kernels == "winograd" and x.shape[2] * x.shape[3] >= WINOGRAD_MIN_PIXELS
            return conv3x3(x, weight, bias, winograd=winograd)
        if weight.shape[-1] == 1:
            return conv1x1(x, weight, bias)
        return F.conv2d(x, weight, bias, padding=self.padding)

    def _constant(self, name: str) -> torch.Tensor:
        """A weight-derived constant, built on first use and cached until the weight changes.

        ``"kernel"``: scaled weight ``W * scale`` [out, in, k, k]; ``"transposed"``: the same as a
        transposed-conv weight [in, out, k, k]; ``"phases"``: polyphase upsampling kernels
        [4 * out, in, 3, 3]; ``"energy"``: ``sum_k (W * scale)^2`` [out, in]; ``"kernel_cl"`` /
        ``"transposed_cl"``: those two in channels_last memory format (the channels-last route).
        """
        w = self.weight
        # Inference tensors (a model built under torch.inference_mode) have no version counter: in-place
        # updates could not be detected, so their constants are rebuilt on every call instead of cached.
        key = None if w.is_inference() else (w._version, w.data_ptr(), w.dtype, w.device)
        if key is None or key != self._derived_key:
            self._derived = {}
            self._derived_key = key
        value = self._derived.get(name)
        if value is None:
            with torch.no_grad():
                scaled = w[0] * self.scale
                if name.endswith("_cl"):
                    value = self._constant(name[: -len("_cl")]).contiguous(memory_format=torch.channels_last)
                elif name == "energy":
                    # At >= float32 precision: bf16 sums of 4608 squares would shift the demodulation.
                    exact = w[0].to(torch.promote_types(w.dtype, torch.float32)) * self.scale
                    value = exact.square().sum(dim=(2, 3))
                elif name == "transposed":
                    value = scaled.transpose(0, 1).contiguous()
                elif name == "phases":
                    value = upsample_phase_kernel(scaled, self.blur.kernel).contiguous()
                else:
                    value = scaled.contiguous()
            if key is not None:
                self._derived[name] = value
        return value

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """``x`` [B, in, H, W], ``style`` [B, style_dim] -> [B, out, H, W] (2H, 2W if upsampling)."""
        s = self.modulation(style)
        weight = self.weight[0] * self.scale
        strategy = self.batch_strategy
        if strategy == "auto":
            strategy = "activations" if x.is_cuda else "weights"
        kernels = self.inference_kernels(x)
        if kernels == "channels_last" and (x.shape[0] == 1 or strategy == "weights"):
            frames = [channels_last.modulated_conv(self, x[i : i + 1], s[i]) for i in range(x.shape[0])]
            return torch.cat(frames)
        if kernels is not None and (x.shape[0] == 1 or strategy == "weights"):
            return torch.cat([self.fused(x[i : i + 1], s[i], kernels) for i in range(x.shape[0])])
        if x.shape[0] == 1:
            return self._modulated_weight_conv(x, s[0])
        if strategy == "weights":
            # Per-sample modulated weights, one dense conv per sample: on CPU a batch-1 conv already runs
            # near peak, this rounds exactly like the official code, and a frame decodes bit-identically
            # alone or inside a batch.
            return torch.cat([self._modulated_weight_conv(x[i : i + 1], s[i]) for i in range(x.shape[0])])
        out = self._conv(x * s[:, :, None, None], weight)
        if self.demodulate:
            # sum_{i,kh,kw} (W s)^2 factorises into (s^2) @ sum_k W^2: no per-sample weight tensors.
            energy = s.square() @ weight.square().sum(dim=(2, 3)).T
            out = out * torch.rsqrt(energy + 1e-8)[:, :, None, None]
        return self.blur(out) if self.upsample else out

    def _modulated_weight_conv(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        weight = self.weight[0] * self.scale * s[None, :, None, None]
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.square().sum(dim=(1, 2, 3)) + 1e-8)[:, None, None, None]
        out = self._conv(x, weight)
        return self.blur(out) if self.upsample else out

    def _conv(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            return F.conv_transpose2d(x, weight.transpose(0, 1), stride=2)
        return F.conv2d(x, weight, padding=self.padding)


class NoiseInjection(nn.Module):
    """Per-layer noise strength ``weight`` [1]. FLOAT never feeds noise; kept so checkpoints map 1:1."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        return x if noise is None else x + self.weight * noise


class StyledConv(nn.Module):
    """ModulatedConv2d (demodulated) -> NoiseInjection -> FusedLeakyReLU."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, style_dim: int, upsample: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, kernel_size, style_dim, upsample=upsample)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_ch)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        kernels = self.conv.inference_kernels(x)
        if kernels == "channels_last" and x.shape[0] == 1:
            return channels_last.styled_conv(self, x, style)
        if kernels is not None and x.shape[0] == 1:
            # leaky(z + b) * g == leaky(g * z + g * b) for g > 0: bias and gain ride in the conv, and the
            # activation runs in place on its output (no noise is ever fed, so NoiseInjection is identity).
            act = self.activate
            s = self.conv.modulation(style)[0]
            out = self.conv.fused(x, s, kernels, bias=act.bias, gain=act.gain)
            return F.leaky_relu_(out, act.negative_slope)
        return self.activate(self.noise(self.conv(x, style)))


class ConstantInput(nn.Module):
    """Learned 4x4 input map ``input`` [1, C, 4, 4], broadcast over the batch."""

    def __init__(self, channels: int, size: int = 4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, size, size))

    def forward(self, batch: int) -> torch.Tensor:
        return self.input.expand(batch, -1, -1, -1)


class ToRGB(nn.Module):
    """1x1 conv to RGB (with the official leaky-ReLU on RGB) + bias, plus the upsampled coarser RGB.

    ``conv.0.weight`` [3, C, 1, 1], ``conv.1.bias`` [1, 3, 1, 1], ``bias`` [1, 3, 1, 1].
    """

    def __init__(self, in_ch: int, upsample: bool = True):
        super().__init__()
        if upsample:
            self.upsample = Upsample()
        self.conv = nn.Sequential(EqualConv2d(in_ch, 3, 1, bias=False), FusedLeakyReLU(3))
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        """[B, C, H, W] (+ skip [B, 3, H/2, W/2]) -> [B, 3, H, W]."""
        out = self.conv(x) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        return out

    def masked(self, x: torch.Tensor, mask: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        """``forward(x * mask, skip)`` for one frame without the C-channel product (inference path).

        A 1x1 conv commutes with a per-pixel scale: ``conv(x * m) = m * conv(x)``, so the mask multiplies
        3 output channels instead of C input channels. ``x`` [1, C, H, W], ``mask`` [1, 1, H, W].
        """
        conv, act = self.conv[0], self.conv[1]
        out = conv1x1(x, conv.weight * conv.scale, None).mul_(mask)
        out = F.leaky_relu_(out.add_(act.bias), act.negative_slope).mul_(act.gain).add_(self.bias)
        return out if skip is None else out.add_(self.upsample(skip))


class ToFlow(nn.Module):
    """Predicts a flow offset (2 ch, tanh) and a blending mask (1 ch, sigmoid) from the decoder feature.

    The 3-channel pre-activation is upsampled and added at the next level (coarse-to-fine flow).
    """

    def __init__(self, in_ch: int, style_dim: int):
        super().__init__()
        self.upsample = Upsample()
        self.conv = ModulatedConv2d(in_ch, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))
        self._grids: dict[tuple[int, int, torch.device, torch.dtype], torch.Tensor] = {}

    def identity_grid(self, height: int, width: int, like: torch.Tensor) -> torch.Tensor:
        """[1, H, W, 2] (x, y) grid from ``linspace(-1, 1)`` on each axis, as the official model samples.

        With ``align_corners=False`` this grid is a slight zoom (about half a pixel at the border) rather
        than the exact identity; it is kept because the official weights were trained with it.
        """
        key = (height, width, like.device, like.dtype)
        grid = self._grids.get(key)
        if grid is None:
            ys = torch.linspace(-1.0, 1.0, height, dtype=torch.float64)
            xs = torch.linspace(-1.0, 1.0, width, dtype=torch.float64)
            gy, gx = torch.meshgrid(ys, xs, indexing="ij")
            grid = torch.stack([gx, gy], dim=-1)[None].to(device=like.device, dtype=like.dtype)
            self._grids[key] = grid
        return grid

    def forward(
        self, x: torch.Tensor, style: torch.Tensor, feature: torch.Tensor, skip: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Warp ``feature`` ([1 or B, C, H, W]) by the predicted flow.

        Returns ``(warped * mask [B, C, H, W], mask [B, 1, H, W], flow pre-activation [B, 3, H, W])``.
        """
        sampled, mask, out = self.sample(x, style, feature, skip)
        return sampled * mask, mask, out

    def sample(
        self, x: torch.Tensor, style: torch.Tensor, feature: torch.Tensor, skip: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``forward`` without the final masking: ``(warped [B, C, H, W], mask, flow pre-activation)``."""
        out = self.conv(x, style) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        batch, _, height, width = out.shape
        # Sampling positions need more precision than bf16/fp16 offer (2^-8 of the image side is a whole
        # pixel at 512): warp in float32 (or float64) whatever the model dtype.
        warp_dtype = channels_last.warp_dtype(out.dtype)
        offsets = torch.tanh(out[:, 0:2].to(warp_dtype)).permute(0, 2, 3, 1)
        grid = self.identity_grid(height, width, offsets) + offsets
        mask = torch.sigmoid(out[:, 2:3])
        if feature.shape[0] != batch:
            feature = feature.expand(batch, -1, -1, -1)
        warped = F.grid_sample(
            feature.to(warp_dtype), grid, mode="bilinear", padding_mode="zeros", align_corners=False
        ).to(out.dtype)
        return warped, mask, out


class Synthesis(nn.Module):
    """The decoder (``dec``): direction basis, constant input, styled convs, flow warping, RGB skips."""

    def __init__(self, config: MotionAEConfig):
        super().__init__()
        d = config.latent_dim
        c4 = config.channels(4)
        self.direction = Direction(d, config.motion_dim)
        self.input = ConstantInput(c4)
        self.conv1 = StyledConv(c4, c4, 3, d)
        # Present in the official checkpoint but never used by its forward pass; kept for a 1:1 mapping.
        self.to_rgb1 = ToRGB(c4, upsample=False)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.to_flows = nn.ModuleList()
        in_ch = c4
        for i in range(3, config.log_size + 1):
            out_ch = config.channels(2**i)
            self.convs.append(StyledConv(in_ch, out_ch, 3, d, upsample=True))
            self.convs.append(StyledConv(out_ch, out_ch, 3, d))
            self.to_rgbs.append(ToRGB(out_ch))
            self.to_flows.append(ToFlow(out_ch, d))
            in_ch = out_ch
        self.batch_strategy: BatchStrategy = "auto"

    def forward(self, latent: torch.Tensor, features: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """``latent`` [B, d] (identity + motion), ``features`` coarse to fine ([1 or B, C_l, H_l, W_l]).

        Returns the image [B, 3, S, S] (not clamped; the official output is unbounded RGB near [-1, 1]).
        Every styled layer receives the same latent.
        """
        strategy = self.batch_strategy
        if strategy == "auto":
            strategy = "activations" if latent.is_cuda else "weights"
        if latent.shape[0] > 1 and strategy == "weights":
            # Frame by frame: same cost per frame on CPU, and each frame is bit-identical to decoding it
            # alone (the warps amplify float rounding, so batched kernels would differ by ~1e-5).
            return torch.cat(
                [
                    self._render(
                        latent[i : i + 1], tuple(f[i : i + 1] if f.shape[0] > 1 else f for f in features)
                    )
                    for i in range(latent.shape[0])
                ]
            )
        return self._render(latent, features)

    def _render(self, latent: torch.Tensor, features: tuple[torch.Tensor, ...]) -> torch.Tensor:
        kernels = self.conv1.conv.inference_kernels(latent) if latent.shape[0] == 1 else None
        if kernels == "channels_last":
            return channels_last.render(self, latent, features)
        if kernels is not None:
            return self._render_fused(latent, features)
        out = self.conv1(self.input(latent.shape[0]), latent)
        flow: torch.Tensor | None = None
        rgb: torch.Tensor | None = None
        last = len(self.to_flows) - 1
        for level, (to_flow, to_rgb, feature) in enumerate(
            zip(self.to_flows, self.to_rgbs, features, strict=True)
        ):
            out = self.convs[2 * level](out, latent)
            out = self.convs[2 * level + 1](out, latent)
            warped, mask, flow = to_flow(out, latent, feature, flow)
            rgb = to_rgb(warped, rgb)
            if level != last:
                out = warped + out * (1.0 - mask)
        assert rgb is not None
        return rgb

    def _render_fused(self, latent: torch.Tensor, features: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """One frame at inference: same maths as ``_render`` with the masking folded into cheaper places
        (the RGB 1x1 conv commutes with the mask; the blend ``w * m + out * (1 - m)`` is one ``lerp``)."""
        out = self.conv1(self.input(1), latent)
        flow: torch.Tensor | None = None
        rgb: torch.Tensor | None = None
        last = len(self.to_flows) - 1
        for level, (to_flow, to_rgb, feature) in enumerate(
            zip(self.to_flows, self.to_rgbs, features, strict=True)
        ):
            out = self.convs[2 * level](out, latent)
            out = self.convs[2 * level + 1](out, latent)
            sampled, mask, flow = to_flow.sample(out, latent, feature, flow)
            rgb = to_rgb.masked(sampled, mask, rgb)
            if level != last:
                out = torch.lerp(out, sampled, mask)
        assert rgb is not None
        return rgb
