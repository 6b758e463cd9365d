"""Face alignment from 5 keypoints, in numpy/torch/PIL.

insightface's ``norm_crop`` (ArcFace, 112x112) with its affine warp, and Deep3DFaceRecon's ``align_img``
(POS fit to the standard 3D landmarks, 224x224).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

__all__ = [
    "ARCFACE_TEMPLATE",
    "align_for_recon",
    "norm_crop",
    "pos_fit",
    "similarity_transform",
    "warp_affine",
]

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


def pos_fit(xp: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, float]:
    """Scaled orthographic fit of 2D points ``xp`` [K, 2] to 3D points ``x`` [K, 3]: (translation, scale)."""
    k = xp.shape[0]
    a = np.zeros((2 * k, 8))
    a[0::2, 0:3] = x
    a[0::2, 3] = 1
    a[1::2, 4:7] = x
    a[1::2, 7] = 1
    sol = np.linalg.lstsq(a, xp.reshape(-1), rcond=None)[0]
    scale = (np.linalg.norm(sol[0:3]) + np.linalg.norm(sol[4:7])) / 2
    return np.array([sol[3], sol[7]]), float(scale)


def align_for_recon(
    image: Image.Image,
    landmarks: np.ndarray,
    lm3d: np.ndarray,
    target_size: int = 224,
    rescale: float = 102.0,
) -> torch.Tensor:
    """Deep3DFaceRecon's ``align_img``: image, landmarks [5, 2] (top-left origin) -> [3, 224, 224], 0..1."""
    w0, h0 = image.size
    lm = np.asarray(landmarks, dtype=np.float64).copy()
    lm[:, 1] = h0 - 1 - lm[:, 1]  # the reference fits in a bottom-left origin
    t, s = pos_fit(lm, lm3d)
    s = rescale / s
    w, h = int(w0 * s), int(h0 * s)
    if not 0 < max(w, h) <= 16384:
        raise ValueError(f"implausible landmarks: aligning would resize the frame to {w}x{h}")
    left = int(w / 2 - target_size / 2 + float((t[0] - w0 / 2) * s))
    up = int(h / 2 - target_size / 2 + float((h0 / 2 - t[1]) * s))
    crop = image.resize((w, h), resample=Image.Resampling.BICUBIC).crop(
        (left, up, left + target_size, up + target_size)
    )
    return torch.from_numpy(np.asarray(crop, dtype=np.float32) / 255.0).permute(2, 0, 1)
