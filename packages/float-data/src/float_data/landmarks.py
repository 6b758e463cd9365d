"""68-point (iBUG 300-W order) facial landmarks: regions for the facial-component loss, mouth aperture.

Index groups (0-based): jaw 0-16, brows 17-26, nose 27-35, right eye 36-41, left eye 42-47,
outer lips 48-59, inner lips 60-67. Coordinates are pixels (x, y) of whatever image they were predicted on;
``prepare`` stores them in crop coordinates (the ``size`` x ``size`` crop).
"""

from __future__ import annotations

import numpy as np

from float_data.crop import CropBox

RIGHT_EYE = tuple(range(36, 42))
LEFT_EYE = tuple(range(42, 48))
MOUTH = tuple(range(48, 68))
# Pairs of inner-lip points facing each other (upper, lower) and the mouth corners.
INNER_LIP_PAIRS = ((61, 67), (62, 66), (63, 65))
MOUTH_CORNERS = (48, 54)


def _check(landmarks: np.ndarray) -> np.ndarray:
    points = np.asarray(landmarks, dtype=np.float32)
    if points.shape[-2:] != (68, 2):
        raise ValueError(f"landmarks must have shape [..., 68, 2], got {tuple(points.shape)}")
    return points


def mouth_aperture(landmarks: np.ndarray) -> np.ndarray:
    """Mouth opening: mean inner-lip gap divided by mouth width (scale-free, ~0 closed, ~0.3-0.6 wide open).

    ``landmarks``: [..., 68, 2] -> float32 [...].
    """
    points = _check(landmarks)
    upper = points[..., [a for a, _ in INNER_LIP_PAIRS], :]
    lower = points[..., [b for _, b in INNER_LIP_PAIRS], :]
    gap = np.linalg.norm(upper - lower, axis=-1).mean(axis=-1)
    width = np.linalg.norm(points[..., MOUTH_CORNERS[0], :] - points[..., MOUTH_CORNERS[1], :], axis=-1)
    return (gap / np.maximum(width, 1e-6)).astype(np.float32)


def region_box(
    landmarks: np.ndarray, indices: tuple[int, ...], margin: float = 0.5, min_side: float = 8.0
) -> tuple[float, float, float, float]:
    """Square box (x0, y0, x1, y1) around the points ``indices`` of one face [68, 2], enlarged by ``margin``.

    The side is ``max(extent) * (1 + 2 * margin)``, at least ``min_side`` pixels.
    """
    points = _check(landmarks)[list(indices)]
    lo, hi = points.min(axis=0), points.max(axis=0)
    centre = (lo + hi) / 2
    half = max(float((hi - lo).max()) * (1 + 2 * margin), min_side) / 2
    return (
        float(centre[0] - half),
        float(centre[1] - half),
        float(centre[0] + half),
        float(centre[1] + half),
    )


def component_boxes(
    landmarks: np.ndarray, margin: float = 0.5
) -> dict[str, tuple[float, float, float, float]]:
    """Boxes of ``left_eye``, ``right_eye`` and ``mouth`` for the facial-component perceptual loss."""
    return {
        "left_eye": region_box(landmarks, LEFT_EYE, margin),
        "right_eye": region_box(landmarks, RIGHT_EYE, margin),
        "mouth": region_box(landmarks, MOUTH, margin / 2),
    }


def to_crop_coordinates(landmarks: np.ndarray, box: CropBox, size: int) -> np.ndarray:
    """Map source-frame landmarks [..., 68, 2] into the ``size`` x ``size`` crop cut at ``box``."""
    points = _check(landmarks)
    factor = size / box.side
    return ((points - np.array([box.x0, box.y0], np.float32)) * factor).astype(np.float32)
