"""Winograd F(2x2, 3x3): a 3x3 stride-1 conv with 2.25x fewer multiplications, for the wide, small maps.

Each 2x2 block of output pixels is computed from the 4x4 input tile around it as
``Y = A^T [ (G g G^T) * (B^T d B) ] A``: the input and output transforms are additions only, and the 16
element-wise products over the channels become 16 matrix products ``[tiles, in] @ [in, out]``: 16 multiply-
adds per 4 outputs instead of 36. On the 2-core AVX-512 CPU this beats oneDNN's direct conv (already at
~95% of the fp32 peak) where the channels are many and the map small, so the transforms are cheap next to
the products (``python -m float_tools.bench.decoder_layers``, fp32, rated at the direct conv's FLOPs:
512->512 @32 px 231 -> 307 GFLOP/s, 256->256 @64 px 230 -> 267; at 128 channels and 128 px the transforms'
memory traffic eats the gain: 110). bf16 keeps the direct conv (``WINOGRAD_DTYPES``).

Exact in exact arithmetic; in float32 its mean error against float64 is half that of the channels_last
direct conv the route otherwise runs (2.7e-7 vs 5.6e-7 on unit-scale outputs; the transforms' coefficients
are 0, +-1 and +-1/2), 1.6x that of an NCHW direct conv. The conv is a ``torch.library`` custom op so that
``torch.compile`` calls it as one opaque kernel (inductor's own code for the strided transforms is slower
than these eager ops). Shapes: input ``[1, in, H, W]`` (H, W even), transformed weight ``[16, in, out]``,
output ``[1, out, H, W]`` channels_last.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# Lavin & Gray's F(2x2, 3x3) filter transform G [4, 3]; B^T and A^T are applied as the additions below.
_G = ((1.0, 0.0, 0.0), (0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0.0, 0.0, 1.0))


def winograd_weight(kernel: torch.Tensor) -> torch.Tensor:
    """``[out, in, 3, 3]`` conv weight -> ``[16, in, out]`` transformed weight ``G g G^T`` (in float64, then
    cast back to the kernel's dtype)."""
    g = torch.tensor(_G, dtype=torch.float64, device=kernel.device)
    u = torch.einsum("ax,oixy,by->aboi", g, kernel.to(torch.float64), g)  # [4, 4, out, in]
    out_ch, in_ch = kernel.shape[:2]
    return u.reshape(16, out_ch, in_ch).transpose(1, 2).contiguous().to(kernel.dtype)


def _input_tiles(x: torch.Tensor) -> torch.Tensor:
    """``B^T d B`` of every 4x4 tile (stride 2) of the zero-padded map: ``[1, C, H, W]`` -> ``[16, T, C]``."""
    height, width = x.shape[2], x.shape[3]
    rows, cols = height // 2, width // 2
    padded = F.pad(x, (1, 1, 1, 1))[0].permute(1, 2, 0)  # [H + 2, W + 2, C]
    r = [padded[k : k + 2 * rows : 2] for k in range(4)]  # row k of every tile: [rows, W + 2, C]
    tiles = []
    for t in (r[0] - r[2], r[1] + r[2], r[2] - r[1], r[1] - r[3]):
        c = [t[:, k : k + 2 * cols : 2] for k in range(4)]  # [rows, cols, C]
        tiles += [c[0] - c[2], c[1] + c[2], c[2] - c[1], c[1] - c[3]]
    return torch.stack(tiles).reshape(16, rows * cols, x.shape[1])


def _output_blocks(m: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``A^T m A`` of every tile: ``[16, T, out]`` -> ``[1, out, H, W]`` (channels_last)."""
    rows, cols = height // 2, width // 2
    m = m.reshape(4, 4, rows, cols, -1)
    top, bottom = m[0] + m[1] + m[2], m[1] - m[2] - m[3]  # [4, rows, cols, out]
    blocks = [
        torch.stack([half[0] + half[1] + half[2], half[1] - half[2] - half[3]], dim=2)
        for half in (top, bottom)
    ]  # each [rows, cols, 2, out]
    y = torch.stack(blocks, dim=1)  # [rows, 2, cols, 2, out]
    return y.reshape(1, height, width, -1).permute(0, 3, 1, 2)


@torch.library.custom_op("float_motion_ae::winograd_conv3x3", mutates_args=())
def winograd_conv3x3(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """3x3 conv, stride 1, zero padding 1, no bias: ``[1, in, H, W]`` x ``[16, in, out]``
    -> ``[1, out, H, W]`` (channels_last), H and W even.

    Raises:
        ValueError: a batch other than one frame, odd sides, or a weight that is not ``[16, in, out]``.
    """
    _check(x, weight)
    return _output_blocks(torch.bmm(_input_tiles(x), weight), x.shape[2], x.shape[3])


def _check(x: torch.Tensor, weight: torch.Tensor) -> None:
    if x.ndim != 4 or x.shape[0] != 1 or x.shape[2] % 2 or x.shape[3] % 2:
        raise ValueError(
            f"winograd_conv3x3 takes one frame [1, C, H, W] with even H and W, got {tuple(x.shape)}"
        )
    if weight.ndim != 3 or weight.shape[0] != 16 or weight.shape[1] != x.shape[1]:
        raise ValueError(
            f"winograd_conv3x3 weight must be [16, {x.shape[1]}, out] (winograd_weight of a 3x3 kernel), "
            f"got {tuple(weight.shape)}"
        )


@winograd_conv3x3.register_fake
def _(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    _check(x, weight)
    out = x.new_empty(1, weight.shape[2], x.shape[2], x.shape[3], dtype=x.dtype)
    return out.contiguous(memory_format=torch.channels_last)


WINOGRAD_DTYPES: tuple[torch.dtype, ...] = (torch.float32, torch.float64)
"""Dtypes whose wide 3x3 convs take Winograd (float64 only for exactness checks). Not bf16, measured both
ways on the 2-core CPU: with the transforms in bf16 the layers run 1.2-1.6x faster but one conv's error is
2.5x the direct conv's and the compiled 512 px decoder gains 2% (0.1351 -> 0.1326 s/frame) for a mean error
4.2e-2 -> 4.3e-2; with the transforms in float32 (error 2x) it is no faster than oneDNN's direct bf16 conv
(512 @32: 460 vs 473 GFLOP/s)."""


def winograd_applies(in_ch: int, height: int, width: int, dtype: torch.dtype) -> bool:
    """Whether Winograd is the faster conv for this layer on the CPU: a ``WINOGRAD_DTYPES`` dtype, >= 256
    input channels, even sides of 16-64 px (measured per layer: ``bench.decoder_layers``)."""
    wide_and_small = in_ch >= 256 and 16 <= height <= 64 and 16 <= width <= 64
    return dtype in WINOGRAD_DTYPES and wide_and_small and height % 2 == 0 and width % 2 == 0
