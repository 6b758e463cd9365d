"""The orthonormal motion basis and lambda-control editing.

A motion latent is ``w_m = lambda @ Q^T`` where ``Q`` [d, M] has orthonormal columns. Because the columns are
orthonormal, the coordinates of any latent along direction ``i`` are ``w @ Q[:, i]``; editing replaces or
scales those coordinates and leaves the orthogonal complement untouched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn


class Direction(nn.Module):
    """Learned basis; ``weight`` [d, M] (checkpoint key ``dec.direction.weight``).

    Orthonormality is enforced exactly as the official model does, by a reduced QR decomposition of
    ``weight + 1e-8`` at every call (no orthogonality loss). Keeping the same recipe keeps the column signs,
    and therefore the meaning of each coefficient, compatible with the official checkpoint.
    """

    def __init__(self, latent_dim: int, motion_dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(latent_dim, motion_dim))

    def basis(self) -> torch.Tensor:
        """Q [d, M], orthonormal columns, in the weight's dtype (QR itself runs in float32 at least)."""
        weight = self.weight
        compute = weight if weight.dtype in (torch.float32, torch.float64) else weight.float()
        q, _ = torch.linalg.qr(compute + 1e-8)
        return q.to(weight.dtype)

    def forward(self, coeffs: torch.Tensor) -> torch.Tensor:
        """``coeffs`` [..., M] -> motion latent [..., d] = coeffs @ Q^T."""
        return coeffs @ self.basis().T


def _check_basis(motion: torch.Tensor, basis: torch.Tensor) -> None:
    if basis.ndim != 2 or motion.shape[-1] != basis.shape[0]:
        raise ValueError(
            f"motion must have shape [..., {basis.shape[0]}] to match the basis [d={basis.shape[0]}, "
            f"M={basis.shape[-1]}]; got motion {list(motion.shape)}, basis {list(basis.shape)}"
        )


def motion_coordinates(motion: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """Coordinates of ``motion`` [..., d] along every basis column: [..., M] (lambda, for in-span motions)."""
    _check_basis(motion, basis)
    return motion @ basis


def edit_motion(
    motion: torch.Tensor,
    basis: torch.Tensor,
    directions: Sequence[int],
    *,
    scale: float | torch.Tensor = 1.0,
    value: float | torch.Tensor | None = None,
) -> torch.Tensor:
    """Lambda-control: rescale (or overwrite) the coordinates of ``motion`` along chosen basis directions.

    Args:
        motion: motion latents [..., d] (e.g. [B, 512] or a generated sequence [B, T, 512]).
        basis: Q [d, M] from ``MotionAutoEncoder.basis()``.
        directions: indices in ``[0, M)`` of the columns to edit.
        scale: multiplies the current coordinates (0 removes that motion, 2 exaggerates it); a float or a
            tensor broadcastable to [..., len(directions)].
        value: when given, the coordinates are set to ``value`` (after which ``scale`` is ignored).

    Returns:
        Edited motion [..., d]; the component outside the chosen directions is unchanged.
    """
    _check_basis(motion, basis)
    index = list(directions)
    m = basis.shape[1]
    bad = [i for i in index if not 0 <= i < m]
    if bad:
        raise ValueError(f"directions must be in [0, {m}); got {bad}")
    if not index:
        return motion
    columns = basis[:, index]
    coords = motion @ columns
    target = (
        torch.as_tensor(value, dtype=coords.dtype) * torch.ones_like(coords) if value is not None else None
    )
    new = target if target is not None else coords * torch.as_tensor(scale, dtype=coords.dtype)
    return motion + (new - coords) @ columns.T


@dataclass(frozen=True)
class DirectionRanking:
    """Result of ``rank_directions`` for one attribute.

    ``order`` [M]: direction indices, most related first; ``correlation`` [M]: signed Pearson correlation of
    each direction's coefficient with the attribute (index = direction).
    """

    order: list[int]
    correlation: torch.Tensor

    def top(self, k: int) -> list[int]:
        """The ``k`` directions most correlated (in absolute value) with the attribute."""
        return self.order[:k]


def rank_directions(coeffs: torch.Tensor, attribute: torch.Tensor) -> DirectionRanking:
    """Rank basis directions by how strongly their coefficient follows an attribute over a calibration set.

    Args:
        coeffs: motion coefficients [N, M] of N calibration frames (``MotionAutoEncoder.encode(...).coeffs``,
            or ``motion_coordinates`` of their motions).
        attribute: [N] a scalar measured on the same frames, e.g. head yaw in degrees from a pose estimator,
            or the mouth-opening ratio from landmarks. Any unit: Pearson correlation is scale-free.

    Returns:
        A ``DirectionRanking``; use ``top(k)`` as the ``directions`` of ``edit_motion``.
    """
    if coeffs.ndim != 2:
        raise ValueError(f"coeffs must have shape [N, M]; got {list(coeffs.shape)}")
    if attribute.shape != (coeffs.shape[0],):
        raise ValueError(f"attribute must have shape [N={coeffs.shape[0]}]; got {list(attribute.shape)}")
    if coeffs.shape[0] < 3:
        raise ValueError(f"need at least 3 calibration frames to correlate; got {coeffs.shape[0]}")
    x = coeffs.double() - coeffs.double().mean(0)
    y = attribute.double() - attribute.double().mean()
    denom = x.norm(dim=0) * y.norm()
    corr = (x * y[:, None]).sum(0) / denom.clamp_min(1e-12)
    order = torch.argsort(corr.abs(), descending=True).tolist()
    return DirectionRanking(order=order, correlation=corr.float())


def calibrate_directions(
    coeffs: torch.Tensor, attributes: Mapping[str, torch.Tensor], top_k: int = 3
) -> dict[str, list[int]]:
    """Find which directions move each named attribute, keeping the groups disjoint.

    Example: ``calibrate_directions(coeffs, {"head_yaw": yaw, "mouth_open": mouth})`` ->
    ``{"head_yaw": [4, 11, 0], "mouth_open": [7, 2, 15]}``. Attributes are served in the given order; a
    direction already taken by an earlier attribute is skipped, so editing the head never moves the mouth's
    directions.

    Args:
        coeffs: [N, M] coefficients of the calibration frames.
        attributes: name -> [N] measurement per frame.
        top_k: directions kept per attribute.
    """
    taken: set[int] = set()
    result: dict[str, list[int]] = {}
    for name, values in attributes.items():
        ranking = rank_directions(coeffs, values)
        chosen = [i for i in ranking.order if i not in taken][:top_k]
        taken.update(chosen)
        result[name] = chosen
    return result
