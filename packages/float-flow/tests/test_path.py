from __future__ import annotations

import pytest
import torch

from float_flow import interpolate, sample_noise, sample_time, target_velocity


def test_path_endpoints_and_velocity() -> None:
    torch.manual_seed(0)
    x0, x1 = torch.randn(3, 5, 4), torch.randn(3, 5, 4)
    assert torch.equal(interpolate(x0, x1, torch.zeros(3)), x0)
    assert torch.allclose(interpolate(x0, x1, torch.ones(3)), x1)
    # The path's time derivative (finite difference) is the target velocity, the same at every t.
    t = torch.tensor([0.1, 0.5, 0.9])
    h = 1e-3
    fd = (interpolate(x0, x1, t + h) - interpolate(x0, x1, t - h)) / (2 * h)
    assert torch.allclose(fd, target_velocity(x0, x1), atol=1e-3)
    # Per-sample times: sample 1 sits at its midpoint.
    assert torch.allclose(interpolate(x0, x1, t)[1], 0.5 * (x0[1] + x1[1]))


def test_path_shape_errors() -> None:
    with pytest.raises(ValueError, match=r"t must have shape \[batch=2\]"):
        interpolate(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(3))
    with pytest.raises(ValueError, match="same shape"):
        target_velocity(torch.zeros(2, 3), torch.zeros(2, 4))


def test_noise_and_time_follow_the_generator() -> None:
    a = sample_noise((2, 50, 8), generator=torch.Generator().manual_seed(7))
    b = sample_noise((2, 50, 8), generator=torch.Generator().manual_seed(7))
    c = sample_noise((2, 50, 8), generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert abs(float(a.std()) - 1.0) < 0.1
    t = sample_time(10_000, generator=torch.Generator().manual_seed(0))
    assert float(t.min()) >= 0.0 and float(t.max()) < 1.0
    assert abs(float(t.mean()) - 0.5) < 0.01
