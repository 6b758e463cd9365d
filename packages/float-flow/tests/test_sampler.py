from __future__ import annotations

import pytest
import torch

from float_flow import SamplerConfig, integrate, time_grid


def cubic_field(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """v = 3 t^2: the exact solution is x(1) = x(0) + 1."""
    return (3 * t**2).reshape(-1, *([1] * (x.ndim - 1))).expand_as(x)


@pytest.mark.parametrize("steps", [1, 2, 8, 100])
def test_euler_integrates_3t2_with_the_left_riemann_error(steps: int) -> None:
    x0 = torch.randn(2, 5, 3, dtype=torch.float64)
    x1 = integrate(cubic_field, x0, SamplerConfig(method="euler", nfe=steps))
    # Left Riemann sum of 3 t^2 with step h = 1/n is (n-1)(2n-1)/(2 n^2) (exact arithmetic).
    expected = (steps - 1) * (2 * steps - 1) / (2 * steps**2)
    assert torch.allclose(x1 - x0, torch.full_like(x0, expected), atol=1e-6)
    assert abs(1.0 - expected) <= 1.5 / steps  # error O(h)


@pytest.mark.parametrize("steps", [1, 2, 8, 100])
def test_midpoint_integrates_3t2_to_second_order(steps: int) -> None:
    x0 = torch.randn(2, 5, 3, dtype=torch.float64)
    x1 = integrate(cubic_field, x0, SamplerConfig(method="midpoint", nfe=2 * steps))
    # Midpoint rule error for f = 3 t^2 on [0, 1]: exactly h^2 / 4 below the integral.
    expected = 1.0 - (1.0 / steps) ** 2 / 4
    assert torch.allclose(x1 - x0, torch.full_like(x0, expected), atol=1e-5)


def test_state_dependent_field_matches_the_methods_closed_forms() -> None:
    x0 = torch.ones(1, 1, dtype=torch.float64)
    n = 10
    euler = integrate(lambda x, t: x, x0, SamplerConfig(method="euler", nfe=n))
    midpoint = integrate(lambda x, t: x, x0, SamplerConfig(method="midpoint", nfe=2 * n))
    h = 1.0 / n
    assert float(euler) == pytest.approx((1 + h) ** n, rel=1e-9)
    assert float(midpoint) == pytest.approx((1 + h + h**2 / 2) ** n, rel=1e-9)
    # midpoint is much closer to e than Euler at the same number of steps
    assert abs(float(midpoint) - torch.e) < abs(float(euler) - torch.e) / 10


def test_official_preset_uses_9_evaluations_on_the_official_grid() -> None:
    seen: list[float] = []

    def spy(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        assert t.shape == (x.shape[0],)
        seen.append(float(t[0]))
        return torch.zeros_like(x)

    integrate(spy, torch.zeros(3, 4), SamplerConfig.official())
    # torchdiffeq's Euler on linspace(0, 1, 10) evaluates the field at the 9 left grid points.
    assert seen == pytest.approx(torch.linspace(0, 1, 10)[:-1].tolist())
    assert torch.allclose(time_grid(9), torch.linspace(0, 1, 10))


@pytest.mark.parametrize(("method", "nfe"), [("euler", 1), ("euler", 7), ("midpoint", 2), ("midpoint", 8)])
def test_number_of_evaluations_is_nfe(method: str, nfe: int) -> None:
    calls = 0

    def count(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        nonlocal calls
        calls += 1
        return x

    integrate(count, torch.ones(1, 2), SamplerConfig(method=method, nfe=nfe))  # type: ignore[arg-type]
    assert calls == nfe
