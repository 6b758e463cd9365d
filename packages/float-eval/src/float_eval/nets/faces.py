"""The face-detector protocol every metric uses, and the detection it returns.

A detector maps one RGB frame [H, W, 3] uint8 to a list of :class:`Face` (box, score, 5 keypoints), best
first. SCRFD (:mod:`float_eval.nets.scrfd`) and S3FD (:mod:`float_eval.nets.s3fd`) implement it; any object
with that ``detect`` method can replace them (tests use stand-ins).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, overload

import numpy as np


def default_providers() -> list[str]:
    """CUDA when this onnxruntime build has it, else CPU."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


__all__ = ["Face", "FaceDetector", "FrameFaces", "default_providers"]


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


class FrameFaces(Sequence[list[Face]]):
    """Every frame's faces, stored flat (about 120 bytes a face) so a long video's detections stay small.

    ``faces[t]`` is frame ``t``'s list of :class:`Face`, best first, rebuilt on access (boxes and keypoints as
    float64, which holds every detector's float32 values exactly).
    """

    def __init__(self) -> None:
        self._counts: list[np.ndarray] = []
        self._boxes: list[np.ndarray] = []
        self._scores: list[np.ndarray] = []
        self._kps: list[np.ndarray] = []
        self._pending: list[list[Face]] = []
        self._offsets = np.zeros(1, dtype=np.int64)
        self._frozen = False

    def append(self, faces: list[Face]) -> None:
        """Add the next frame's faces (flattened every 256 frames)."""
        self._pending.append(faces)
        if len(self._pending) >= 256:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        flat = [f for faces in self._pending for f in faces]
        self._counts.append(np.array([len(faces) for faces in self._pending], dtype=np.int64))
        self._boxes.append(np.array([np.asarray(f.box, np.float64) for f in flat]).reshape(-1, 4))
        self._scores.append(np.array([f.score for f in flat], dtype=np.float64))
        kps = [np.full((5, 2), np.nan) if f.kps is None else np.asarray(f.kps, np.float64) for f in flat]
        self._kps.append(np.array(kps).reshape(-1, 5, 2))
        self._pending = []

    def freeze(self) -> FrameFaces:
        """Finish appending; returns self."""
        self._flush()
        counts = np.concatenate(self._counts) if self._counts else np.zeros(0, np.int64)
        self._offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self._box_all = np.concatenate(self._boxes) if self._boxes else np.zeros((0, 4))
        self._score_all = np.concatenate(self._scores) if self._scores else np.zeros(0)
        self._kps_all = np.concatenate(self._kps) if self._kps else np.zeros((0, 5, 2))
        self._has_kps = ~np.isnan(self._kps_all).any(axis=(1, 2))
        self._counts = self._boxes = self._scores = self._kps = []
        self._frozen = True
        return self

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @overload
    def __getitem__(self, index: int) -> list[Face]: ...
    @overload
    def __getitem__(self, index: slice) -> list[list[Face]]: ...
    def __getitem__(self, index: int | slice) -> list[Face] | list[list[Face]]:
        if not self._frozen:
            raise RuntimeError("FrameFaces is read after freeze()")
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        lo, hi = self._offsets[index], self._offsets[index + 1]
        return [
            Face(
                box=self._box_all[i].copy(),
                score=float(self._score_all[i]),
                kps=self._kps_all[i].copy() if self._has_kps[i] else None,
            )
            for i in range(lo, hi)
        ]
