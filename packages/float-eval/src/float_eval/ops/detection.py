"""Face-detector post-processing: greedy NMS, SCRFD output decoding, S3FD priors and SSD decoding."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["decode_s3fd", "decode_scrfd", "nms", "s3fd_priors", "scrfd_input"]

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


def scrfd_input(image: np.ndarray, input_size: tuple[int, int] = (640, 640)) -> tuple[np.ndarray, float]:
    """insightface's SCRFD input: the frame resized into the top-left of a black canvas, normalised.

    As ``SCRFD.detect``: the side that fills the canvas is the input's, the other is **truncated**
    (``int``, 523 for 704x576 into 640x640), the resize gives uint8 (bilinear, rounded; OpenCV's fixed-point
    ``INTER_LINEAR`` can differ by 1), the rest of the canvas is black (0, i.e. -0.996 after
    ``(x - 127.5) / 128``), and boxes map back through ``det_scale = new_height / height``.

    Args:
        image: RGB [H, W, 3] uint8.
        input_size: network input (height, width).
    Returns:
        (blob [1, 3, height, width] float32 RGB, det_scale).
    """
    h, w = image.shape[:2]
    in_h, in_w = input_size
    if h / w > in_h / in_w:
        new_h = in_h
        new_w = int(new_h / (h / w))
    else:
        new_w = in_w
        new_h = int(new_w * (h / w))
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float()
    x = F.interpolate(x, size=(new_h, new_w), mode="bilinear", align_corners=False).round().clamp(0, 255)
    canvas = torch.zeros(1, 3, in_h, in_w)
    canvas[:, :, :new_h, :new_w] = x
    return ((canvas - 127.5) / 128.0).numpy(), new_h / h


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
