"""SCRFD (insightface ``det_10g.onnx``) through ONNX Runtime: one RGB frame -> faces with 5 keypoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..ops.detection import decode_scrfd, nms
from .faces import Face, default_providers

__all__ = ["SCRFD", "SCRFD_WEIGHTS"]

SCRFD_WEIGHTS = "det_10g.onnx"


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

        self.session = ort.InferenceSession(str(model_path), providers=providers or default_providers())
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
