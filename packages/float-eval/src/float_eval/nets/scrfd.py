"""SCRFD (insightface ``det_10g.onnx``) through ONNX Runtime: one RGB frame -> faces with 5 keypoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..ops.detection import decode_scrfd, nms, scrfd_input
from .faces import Face, default_providers

__all__ = ["SCRFD", "SCRFD_WEIGHTS"]

SCRFD_WEIGHTS = "det_10g.onnx"


class SCRFD:
    """SCRFD face detector with 5 keypoints (insightface's ``det_10g.onnx`` / ``scrfd_10g_bnkps.onnx``).

    Preprocessing as insightface (:func:`~float_eval.ops.detection.scrfd_input`): keep the aspect ratio,
    resize into the top-left of a black ``input_size`` canvas (the short side truncated),
    ``(x - 127.5) / 128`` on RGB; boxes and keypoints are mapped back through ``det_scale``; NMS at 0.4.
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
        canvas, scale = scrfd_input(image, self.input_size)
        outputs = self.session.run(None, {self.input_name: canvas})
        boxes, scores, kps = decode_scrfd(outputs, self.input_size, score_threshold=self.score_threshold)
        if len(scores) == 0:
            return []
        boxes, kps = boxes / scale, kps / scale
        keep = nms(boxes, scores, self.nms_threshold)
        return [Face(box=boxes[i], score=float(scores[i]), kps=kps[i]) for i in keep]
