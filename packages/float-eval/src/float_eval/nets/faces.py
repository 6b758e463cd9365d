"""The face-detector protocol every metric uses, and the detection it returns.

A detector maps one RGB frame [H, W, 3] uint8 to a list of :class:`Face` (box, score, 5 keypoints), best
first. SCRFD (:mod:`float_eval.nets.scrfd`) and S3FD (:mod:`float_eval.nets.s3fd`) implement it; any object
with that ``detect`` method can replace them (tests use stand-ins).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


def default_providers() -> list[str]:
    """CUDA when this onnxruntime build has it, else CPU."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


__all__ = ["Face", "FaceDetector", "default_providers"]


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
