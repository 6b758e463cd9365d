"""Fréchet distance between Gaussians and streaming float64 feature statistics.

The maths follows pytorch-fid 0.3.0 (``calculate_frechet_distance``): the matrix square root comes from
``scipy.linalg.sqrtm`` of ``sigma1 @ sigma2``; when that product is singular, ``eps`` is added to both
diagonals and the root is taken again; a small imaginary part left by numerical error is dropped.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from scipy import linalg

__all__ = ["FeatureStats", "frechet_distance"]


def _sqrtm(matrix: np.ndarray) -> np.ndarray:
    # scipy >= 1.16 deprecates ``disp``; the plain call returns the same root (and only warns when singular).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return linalg.sqrtm(matrix)


def frechet_distance(
    mu1: np.ndarray | torch.Tensor,
    sigma1: np.ndarray | torch.Tensor,
    mu2: np.ndarray | torch.Tensor,
    sigma2: np.ndarray | torch.Tensor,
    eps: float = 1e-6,
) -> float:
    """Squared Fréchet distance ``|mu1 - mu2|^2 + Tr(S1 + S2 - 2 sqrt(S1 S2))`` of two Gaussians.

    Args:
        mu1, mu2: means, shape [D].
        sigma1, sigma2: covariances, shape [D, D].
        eps: diagonal offset used only when ``sigma1 @ sigma2`` has no finite square root.
    Returns:
        The distance as a Python float (float64 maths throughout).
    """
    m1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
    m2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    s1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    s2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    if m1.shape != m2.shape:
        raise ValueError(f"mean vectors differ in length: {m1.shape} vs {m2.shape}")
    if s1.shape != s2.shape or s1.shape != (m1.shape[0], m1.shape[0]):
        raise ValueError(
            f"covariances must both be [{m1.shape[0]}, {m1.shape[0]}], got {s1.shape}, {s2.shape}"
        )
    diff = m1 - m2
    covmean = _sqrtm(s1.dot(s2))
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * eps
        covmean = _sqrtm((s1 + offset).dot(s2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"matrix square root has an imaginary component {np.max(np.abs(covmean.imag))}")
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


class FeatureStats:
    """Running mean and covariance of feature vectors in float64, without keeping the features.

    Holds ``n``, ``sum x`` [D] and ``sum x x^T`` [D, D]; memory is O(D^2) whatever the number of samples.

    Args:
        dim: feature size D.
        ddof: 1 gives ``np.cov``'s unbiased covariance (pytorch-fid), 0 the biased one (StyleGAN-V's FVD).
    """

    def __init__(self, dim: int, ddof: int = 1) -> None:
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        self.dim = dim
        self.ddof = ddof
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self.sum = np.zeros(self.dim, dtype=np.float64)
        self.outer = np.zeros((self.dim, self.dim), dtype=np.float64)

    def update(self, features: np.ndarray | torch.Tensor) -> None:
        """Add a batch of features, shape [N, D] (any float dtype; accumulated in float64)."""
        if isinstance(features, torch.Tensor):
            features = features.detach().to("cpu", torch.float64).numpy()
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"features must have shape [N, {self.dim}], got {list(x.shape)}")
        self.count += x.shape[0]
        self.sum += x.sum(axis=0)
        self.outer += x.T @ x

    def merge(self, other: FeatureStats) -> None:
        """Add another accumulator's samples (e.g. from another worker)."""
        if other.dim != self.dim:
            raise ValueError(f"cannot merge stats of dim {other.dim} into dim {self.dim}")
        self.count += other.count
        self.sum += other.sum
        self.outer += other.outer

    def select(self, index: np.ndarray | list[int]) -> FeatureStats:
        """The statistics of features ``x[:, index]`` (a sub-vector), without the samples."""
        idx = np.asarray(index, dtype=np.int64)
        out = FeatureStats(len(idx), self.ddof)
        out.count = self.count
        out.sum = self.sum[idx].copy()
        out.outer = self.outer[np.ix_(idx, idx)].copy()
        return out

    def state(self) -> dict[str, int | np.ndarray]:
        """``count``, ``sum`` [D] and ``outer`` [D, D] (float64): everything :meth:`merge` needs."""
        return {"count": self.count, "sum": self.sum.copy(), "outer": self.outer.copy()}

    @classmethod
    def from_state(cls, state: dict[str, int | np.ndarray], ddof: int = 1) -> FeatureStats:
        """Statistics saved by :meth:`state` (e.g. by another worker)."""
        total = np.asarray(state["sum"], dtype=np.float64)
        out = cls(int(total.shape[0]), ddof)
        out.count = int(state["count"])
        out.sum = total.copy()
        out.outer = np.asarray(state["outer"], dtype=np.float64).copy()
        return out

    def mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        """Return (mean [D], covariance [D, D]) of everything seen so far."""
        if self.count <= self.ddof:
            raise ValueError(f"need more than {self.ddof} samples for a covariance, got {self.count}")
        mean = self.sum / self.count
        cov = (self.outer - self.count * np.outer(mean, mean)) / (self.count - self.ddof)
        return mean, cov
