"""Face tracks and SyncNet crops, after syncnet_python's ``run_pipeline.py``.

Boxes of consecutive frames form a track while detections are missing for at most ``num_failed_det`` frames
(gaps are filled by linear interpolation); tracks need more than ``min_track`` frames. Box size and centre are
median-filtered (kernel 13); the crop spans ``bs`` above the centre to ``bs * (1 + 2 * crop_scale)`` below and
``bs * (1 + crop_scale)`` to each side (frame padded with grey 110), resized to 224x224.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.signal import medfilt

__all__ = ["face_tracks", "syncnet_crops"]


def face_tracks(
    boxes: list[np.ndarray | None], min_track: int = 100, num_failed_det: int = 25
) -> list[tuple[int, np.ndarray]]:
    """Split per-frame boxes (None = no face) into tracks.

    Returns:
        (first frame, boxes [L, 4]) for every track longer than ``min_track`` frames, gaps interpolated.
    """
    detected = [i for i, b in enumerate(boxes) if b is not None]
    tracks: list[tuple[int, np.ndarray]] = []
    start = 0
    for k in range(1, len(detected) + 1):
        if k == len(detected) or detected[k] - detected[k - 1] > num_failed_det:
            frames = detected[start:k]
            if frames and frames[-1] - frames[0] + 1 > min_track:
                known = np.stack([boxes[i] for i in frames]).astype(np.float64)
                span = np.arange(frames[0], frames[-1] + 1)
                filled = np.stack([np.interp(span, frames, known[:, j]) for j in range(4)], axis=1)
                tracks.append((frames[0], filled))
            start = k
    return tracks


def syncnet_crops(
    frames: torch.Tensor, boxes: np.ndarray, crop_scale: float = 0.4, size: int = 224
) -> torch.Tensor:
    """Crops of a track: frames [L, 3, H, W] uint8 and boxes [L, 4] -> [L, 3, size, size] float 0..255."""
    half = np.maximum(boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    # syncnet_python smooths with scipy's medfilt (kernel 13, zero-padded ends); shorter tracks use the
    # largest odd kernel that fits.
    kernel = min(13, len(half) if len(half) % 2 else len(half) - 1)
    half, cy, cx = medfilt(half, kernel), medfilt(cy, kernel), medfilt(cx, kernel)
    out = []
    for i in range(frames.shape[0]):
        bs = float(half[i])
        pad = int(bs * (1 + 2 * crop_scale))
        img = F.pad(frames[i].float(), (pad, pad, pad, pad), value=110.0)
        my, mx = cy[i] + pad, cx[i] + pad
        face = img[
            :,
            int(my - bs) : int(my + bs * (1 + 2 * crop_scale)),
            int(mx - bs * (1 + crop_scale)) : int(mx + bs * (1 + crop_scale)),
        ]
        out.append(F.interpolate(face[None], size=(size, size), mode="bilinear", align_corners=False)[0])
    return torch.stack(out)
