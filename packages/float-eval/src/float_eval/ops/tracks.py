"""Face tracks and SyncNet crops, after syncnet_python's ``run_pipeline.py``.

:func:`iou_tracks` is the reference's ``track_shot``: every detection of every frame is available; a track
starts at the first unused detection and takes, frame after frame, the first unused detection whose IoU with
the track's last box is above 0.5, until more than ``num_failed_det`` frames pass without one. A track needs
more than ``min_track`` detections and a mean box width or height above ``min_face_size`` pixels; gaps are
filled by linear interpolation. :func:`face_tracks` is a simpler single-face splitter (one box per frame,
split at gaps) kept for callers that already chose one face per frame. Box size and centre are
median-filtered (kernel 13); the crop spans ``bs`` above the centre to ``bs * (1 + 2 * crop_scale)`` below and
``bs * (1 + crop_scale)`` to each side (frame padded with grey 110), resized to 224x224.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.signal import medfilt

__all__ = ["box_iou", "crop_frames", "crop_geometry", "face_tracks", "iou_tracks", "syncnet_crops"]


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two (x1, y1, x2, y2) boxes, areas without the +1 pixel (as ``bb_intersection_over_union``)."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def iou_tracks(
    detections: list[list[np.ndarray]],
    min_track: int = 100,
    num_failed_det: int = 25,
    min_face_size: float = 100.0,
    iou_threshold: float = 0.5,
) -> list[tuple[int, np.ndarray]]:
    """syncnet_python's ``track_shot`` over one shot.

    Args:
        detections: per frame, the boxes [4] (x1, y1, x2, y2 pixels) found in it, best first.
        min_track: a track needs more than this many detections (the reference's ``--min_track``).
        num_failed_det: frames a track may go without a matching detection before it ends.
        min_face_size: the mean box width or height must exceed this many pixels.
        iou_threshold: IoU with the track's last box a detection must exceed to join it.
    Returns:
        (first frame, boxes [L, 4]) per kept track, in the order they were found, gaps interpolated.
    """
    remaining = [[np.asarray(b, dtype=np.float64) for b in frame] for frame in detections]
    tracks: list[tuple[int, np.ndarray]] = []
    while True:
        frames: list[int] = []
        boxes: list[np.ndarray] = []
        for t, faces in enumerate(remaining):
            if frames and t - frames[-1] > num_failed_det:
                break
            for j, box in enumerate(faces):
                # After NMS at 0.1 two boxes of one frame cannot both overlap the track by IoU > 0.5, so at
                # most one detection per frame joins (the reference's loop gives the same result).
                if not frames or box_iou(box, boxes[-1]) > iou_threshold:
                    frames.append(t)
                    boxes.append(box)
                    del faces[j]
                    break
        if not frames:
            return tracks
        if len(frames) <= min_track:
            continue
        known = np.stack(boxes)
        span = np.arange(frames[0], frames[-1] + 1)
        filled = np.stack([np.interp(span, frames, known[:, j]) for j in range(4)], axis=1)
        width = float(np.mean(filled[:, 2] - filled[:, 0]))
        height = float(np.mean(filled[:, 3] - filled[:, 1]))
        if max(width, height) > min_face_size:
            tracks.append((frames[0], filled))


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
                known = np.stack([np.asarray(boxes[i]) for i in frames]).astype(np.float64)
                span = np.arange(frames[0], frames[-1] + 1)
                filled = np.stack([np.interp(span, frames, known[:, j]) for j in range(4)], axis=1)
                tracks.append((frames[0], filled))
            start = k
    return tracks


def crop_geometry(boxes: np.ndarray) -> np.ndarray:
    """Smoothed crop half-size, centre y and centre x per frame [L, 3] from a track's boxes [L, 4].

    syncnet_python smooths with scipy's medfilt (kernel 13, zero-padded ends); shorter tracks use the
    largest odd kernel that fits.
    """
    half = np.maximum(boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    kernel = min(13, len(half) if len(half) % 2 else len(half) - 1)
    return np.stack([medfilt(half, kernel), medfilt(cy, kernel), medfilt(cx, kernel)], axis=1)


def crop_frames(
    frames: torch.Tensor, geometry: np.ndarray, crop_scale: float = 0.4, size: int = 224
) -> torch.Tensor:
    """Crops of frames [L, 3, H, W] uint8 with their rows of :func:`crop_geometry` [L, 3].

    Returns:
        [L, 3, size, size] float 0..255.
    """
    out = []
    _, height, width = frames.shape[1:]
    for i in range(frames.shape[0]):
        bs, cy, cx = (float(v) for v in geometry[i])
        # The reference pads the frame by ``pad`` pixels of grey 110 on every side and cuts the face out of
        # that; only the cut window is built here (same values, without a padded copy of the whole frame).
        pad = int(bs * (1 + 2 * crop_scale))
        my, mx = cy + pad, cx + pad
        # The reference's slices of the padded frame, with Python's rules (clipping, negative indices).
        y0, y1, _ = slice(int(my - bs), int(my + bs * (1 + 2 * crop_scale))).indices(height + 2 * pad)
        x0, x1, _ = slice(int(mx - bs * (1 + crop_scale)), int(mx + bs * (1 + crop_scale))).indices(
            width + 2 * pad
        )
        face = torch.full((3, max(0, y1 - y0), max(0, x1 - x0)), 110.0)
        fy0, fy1 = max(y0, pad), min(y1, pad + height)  # the frame's rows inside the window
        fx0, fx1 = max(x0, pad), min(x1, pad + width)
        if fy0 < fy1 and fx0 < fx1:
            face[:, fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0] = frames[
                i, :, fy0 - pad : fy1 - pad, fx0 - pad : fx1 - pad
            ]
        out.append(F.interpolate(face[None], size=(size, size), mode="bilinear", align_corners=False)[0])
    return torch.stack(out)


def syncnet_crops(
    frames: torch.Tensor, boxes: np.ndarray, crop_scale: float = 0.4, size: int = 224
) -> torch.Tensor:
    """Crops of a track: frames [L, 3, H, W] uint8 and boxes [L, 4] -> [L, 3, size, size] float 0..255."""
    return crop_frames(frames, crop_geometry(boxes), crop_scale, size)
