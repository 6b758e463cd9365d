"""frechet_distance against pytorch-fid; streaming statistics against batch statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pytorch_fid.fid_score import calculate_frechet_distance

from float_eval.metrics import FrechetMetric
from float_eval.ops import FeatureStats, frechet_distance


def _gaussians(rng: np.random.Generator, n: int, d: int, shift: float) -> np.ndarray:
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    return rng.normal(size=(n, d)) @ mix + shift


@pytest.mark.parametrize(("n", "d"), [(300, 32), (500, 128), (20, 64)])
def test_frechet_distance_matches_pytorch_fid(n: int, d: int) -> None:
    rng = np.random.default_rng(n + d)
    a, b = _gaussians(rng, n, d, 0.0), _gaussians(rng, n, d, 0.3)
    mu1, s1 = a.mean(0), np.cov(a, rowvar=False)
    mu2, s2 = b.mean(0), np.cov(b, rowvar=False)
    ours = frechet_distance(mu1, s1, mu2, s2)
    ref = float(calculate_frechet_distance(mu1, s1, mu2, s2))
    assert ours == pytest.approx(ref, rel=1e-6)
    assert ours > 0
    # A distribution is at distance ~0 from itself, and the distance is symmetric.
    assert abs(frechet_distance(mu1, s1, mu1, s1)) < 1e-6 * np.trace(s1)
    assert frechet_distance(mu2, s2, mu1, s1) == pytest.approx(ours, rel=1e-6)


def test_frechet_distance_of_known_gaussians() -> None:
    # N(0, I) vs N(m, 4 I) in 3-d: |m|^2 + 3 * (1 + 4 - 2 * 2) = |m|^2 + 3.
    m = np.array([1.0, 2.0, 2.0])
    assert frechet_distance(np.zeros(3), np.eye(3), m, 4 * np.eye(3)) == pytest.approx(9.0 + 3.0, rel=1e-12)
    with pytest.raises(ValueError, match="differ in length"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))


@pytest.mark.parametrize("ddof", [0, 1])
def test_streaming_stats_equal_batch_stats(ddof: int) -> None:
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(1000, 24)) * 3 + 50).astype(np.float32)  # offset stresses the float64 running sums
    stats = FeatureStats(24, ddof=ddof)
    for chunk in np.array_split(x, 7):
        stats.update(torch.from_numpy(chunk))
    mean, cov = stats.mean_cov()
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(mean, x64.mean(0), rtol=1e-12)
    np.testing.assert_allclose(cov, np.cov(x64, rowvar=False, ddof=ddof), rtol=1e-9, atol=1e-9)
    # Merging two halves gives the same as one pass.
    left, right = FeatureStats(24, ddof), FeatureStats(24, ddof)
    left.update(x[:400])
    right.update(x[400:])
    left.merge(right)
    np.testing.assert_allclose(left.mean_cov()[1], cov, rtol=1e-10, atol=1e-9)
    with pytest.raises(ValueError, match=r"\[N, 24\]"):
        stats.update(np.zeros((3, 5)))


def test_frechet_metric_update_compute_reset() -> None:
    rng = np.random.default_rng(1)
    real, fake = _gaussians(rng, 400, 16, 0.0), _gaussians(rng, 400, 16, 1.0)
    metric = FrechetMetric(dim=16)
    for i in range(0, 400, 100):
        metric.update(torch.from_numpy(real[i : i + 100]), real=True)
        metric.update(torch.from_numpy(fake[i : i + 100]), real=False)
    expected = calculate_frechet_distance(
        fake.mean(0), np.cov(fake, rowvar=False), real.mean(0), np.cov(real, rowvar=False)
    )
    assert metric.compute() == pytest.approx(float(expected), rel=1e-6)
    metric.reset()
    assert metric.real.count == 0 and metric.fake.count == 0
    with pytest.raises(ValueError, match="fewer than the minimum"):
        metric.compute()
