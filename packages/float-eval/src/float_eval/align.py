"""5-point similarity alignment (insightface ``norm_crop``) and the affine warp it needs, in numpy/torch."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["ARCFACE_TEMPLATE", "norm_crop", "similarity_transform", "warp_affine"]

# ArcFace 112x112 template: left eye, right eye, nose tip, left and right mouth corners (x, y) in pixels.
ARCFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping ``src`` to ``dst`` (Umeyama).

    Args:
        src, dst: points [K, 2].
    Returns:
        The [2, 3] matrix ``M`` with ``dst ≈ M @ [x, y, 1]``.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2:
        raise ValueError(f"src and dst must both be [K, 2], got {src.shape}, {dst.shape}")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    sc, dc = src - mu_s, dst - mu_d
    cov = dc.T @ sc / len(src)
    u, sing, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(cov) < 0:
        d[1] = -1
    rot = u @ np.diag(d) @ vt
    var_s = (sc**2).sum() / len(src)
    scale = (sing * d).sum() / var_s
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def warp_affine(image: torch.Tensor, matrix: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear warp with zero border, pixel-centre convention of ``cv2.warpAffine``.

    Args:
        image: [C, H, W] float tensor.
        matrix: [2, 3] forward map from source pixel (x, y) to output pixel.
        size: output (height, width).
    Returns:
        [C, height, width] float tensor; ``out[:, y, x] = image at M^-1 (x, y)``.
    """
    h_out, w_out = size
    full = np.vstack([np.asarray(matrix, dtype=np.float64), [0.0, 0.0, 1.0]])
    inv = torch.from_numpy(np.linalg.inv(full)[:2]).float()
    ys, xs = torch.meshgrid(torch.arange(h_out).float(), torch.arange(w_out).float(), indexing="ij")
    pts = torch.stack([xs, ys, torch.ones_like(xs)], dim=-1) @ inv.T  # [h, w, 2] source (x, y)
    _, h_in, w_in = image.shape
    grid = torch.stack([(2 * pts[..., 0] + 1) / w_in - 1, (2 * pts[..., 1] + 1) / h_in - 1], dim=-1)
    out = F.grid_sample(
        image[None].float(), grid[None], mode="bilinear", padding_mode="zeros", align_corners=False
    )
    return out[0]


def norm_crop(image: torch.Tensor, landmarks: np.ndarray, size: int = 112) -> torch.Tensor:
    """Align a face to the ArcFace template: [3, H, W] image and [5, 2] landmarks -> [3, size, size]."""
    template = ARCFACE_TEMPLATE * (size / 112.0)
    return warp_affine(image, similarity_transform(landmarks, template), (size, size))
