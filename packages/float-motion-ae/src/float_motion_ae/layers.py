"""Equalised-learning-rate layers and FIR resampling shared by the encoder, decoder and discriminator.

Parameter names and shapes follow the StyleGAN2/LIA convention used by the official FLOAT checkpoint
(``weight`` stored un-scaled, multiplied by ``1/sqrt(fan_in)`` at run time; activation biases stored as
``[1, C, 1, 1]``), so that a converted checkpoint maps one-to-one onto these modules.

Blur kernels are rebuilt from their 1-D taps and registered as non-persistent buffers: they are constants,
never trained, and the official checkpoint does not store them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

BLUR_TAPS: tuple[int, ...] = (1, 3, 3, 1)
"""The binomial low-pass filter of StyleGAN2 used for every up/down-sampling step."""


def warp_dtype(dtype: torch.dtype) -> torch.dtype:
    """Dtype of the decoder's flow, warp and RGB heads: float32 for half types, else the model dtype.

    Sampling positions need more precision than bf16/fp16 offer (2^-8 of the image side is a whole pixel at
    512 px), so every route warps in float32 (or float64) whatever the model dtype.
    """
    return torch.float32 if dtype in (torch.bfloat16, torch.float16) else dtype


def make_blur_kernel(taps: Sequence[int] = BLUR_TAPS, gain: float = 1.0) -> torch.Tensor:
    """Separable 2-D FIR kernel ``outer(taps, taps) / sum * gain``, shape ``[k, k]``, float32."""
    k = torch.tensor(list(taps), dtype=torch.float32)
    kernel = k[:, None] * k[None, :]
    return kernel / kernel.sum() * gain


def depthwise_fir(x: torch.Tensor, kernel: torch.Tensor, pad: tuple[int, int]) -> torch.Tensor:
    """Pad then filter every channel of ``x`` [B, C, H, W] with ``kernel`` [k, k] (true convolution).

    One depthwise convolution over all maps: the same maths as filtering each map as its own
    1-channel image, at a fraction of the cost on CPU.
    """
    channels = x.shape[1]
    weight = torch.flip(kernel, [0, 1]).to(x.dtype)[None, None].expand(channels, 1, *kernel.shape)
    x = F.pad(x, (pad[0], pad[1], pad[0], pad[1]))
    return F.conv2d(x, weight, groups=channels)


def depthwise_upsample2x(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Zero-insertion 2x upsampling followed by FIR filtering (``kernel`` already scaled by 4).

    ``x`` [B, C, H, W] -> [B, C, 2H, 2W]. A depthwise stride-2 transposed convolution computes the same
    result as "insert zeros, pad (2, 1), convolve" for a 4-tap kernel; the first row/column of the
    transposed output corresponds to the padding offset and is cropped.
    """
    channels, height, width = x.shape[1], x.shape[2], x.shape[3]
    weight = kernel.to(x.dtype)[None, None].expand(channels, 1, *kernel.shape)
    out = F.conv_transpose2d(x, weight, stride=2, groups=channels)
    return out[:, :, 1 : 2 * height + 1, 1 : 2 * width + 1]


