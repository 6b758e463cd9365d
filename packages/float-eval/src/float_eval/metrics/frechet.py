"""The base of every Fréchet metric: two streaming float64 feature distributions and their distance."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..ops.frechet import FeatureStats, frechet_distance

__all__ = ["FrechetMetric"]


class FrechetMetric:
    """Base of the Fréchet metrics: two streaming feature distributions (real, generated) and their distance.

    Subclasses turn inputs into features with ``features(x) -> [N, D]``; ``update(x, real)`` feeds them.
    """

    def __init__(self, dim: int, ddof: int = 1, eps: float = 1e-6, min_samples: int = 2) -> None:
        self.dim = dim
        self.eps = eps
        self.min_samples = min_samples
        self.real = FeatureStats(dim, ddof)
        self.fake = FeatureStats(dim, ddof)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Identity by default: ``x`` already holds features [N, D]."""
        return x

    def update(self, x: torch.Tensor, real: bool) -> None:
        """Add a batch to the real (reference) or generated distribution."""
        feats = self.features(x)
        (self.real if real else self.fake).update(feats)

    def update_features(self, features: torch.Tensor | np.ndarray, real: bool) -> None:
        """Add precomputed features [N, D]."""
        (self.real if real else self.fake).update(features)

    def reset(self) -> None:
        self.real.reset()
        self.fake.reset()

    def state(self) -> dict[str, Any]:
        """Both distributions' sufficient statistics (float64), as :meth:`merge_state` reads them."""
        return {"real": self.real.state(), "fake": self.fake.state()}

    def merge_state(self, state: dict[str, Any]) -> None:
        """Add the statistics of another run (another shard) saved by :meth:`state`."""
        self.real.merge(FeatureStats.from_state(state["real"], self.real.ddof))
        self.fake.merge(FeatureStats.from_state(state["fake"], self.fake.ddof))

    def compute(self) -> float:
        """Fréchet distance between the two distributions seen so far."""
        for name, stats in (("reference", self.real), ("generated", self.fake)):
            if stats.count < self.min_samples:
                raise ValueError(
                    f"{type(self).__name__}: {stats.count} {name} samples, fewer than the minimum "
                    f"{self.min_samples}; feed more samples or lower the minimum"
                )
        mu1, s1 = self.fake.mean_cov()
        mu2, s2 = self.real.mean_cov()
        return frechet_distance(mu1, s1, mu2, s2, eps=self.eps)
