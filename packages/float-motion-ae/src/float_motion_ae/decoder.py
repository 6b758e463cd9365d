"""StyleGAN2-like decoder that renders a latent by warping the source image's encoder features.

Module and parameter names follow the official checkpoint (``dec.*``). The maths here is the official one
(each module's ``reference`` method), executed where it is faster and numerically equivalent:

- no grouped convolution: on CPU each frame is one dense conv with its modulated weight (a batch-1 conv
  already runs near peak there, and the result is bit-identical alone or in a batch); on GPU a batch is one
  dense conv on modulated *activations* (``conv(x * s, W) * demod``), see ``renderers.BatchStrategy``;
- blur / upsampling filters run as one depthwise convolution over all maps;
- the identity sampling grid of each resolution is built once and cached.

How the decoder runs is the job of a renderer object (``float_motion_ae.renderers``) that every
``RenderedModule`` holds and hands its calls to: ``ReferenceRenderer`` runs the methods below as written,
the fast renderers swap in fused CPU kernels at inference. Swap it with ``set_renderer``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal, cast

import torch
import torch.nn.functional as F
from torch import nn

from float_motion_ae.basis import Direction
from float_motion_ae.config import MotionAEConfig
from float_motion_ae.layers import (
    BLUR_TAPS,
    Blur,
    EqualConv2d,
    EqualLinear,
    FusedLeakyReLU,
    Upsample,
    warp_dtype,
)
from float_motion_ae.renderers import Renderer, default_renderer


class RenderedModule(nn.Module):
    """A decoder module whose execution is delegated to ``self.renderer`` (``default_renderer()`` at first).

    The renderer is shared, not state: it is not saved, and ``set_renderer`` replaces it in this module and
    in every ``RenderedModule`` below it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.renderer: Renderer = default_renderer()

    def set_renderer(self, renderer: Renderer) -> None:
        """Use ``renderer`` here and in every rendered submodule.

        Raises:
            TypeError: ``renderer`` is not a ``float_motion_ae.renderers.Renderer``.
        """
        if not isinstance(renderer, Renderer):
            raise TypeError(
                "renderer must be a float_motion_ae.renderers.Renderer (ReferenceRenderer(), "
                f"FusedRenderer(), ChannelsLastRenderer() or default_renderer()); got {renderer!r}"
            )
        for module in self.modules():
            if isinstance(module, RenderedModule):
                module.renderer = renderer


class ModulatedConv2d(RenderedModule):
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
        # Weight-derived constants of the fast renderers, rebuilt whenever the weight changes (see cached).
        self._derived: dict[str, torch.Tensor] = {}
        self._derived_key: tuple[object, ...] | None = None
        if upsample:
            p = (len(BLUR_TAPS) - 2) - (kernel_size - 1)
            self.blur = Blur(pad=((p + 1) // 2 + 1, p // 2 + 1), upsample_factor=2)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """``x`` [B, in, H, W], ``style`` [B, style_dim] -> [B, out, H, W] (2H, 2W if upsampling)."""
        return self.renderer.modulated_conv(self, x, style)

    def reference(
        self, x: torch.Tensor, style: torch.Tensor, batch: Literal["weights", "activations"] = "weights"
    ) -> torch.Tensor:
        """The official formulation of ``forward``; ``batch`` says how N > 1 samples are modulated."""
        s = self.modulation(style)
        if x.shape[0] == 1:
            return self._modulated_weight_conv(x, s[0])
        if batch == "weights":
            # Per-sample modulated weights, one dense conv per sample: on CPU a batch-1 conv already runs
            # near peak, this rounds exactly like the official code, and a frame decodes bit-identically
            # alone or inside a batch.
            return torch.cat([self._modulated_weight_conv(x[i : i + 1], s[i]) for i in range(x.shape[0])])
        weight = self.weight[0] * self.scale
        out = self._conv(x * s[:, :, None, None], weight)
        if self.demodulate:
            # sum_{i,kh,kw} (W s)^2 factorises into (s^2) @ sum_k W^2: no per-sample weight tensors.
            energy = s.square() @ weight.square().sum(dim=(2, 3)).T
            out = out * torch.rsqrt(energy + 1e-8)[:, :, None, None]
        return self.blur(out) if self.upsample else out

    def cached(self, name: str, build: Callable[[], torch.Tensor]) -> torch.Tensor:
        """A weight-derived constant: ``build()`` (run without autograd) on first use, then reused until the
        weight changes in place or is replaced (``load_state_dict``, optimiser steps, ``.to``)."""
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
                value = build()
            if key is not None:
                self._derived[name] = value
        return value

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


class StyledConv(RenderedModule):
    """ModulatedConv2d (demodulated) -> NoiseInjection -> FusedLeakyReLU."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, style_dim: int, upsample: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, kernel_size, style_dim, upsample=upsample)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_ch)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """``x`` [B, in, H, W], ``style`` [B, style_dim] -> [B, out, H', W']."""
        return self.renderer.styled_conv(self, x, style)

    def reference(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """The official formulation of ``forward`` (the conv itself still runs through its renderer)."""
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

    @property
    def projection(self) -> EqualConv2d:
        """The 1x1 conv (``conv.0``), typed for the renderers."""
        return cast(EqualConv2d, self.conv[0])

    @property
    def activation(self) -> FusedLeakyReLU:
        """The leaky ReLU with its bias (``conv.1``), typed for the renderers."""
        return cast(FusedLeakyReLU, self.conv[1])

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        """[B, C, H, W] (+ skip [B, 3, H/2, W/2]) -> [B, 3, H, W]."""
        out = self.conv(x) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        return out


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
        exact = warp_dtype(out.dtype)
        offsets = torch.tanh(out[:, 0:2].to(exact)).permute(0, 2, 3, 1)
        grid = self.identity_grid(height, width, offsets) + offsets
        mask = torch.sigmoid(out[:, 2:3])
        if feature.shape[0] != batch:
            feature = feature.expand(batch, -1, -1, -1)
        warped = F.grid_sample(
            feature.to(exact), grid, mode="bilinear", padding_mode="zeros", align_corners=False
        ).to(out.dtype)
        return warped, mask, out


class Synthesis(RenderedModule):
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

    def forward(self, latent: torch.Tensor, features: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """``latent`` [B, d] (identity + motion), ``features`` coarse to fine ([1 or B, C_l, H_l, W_l]).

        Returns the image [B, 3, S, S] (not clamped; the official output is unbounded RGB near [-1, 1]).
        Every styled layer receives the same latent.
        """
        return self.renderer.render(self, latent, features)

    def reference(self, latent: torch.Tensor, features: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """The official decoder loop over one batch (its layers run through their renderers)."""
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