class Blur(nn.Module):
    """Depthwise FIR filter with fixed padding; ``kernel`` is a rebuilt, non-persistent buffer."""

    kernel: torch.Tensor  # [k, k] FIR taps (buffer)

    def __init__(self, pad: tuple[int, int], upsample_factor: int = 1, taps: Sequence[int] = BLUR_TAPS):
        super().__init__()
        self.pad = pad
        self.register_buffer("kernel", make_blur_kernel(taps, gain=upsample_factor**2), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, H, W] -> [B, C, H + pad0 + pad1 - k + 1, ...]."""
        return depthwise_fir(x, self.kernel, self.pad)


class Upsample(nn.Module):
    """2x FIR upsampling of a feature map ([B, C, H, W] -> [B, C, 2H, 2W])."""

    kernel: torch.Tensor  # [4, 4] FIR taps with gain 4 (buffer)

    def __init__(self, taps: Sequence[int] = BLUR_TAPS):
        super().__init__()
        if len(taps) != 4:
            raise ValueError(f"Upsample expects a 4-tap filter, got {len(taps)} taps")
        self.register_buffer("kernel", make_blur_kernel(taps, gain=4.0), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return depthwise_upsample2x(x, self.kernel)


class EqualLinear(nn.Module):
    """Linear layer with equalised learning rate: ``y = x @ (W / sqrt(in))^T + b``.

    ``weight`` [out, in], ``bias`` [out] (initialised to ``bias_init``).
    """

    def __init__(self, in_dim: int, out_dim: int, bias: bool = True, bias_init: float = 0.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim))
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init))) if bias else None
        self.scale = 1.0 / math.sqrt(in_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


class EqualConv2d(nn.Module):
    """Convolution with equalised learning rate; ``weight`` [out, in, k, k], optional ``bias`` [out]."""

    def __init__(
        self, in_ch: int, out_ch: int, kernel_size: int, stride: int = 1, padding: int = 0, bias: bool = True
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.scale = 1.0 / math.sqrt(in_ch * kernel_size**2)
        self.stride = stride
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, stride=self.stride, padding=self.padding)


class FusedLeakyReLU(nn.Module):
    """``leaky_relu(x + bias, 0.2) * sqrt(2)``; ``bias`` [1, C, 1, 1] as stored by the official checkpoint."""

    def __init__(self, channels: int, negative_slope: float = 0.2, gain: float = math.sqrt(2.0)):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.negative_slope = negative_slope
        self.gain = gain

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The bias follows x's dtype: under bf16 autocast the float32 bias would otherwise promote every
        # activation to float32, and the next conv would cast it back (1.11x per demo training step).
        return F.leaky_relu(x + self.bias.to(x.dtype), self.negative_slope) * self.gain


class ScaledLeakyReLU(nn.Module):
    """Bias-free ``leaky_relu(x, 0.2) * sqrt(2)`` (no parameters)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x, 0.2) * math.sqrt(2.0)


def conv_layer(
    in_ch: int,
    out_ch: int,
    kernel_size: int,
    downsample: bool = False,
    bias: bool = True,
    activate: bool = True,
) -> nn.Sequential:
    """StyleGAN2 ``ConvLayer``: [Blur] -> EqualConv2d -> [FusedLeakyReLU].

    The Sequential indices (0 blur or conv, then conv, then activation) are the checkpoint's key names.
    Downsampling blurs then convolves with stride 2, halving H and W.
    """
    layers: list[nn.Module] = []
    if downsample:
        p = (len(BLUR_TAPS) - 2) + (kernel_size - 1)
        layers.append(Blur(pad=((p + 1) // 2, p // 2)))
        stride, padding = 2, 0
    else:
        stride, padding = 1, kernel_size // 2
    layers.append(EqualConv2d(in_ch, out_ch, kernel_size, stride, padding, bias=bias and not activate))
    if activate:
        layers.append(FusedLeakyReLU(out_ch) if bias else ScaledLeakyReLU())
    return nn.Sequential(*layers)


class ResBlock(nn.Module):
    """Residual down-sampling block: [B, in, H, W] -> [B, out, H/2, W/2], ``(main + skip) / sqrt(2)``."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv1 = conv_layer(in_ch, in_ch, 3)
        self.conv2 = conv_layer(in_ch, out_ch, 3, downsample=True)
        self.skip = conv_layer(in_ch, out_ch, 1, downsample=True, activate=False, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        return (out + self.skip(x)) * (1.0 / math.sqrt(2.0))


def channel_plan(resolution: int, channel_base: int, channel_max: int) -> int:
    """Channels at a given resolution: ``min(channel_max, channel_base // resolution)`` (at least 1).

    The official plan (512@4..32, 256@64, 128@128, 64@256, 32@512) is ``channel_base=16384, channel_max=512``.
    """
    return max(1, min(channel_max, channel_base // resolution))
