"""CSIM: ArcFace cosine similarity between the source portrait and every generated frame.

Each face is aligned to the 112x112 ArcFace template from its 5 keypoints, normalised as insightface's
``ArcFaceONNX`` does (RGB, ``(x - 127.5) / 127.5``) and embedded; CSIM of a video is the mean cosine over its
frames with a face, and frames without a face are counted, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .align import norm_crop
from .faces import FaceDetector, _default_providers

__all__ = ["CSIM", "ArcFaceONNX", "CSIMResult", "aligned_faces"]

Embedder = Callable[[torch.Tensor], torch.Tensor]


class ArcFaceONNX:
    """ArcFace through ONNX Runtime: aligned faces [N, 3, 112, 112] RGB in [0, 255] -> embeddings [N, D]."""

    def __init__(self, model_path: str | Path, providers: list[str] | None = None) -> None:
        import onnxruntime as ort

        self.session = ort.InferenceSession(str(model_path), providers=providers or _default_providers())
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, faces: torch.Tensor) -> torch.Tensor:
        if faces.ndim != 4 or tuple(faces.shape[1:]) != (3, 112, 112):
            raise ValueError(f"ArcFace expects aligned faces [N, 3, 112, 112], got {list(faces.shape)}")
        blob = ((faces.float() - 127.5) / 127.5).numpy().astype(np.float32)
        return torch.from_numpy(self.session.run(None, {self.input_name: blob})[0]).float()


def aligned_faces(frames: torch.Tensor, detector: FaceDetector) -> tuple[torch.Tensor, list[int]]:
    """Align the best face of every frame.

    Args:
        frames: [T, 3, H, W] uint8 RGB.
    Returns:
        (faces [K, 3, 112, 112] float in [0, 255], indices of the T - K frames with no face or no keypoints).
    """
    crops, missing = [], []
    for t in range(frames.shape[0]):
        found = detector.detect(frames[t].permute(1, 2, 0).numpy())
        if not found or found[0].kps is None:
            missing.append(t)
            continue
        crops.append(norm_crop(frames[t].float(), found[0].kps))
    faces = torch.stack(crops) if crops else torch.zeros(0, 3, 112, 112)
    return faces, missing


@dataclass(frozen=True)
class CSIMResult:
    """CSIM of one video: mean cosine over ``frames_scored`` frames, and frames without a face."""

    csim: float | None
    frames_scored: int
    frames_without_face: int


class CSIM:
    """Streaming CSIM over videos: ``update(source, frames)`` per video, ``compute()`` = mean over videos.

    Args:
        embedder: aligned faces [N, 3, 112, 112] (RGB, 0..255) -> [N, D], e.g. :class:`ArcFaceONNX`.
        detector: a :class:`~float_eval.faces.FaceDetector` giving 5 keypoints.
        batch_size: faces per embedder call.
    """

    def __init__(self, embedder: Embedder, detector: FaceDetector, batch_size: int = 64) -> None:
        self.embedder = embedder
        self.detector = detector
        self.batch_size = batch_size
        self.reset()

    def reset(self) -> None:
        self.per_video: list[CSIMResult] = []

    def _embed(self, faces: torch.Tensor) -> torch.Tensor:
        out = [
            self.embedder(faces[i : i + self.batch_size]) for i in range(0, faces.shape[0], self.batch_size)
        ]
        return torch.cat(out).double()

    @torch.no_grad()
    def score(self, source: torch.Tensor, frames: torch.Tensor) -> CSIMResult:
        """CSIM of one video. ``source`` [3, H, W] and ``frames`` [T, 3, H, W], uint8 RGB."""
        src_faces, src_missing = aligned_faces(source[None], self.detector)
        if src_missing:
            raise ValueError("no face with keypoints found in the source portrait: CSIM needs one")
        faces, missing = aligned_faces(frames, self.detector)
        if faces.shape[0] == 0:
            return CSIMResult(csim=None, frames_scored=0, frames_without_face=len(missing))
        ref = self._embed(src_faces)
        emb = self._embed(faces)
        cos = F.cosine_similarity(emb, ref.expand_as(emb), dim=1)
        return CSIMResult(
            csim=float(cos.mean()), frames_scored=int(faces.shape[0]), frames_without_face=len(missing)
        )

    def update(self, source: torch.Tensor, frames: torch.Tensor) -> CSIMResult:
        result = self.score(source, frames)
        self.per_video.append(result)
        return result

    def compute(self) -> float:
        scored = [r.csim for r in self.per_video if r.csim is not None]
        if not scored:
            raise ValueError("CSIM: no video had a frame with a face")
        return float(np.mean(scored))
