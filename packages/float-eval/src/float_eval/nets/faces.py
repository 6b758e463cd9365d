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

    Filled frame by frame (:meth:`append`), readable at any time: ``faces[t]`` is frame ``t``'s list of
    :class:`Face`, best first, rebuilt on access (boxes and keypoints as float64, which holds every detector's
    float32 values exactly). ``complete`` is set by :meth:`freeze` once every frame is in.
    """

    CHUNK = 256

    def __init__(self) -> None:
        self._chunks: list[
            tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
        ] = []  # offsets, box, score, kps
        self._pending: list[list[Face]] = []
        self._flushed = 0
        self.complete = False

    def append(self, faces: list[Face]) -> None:
        """Add the next frame's faces."""
        if self.complete:
            raise RuntimeError("FrameFaces is complete")
        self._pending.append(faces)
        if len(self._pending) >= self.CHUNK:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        flat = [f for faces in self._pending for f in faces]
        counts = np.array([len(faces) for faces in self._pending], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        boxes = np.array([np.asarray(f.box, np.float64) for f in flat]).reshape(-1, 4)
        scores = np.array([f.score for f in flat], dtype=np.float64)
        kps = [np.full((5, 2), np.nan) if f.kps is None else np.asarray(f.kps, np.float64) for f in flat]
        self._chunks.append((offsets, boxes, scores, np.array(kps).reshape(-1, 5, 2)))
        self._flushed += len(self._pending)
        self._pending = []

    def freeze(self) -> FrameFaces:
        """Every frame is in; returns self."""
        self._flush()
        self.complete = True
        return self

    def __len__(self) -> int:
        return self._flushed + len(self._pending)

    @overload
    def __getitem__(self, index: int) -> list[Face]: ...
    @overload
    def __getitem__(self, index: slice) -> list[list[Face]]: ...
    def __getitem__(self, index: int | slice) -> list[Face] | list[list[Face]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        if index >= self._flushed:
            return list(self._pending[index - self._flushed])
        offsets, boxes, scores, kps = self._chunks[index // self.CHUNK]
        lo, hi = offsets[index % self.CHUNK], offsets[index % self.CHUNK + 1]
        return [
            Face(
                box=boxes[i].copy(),
                score=float(scores[i]),
                kps=None if np.isnan(kps[i]).any() else kps[i].copy(),
            )
            for i in range(lo, hi)
        ]
