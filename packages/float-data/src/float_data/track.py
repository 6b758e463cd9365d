"""A stable per-video crop: face boxes from sparse detections, interpolated, smoothed, turned into crop boxes.

Detecting on every ``detect_every``-th frame and smoothing over ``window`` frames removes per-frame jitter
(a crop that shakes with the detector would teach the motion auto-encoder fake head motion).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np

from float_data.crop import CropBox, crop_box_from_face
from float_data.detectors import FaceDetection

TrackMode = Literal["smooth", "fixed"]


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes (0 when either is empty)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def follow_face(
    detections: Sequence[Sequence[FaceDetection]],
) -> list[tuple[float, float, float, float] | None]:
    """One box per sampled frame: the best face first, then the face overlapping the previous choice most.

    ``detections``: per sampled frame, faces best first (may be empty). Returns a box or None per frame.
    """
    chosen: list[tuple[float, float, float, float] | None] = []
    previous: tuple[float, float, float, float] | None = None
    for faces in detections:
        if not faces:
            chosen.append(None)
            continue
        if previous is None:
            box = faces[0].box
        else:
            last = previous
            best = max(faces, key=lambda f: box_iou(f.box, last))
            box = best.box if box_iou(best.box, last) > 0 else faces[0].box
        previous = (float(box[0]), float(box[1]), float(box[2]), float(box[3]))
        chosen.append(previous)
    return chosen


def interpolate_boxes(sampled: Mapping[int, Sequence[float]], n_frames: int) -> np.ndarray:
    """Face boxes [n_frames, 4] from boxes known at some frames: linear in between, held at the ends."""
    if not sampled:
        raise ValueError("no detected box to interpolate from")
    known = np.array(sorted(sampled), dtype=np.float64)
    values = np.array([sampled[int(i)] for i in known], dtype=np.float64)
    frames = np.arange(n_frames, dtype=np.float64)
    return np.stack([np.interp(frames, known, values[:, c]) for c in range(4)], axis=1)


def smooth_boxes(boxes: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average of boxes [N, 4] over ``window`` frames (edges replicated); 1 = identity."""
    if window <= 1 or boxes.shape[0] <= 1:
        return boxes.copy()
    left = (window - 1) // 2
    padded = np.pad(boxes, ((left, window - 1 - left), (0, 0)), mode="edge")
    kernel = np.ones(window) / window
    smoothed = np.stack([np.convolve(padded[:, c], kernel, mode="valid") for c in range(4)], axis=1)
    # rounded to 1e-4 px so a constant box stays exactly constant (no int() flips on 7.9999999)
    return np.round(smoothed, 4)


def crop_track(
    face_boxes: np.ndarray, scale: float = 1.6, mode: TrackMode = "smooth", window: int = 25
) -> list[CropBox]:
    """Crop boxes for every frame from per-frame face boxes [N, 4] (x0, y0, x1, y1).

    ``smooth``: each frame's crop follows the moving-averaged face box (official rule per frame).
    ``fixed``: one crop for the whole video, centred on the median face centre, half-side from the median face
    size plus the largest centre excursion, so the head moves inside a still frame.
    """
    if face_boxes.ndim != 2 or face_boxes.shape[1] != 4 or face_boxes.shape[0] == 0:
        raise ValueError(f"face_boxes must have shape [N>0, 4], got {tuple(face_boxes.shape)}")
    if mode == "smooth":
        return [crop_box_from_face(tuple(b), scale) for b in smooth_boxes(face_boxes, window)]
    if mode == "fixed":
        centres = (face_boxes[:, :2] + face_boxes[:, 2:]) / 2
        centre = np.median(centres, axis=0)
        radius = (
            np.median(np.maximum(face_boxes[:, 2] - face_boxes[:, 0], face_boxes[:, 3] - face_boxes[:, 1]))
            / 2
        )
        excursion = float(np.abs(centres - centre).max())
        box = CropBox(float(centre[0]), float(centre[1]), max(1, int(scale * radius + excursion)))
        return [box] * face_boxes.shape[0]
    raise ValueError(f"unknown track mode {mode!r}: use 'smooth' or 'fixed'")
