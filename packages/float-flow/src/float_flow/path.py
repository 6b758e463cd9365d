"""The optimal-transport (rectified) probability path between noise x_0 and data x_1.

x_t = (1 - t) x_0 + t x_1, whose velocity dx_t/dt = x_1 - x_0 is the regression target.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _expand_time(t: Tensor, like: Tensor) -> Tensor:
    if t.ndim != 1 or t.shape[0] != like.shape[0]:
        raise ValueError(f"t must have shape [batch={like.shape[0]}], got {tuple(t.shape)}")
    return t.reshape(-1, *([1] * (like.ndim - 1))).to(like.dtype)


def interpolate(x0: Tensor, x1: Tensor, t: Tensor) -> Tensor:
    """Point on the OT path: ``(1 - t) x0 + t x1``; x0, x1 [B, ...], t [B] in [0, 1]."""
    if x0.shape != x1.shape:
        raise ValueError(f"x0 {tuple(x0.shape)} and x1 {tuple(x1.shape)} must have the same shape")
    tt = _expand_time(t, x0)
    return (1 - tt) * x0 + tt * x1


def target_velocity(x0: Tensor, x1: Tensor) -> Tensor:
    """Velocity of the OT path (constant in t): ``x1 - x0``."""
    if x0.shape != x1.shape:
        raise ValueError(f"x0 {tuple(x0.shape)} and x1 {tuple(x1.shape)} must have the same shape")
    return x1 - x0


def sample_time(
    batch: int, *, generator: torch.Generator | None = None, device: torch.device | str = "cpu"
) -> Tensor:
    """[batch] flow times drawn uniformly from [0, 1)."""
    return torch.rand(batch, generator=generator, device=device)


def sample_noise(
    shape: tuple[int, ...],
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Standard normal x_0 of the given shape, drawn from ``generator`` (so a seed reproduces it)."""
    if generator is not None and torch.device(device).type != generator.device.type:
        raise ValueError(
            f"generator lives on {generator.device} but noise is requested on {device}: "
            "create the torch.Generator on the same device"
        )
    return torch.randn(shape, generator=generator, device=device, dtype=dtype)
