"""Fixed-step ODE solvers for dx/dt = v(x, t) on [0, 1]: Euler and explicit midpoint.

They know nothing about the transformer: ``field(x, t)`` is any callable, which is what lets the tests
integrate analytic fields (v = 3 t^2 gives x(1) = x(0) + 1).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from float_flow.config import SamplerConfig

VelocityField = Callable[[Tensor, Tensor], Tensor]
"""``field(x, t) -> v``: x [B, ...], t [B] flow time, v the same shape as x."""


def time_grid(num_steps: int, *, device: torch.device | str = "cpu") -> Tensor:
    """``num_steps + 1`` equally spaced times from 0 to 1 (official: linspace(0, 1, 10) = 9 steps)."""
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    return torch.linspace(0.0, 1.0, num_steps + 1, device=device)


def integrate(field: VelocityField, x0: Tensor, config: SamplerConfig | None = None) -> Tensor:
    """Integrate ``field`` from t = 0 to t = 1 starting at ``x0`` with exactly ``config.nfe`` evaluations.

    Euler: x += dt v(x, t). Midpoint: x += dt v(x + dt/2 v(x, t), t + dt/2) (second order, 2 evaluations
    per step). Returns x(1) with the shape of ``x0``.
    """
    config = config or SamplerConfig()
    B = x0.shape[0]
    grid = time_grid(config.num_steps, device=x0.device)
    x = x0
    for i in range(config.num_steps):
        t0, t1 = grid[i], grid[i + 1]
        dt = t1 - t0
        t_batch = t0.expand(B)
        v = field(x, t_batch)
        if config.method == "midpoint":
            x_mid = x + (dt / 2) * v
            v = field(x_mid, (t0 + dt / 2).expand(B))
        x = x + dt * v
    return x
