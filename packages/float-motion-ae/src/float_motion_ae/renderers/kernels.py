"""Kernels of the fused NCHW route (``FusedRenderer``): polyphase upsampling conv, 3x3 Winograd, 1x1 GEMM.

The official upsampling layer is "stride-2 transposed 3x3 conv, then 4x4 FIR blur". Both are linear and
shift-invariant on the zero-inserted grid, so together they are ONE stride-2 transposed conv with the 6x6
kernel ``G = W * K`` (full 2-D convolution). Output pixel ``(2c + r)`` only meets the taps of ``G`` with
parity ``r``: each of the 4 output phases is a stride-1 3x3 correlation of the *input*, and the phases
interleave with ``pixel_shuffle``. Exact (same sums, different order), no zero-inserted or padded copies,
no separate blur pass.

3x3 stride-1 convolutions of float32 CPU tensors can run through NNPACK's Winograd transform (bundled with
PyTorch): about 2.5x fewer multiplications than a direct convolution, at a rounding error of a few 1e-5 on
unit-scale activations (measured, see ``docs/float-motion-ae.md``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def upsample_phase_kernel(weight: torch.Tensor, blur: torch.Tensor) -> torch.Tensor:
    """Polyphase kernels of "stride-2 transposed conv with ``weight``, then blur with ``blur``".

    Args:
        weight: [O, I, 3, 3] convolution weight (as applied by ``conv_transpose2d(x, weight.T(0, 1))``).
        blur: [4, 4] symmetric FIR kernel (gain 4), applied with padding (1, 1) after the transposed conv.

    Returns:
        [4 * O, I, 3, 3]: channel ``4 * o + 2 * rh + rw`` holds the 3x3 correlation kernel producing output
        pixels ``(2 * y + rh, 2 * x + rw)`` of channel ``o`` from the input padded by 1 (``pixel_shuffle``
        order).
    """
    out_ch, in_ch, k, _ = weight.shape
    if k != 3 or tuple(blur.shape) != (4, 4):
        raise ValueError(f"polyphase upsampling needs a 3x3 weight and a 4x4 blur; got {k}x{k}, {blur.shape}")
    # Full convolution W * K: [O*I, 1, 6, 6]. With the blur padding (1, 1) and a symmetric K, output
    # pixel p = 2c + r reads taps G[2 * j' + r] at input c + 1 - j' for j' = 0..2: reversed stride-2 slices.
    full = F.conv_transpose2d(weight.reshape(out_ch * in_ch, 1, k, k), blur.to(weight.dtype)[None, None])
    full = full.reshape(out_ch, in_ch, 6, 6)
    phases = [full[:, :, rh::2, rw::2].flip(2, 3) for rh in (0, 1) for rw in (0, 1)]  # each [O, I, 3, 3]
    return torch.stack(phases, dim=1).reshape(4 * out_ch, in_ch, 3, 3)


def winograd_available() -> bool:
    """True when this PyTorch build bundles NNPACK (x86-64 and ARM Linux/macOS wheels do)."""
    return bool(torch._nnpack_available())


def conv3x3(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, winograd: bool) -> torch.Tensor:
    """'Same' 3x3 convolution ``x`` [1, I, H, W] -> [1, O, H, W], Winograd when asked and possible."""
    if winograd and x.dtype == torch.float32 and x.device.type == "cpu" and winograd_available():
        return torch._nnpack_spatial_convolution(x.contiguous(), weight.contiguous(), bias, [1, 1])
    return F.conv2d(x, weight, bias, padding=1)


def conv1x1(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """1x1 convolution of one frame ``x`` [1, I, H, W] with ``weight`` [O, I, 1, 1] as one matrix product.

    For few output channels (RGB, flow) ``conv2d`` takes a slow generic path on CPU; a GEMM does not.
    """
    _, in_ch, height, width = x.shape
    w = weight.reshape(weight.shape[0], in_ch)
    flat = x.reshape(in_ch, height * width)
    out = torch.mm(w, flat) if bias is None else torch.addmm(bias.reshape(-1, 1), w, flat)
    return out.reshape(1, weight.shape[0], height, width)
