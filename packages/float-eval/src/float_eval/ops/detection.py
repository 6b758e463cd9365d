"""Face-detector post-processing: greedy NMS, SCRFD output decoding, S3FD priors and SSD decoding."""

from __future__ import annotations

import numpy as np

__all__ = ["decode_s3fd", "decode_scrfd", "nms", "s3fd_priors"]

# Per-level prior sizes and strides (input pixels) of S3FD's six detection layers.
MIN_SIZES = (16, 32, 64, 128, 256, 512)
STEPS = (4, 8, 16, 32, 64, 128)
VARIANCES = (0.1, 0.2)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, pixel_offset: float = 1.0) -> list[int]:
    """Greedy non-maximum suppression; indices kept, highest score first.

    ``pixel_offset`` is added to widths and heights: 1 as insightface (SCRFD), 0 as syncnet_python's S3FD.
    """
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    off = pixel_offset
    area = (boxes[:, 2] - boxes[:, 0] + off) * (boxes[:, 3] - boxes[:, 1] + off)
    while order.size > 0:
        i = int(order[0])
        keep.append(i)
        xx1 = np.maximum(boxes[i, 0], boxes[order[1:], 0])
        yy1 = np.maximum(boxes[i, 1], boxes[order[1:], 1])
        xx2 = np.minimum(boxes[i, 2], boxes[order[1:], 2])
        yy2 = np.minimum(boxes[i, 3], boxes[order[1:], 3])
        inter = np.maximum(0.0, xx2 - xx1 + off) * np.maximum(0.0, yy2 - yy1 + off)
        iou = inter / (area[i] + area[order[1:]] - inter)
        order = order[1:][iou <= threshold]
    return keep


def decode_scrfd(
    outputs: list[np.ndarray],
    input_size: tuple[int, int],
    strides: tuple[int, ...] = (8, 16, 32),
    num_anchors: int = 2,
    score_threshold: float = 0.5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode SCRFD's raw outputs (scores per stride, then box distances, then keypoint distances).

    Args:
        outputs: ``3 * len(strides)`` arrays: scores [A, 1], boxes [A, 4], keypoints [A, 10], where
            A = (H / stride) * (W / stride) * num_anchors, in units of the stride.
        input_size: network input (height, width).
    Returns:
        boxes [K, 4], scores [K], keypoints [K, 5, 2] in network-input pixels (before NMS).
    """
    n = len(strides)
    height, width = input_size
    all_boxes, all_scores, all_kps = [], [], []
    for i, stride in enumerate(strides):
        scores = np.asarray(outputs[i]).reshape(-1)
        dist = np.asarray(outputs[i + n]).reshape(-1, 4) * stride
        kdist = np.asarray(outputs[i + 2 * n]).reshape(-1, 10) * stride
        gh, gw = height // stride, width // stride
        ys, xs = np.mgrid[:gh, :gw]
        centers = (np.stack([xs, ys], axis=-1).reshape(-1, 2) * stride).astype(np.float32)
        centers = np.repeat(centers, num_anchors, axis=0)
        pos = np.where(scores >= score_threshold)[0]
        c = centers[pos]
        d = dist[pos]
        all_boxes.append(
            np.stack([c[:, 0] - d[:, 0], c[:, 1] - d[:, 1], c[:, 0] + d[:, 2], c[:, 1] + d[:, 3]], 1)
        )
        all_scores.append(scores[pos])
        k = kdist[pos].reshape(-1, 5, 2)
        all_kps.append(c[:, None, :] + k)
    return np.concatenate(all_boxes), np.concatenate(all_scores), np.concatenate(all_kps)


def s3fd_priors(input_size: tuple[int, int], feature_sizes: list[tuple[int, int]]) -> np.ndarray:
    """Prior boxes [P, 4] (cx, cy, w, h) as fractions of the network input (height, width), row-major."""
    height, width = input_size
    out = []
    for (fh, fw), step, size in zip(feature_sizes, STEPS, MIN_SIZES, strict=True):
        ys, xs = np.mgrid[:fh, :fw]
        cx = (xs.reshape(-1) + 0.5) * step / width
        cy = (ys.reshape(-1) + 0.5) * step / height
        out.append(
            np.stack([cx, cy, np.full_like(cx, size / width), np.full_like(cy, size / height)], axis=1)
        )
    return np.concatenate(out).astype(np.float64)


def decode_s3fd(
    loc: np.ndarray,
    scores: np.ndarray,
    priors: np.ndarray,
    candidate_threshold: float = 0.05,
    nms_threshold: float = 0.3,
    nms_top_k: int = 5000,
    keep_top_k: int = 750,
) -> tuple[np.ndarray, np.ndarray]:
    """SSD decoding and the first NMS of the reference's ``Detect``.

    Args:
        loc: [P, 4] offsets; scores: [P] face probabilities (after softmax); priors: [P, 4] from
            :func:`s3fd_priors`.
    Returns:
        boxes [K, 4] (x1, y1, x2, y2 as fractions of the input) and scores [K], highest first.
    """
    centre = priors[:, :2] + loc[:, :2] * VARIANCES[0] * priors[:, 2:]
    size = priors[:, 2:] * np.exp(loc[:, 2:] * VARIANCES[1])
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    pick = np.where(scores > candidate_threshold)[0]
    if pick.size == 0:
        return np.zeros((0, 4)), np.zeros(0)
    pick = pick[np.argsort(-scores[pick], kind="stable")[:nms_top_k]]
    keep = nms(boxes[pick], scores[pick], nms_threshold, pixel_offset=0.0)[:keep_top_k]
    return boxes[pick][keep], scores[pick][keep]
