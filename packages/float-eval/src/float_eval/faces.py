"""Face detection behind one small protocol, SCRFD (insightface ``det_10g.onnx``) through ONNX Runtime.

A detector maps one RGB frame [H, W, 3] uint8 to a list of :class:`Face` (box, score, 5 keypoints), best
first. Any object with that ``detect`` method can replace SCRFD (tests use stand-ins).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F


def _default_providers() -> list[str]:
    """CUDA when this onnxruntime build has it, else CPU."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


__all__ = ["SCRFD", "Face", "FaceDetector", "decode_scrfd", "nms"]


@dataclass(frozen=True)
class Face:
    """One detection: ``box`` [4] (x1, y1, x2, y2 pixels), ``score``, ``kps`` [5, 2] (eyes, nose, mouth)."""

    box: np.ndarray
    score: float
    kps: np.ndarray | None


class FaceDetector(Protocol):
    name: str

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in an RGB uint8 frame [H, W, 3], highest score first."""
        ...


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


class SCRFD:
    """SCRFD face detector with 5 keypoints (insightface's ``det_10g.onnx`` / ``scrfd_10g_bnkps.onnx``).

    Preprocessing as insightface: keep the aspect ratio, resize into a ``input_size`` canvas at the top-left,
    ``(x - 127.5) / 128`` on RGB; boxes and keypoints are mapped back to the frame; NMS at 0.4.
    """

    name = "scrfd"

    def __init__(
        self,
        model_path: str | Path,
        input_size: tuple[int, int] = (640, 640),
        score_threshold: float = 0.5,
        nms_threshold: float = 0.4,
        providers: list[str] | None = None,
    ) -> None:
        import onnxruntime as ort

        self.session = ort.InferenceSession(str(model_path), providers=providers or _default_providers())
        self.input_name = self.session.get_inputs()[0].name
        self.input_size = input_size
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in an RGB uint8 frame [H, W, 3], highest score first."""
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image must be [H, W, 3] RGB, got {image.shape}")
        h, w = image.shape[:2]
        in_h, in_w = self.input_size
        scale = min(in_h / h, in_w / w)
        new_h, new_w = round(h * scale), round(w * scale)
        x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float()
        x = F.interpolate(x, size=(new_h, new_w), mode="bilinear", align_corners=False)
        canvas = torch.zeros(1, 3, in_h, in_w)
        canvas[:, :, :new_h, :new_w] = (x - 127.5) / 128.0
        outputs = self.session.run(None, {self.input_name: canvas.numpy()})
        boxes, scores, kps = decode_scrfd(outputs, self.input_size, score_threshold=self.score_threshold)
        if len(scores) == 0:
            return []
        boxes, kps = boxes / scale, kps / scale
        keep = nms(boxes, scores, self.nms_threshold)
        return [Face(box=boxes[i], score=float(scores[i]), kps=kps[i]) for i in keep]
