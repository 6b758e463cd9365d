"""CSIM: ArcFace cosine similarity between the source portrait and every generated frame.

Each face is aligned to the 112x112 ArcFace template from its 5 keypoints, normalised as insightface's
``ArcFaceONNX`` does (RGB, ``(x - 127.5) / 127.5``) and embedded; CSIM of a video is the mean cosine over its
frames with a face, and frames without a face are counted, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from ..nets.arcface import ARCFACE_WEIGHTS, ArcFaceONNX
from ..nets.faces import Face, FaceDetector
from ..nets.scrfd import SCRFD_WEIGHTS
from ..ops.align import norm_crop
from .shared import scrfd

if TYPE_CHECKING:
    from ..config import EvalConfig
    from ..pair import Plan, VideoPair
    from ..resources import Resources

__all__ = ["CSIM", "CSIMAccumulator", "CSIMMetric", "CSIMResult", "aligned_faces"]

Embedder = Callable[[torch.Tensor], torch.Tensor]


def aligned_faces(
    frames: torch.Tensor, detector: FaceDetector, detections: Sequence[list[Face]] | None = None
) -> tuple[torch.Tensor, list[int]]:
    """Align the best face of every frame.

    Args:
        frames: [T, 3, H, W] uint8 RGB.
        detections: ``detector``'s faces of each of the T frames when already known (else detected here).
    Returns:
        (faces [K, 3, 112, 112] float in [0, 255], indices of the T - K frames with no face or no keypoints).
    """
    crops, missing = [], []
    for t in range(frames.shape[0]):
        found = detector.detect(frames[t].permute(1, 2, 0).numpy()) if detections is None else detections[t]
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
        detector: a :class:`~float_eval.nets.faces.FaceDetector` giving 5 keypoints.
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
    def score(
        self, source: torch.Tensor, frames: torch.Tensor, detections: Sequence[list[Face]] | None = None
    ) -> CSIMResult:
        """CSIM of one video. ``source`` [3, H, W] and ``frames`` [T, 3, H, W], uint8 RGB.

        ``detections``: the detector's faces of each frame when already known (see :func:`aligned_faces`).
        """
        return self.score_stream(source, [frames], detections)

    @torch.no_grad()
    def score_stream(
        self,
        source: torch.Tensor,
        batches: Iterable[torch.Tensor],
        detections: Sequence[list[Face]] | None = None,
    ) -> CSIMResult:
        """CSIM of one video streamed as frame batches [B, 3, H, W] uint8 RGB (``detections`` per frame).

        Faces are embedded ``batch_size`` at a time, in the groups :meth:`score` forms on the whole video.
        """
        acc = CSIMAccumulator(self, self.source_embedding(source))
        offset = 0
        for batch in batches:
            known = None if detections is None else detections[offset : offset + batch.shape[0]]
            acc.push(batch, known)
            offset += batch.shape[0]
        return acc.result()

    @torch.no_grad()
    def source_embedding(self, source: torch.Tensor) -> torch.Tensor:
        """The portrait's embedding [1, D] (float64).

        Raises:
            ValueError: no face with keypoints in it.
        """
        src_faces, src_missing = aligned_faces(source[None], self.detector)
        if src_missing:
            raise ValueError("no face with keypoints found in the source portrait: CSIM needs one")
        return self._embed(src_faces)

    def update(
        self, source: torch.Tensor, frames: torch.Tensor, detections: Sequence[list[Face]] | None = None
    ) -> CSIMResult:
        result = self.score(source, frames, detections)
        self.per_video.append(result)
        return result

    def compute(self) -> float:
        scored = [r.csim for r in self.per_video if r.csim is not None]
        if not scored:
            raise ValueError("CSIM: no video had a frame with a face")
        return float(np.mean(scored))


class CSIMAccumulator:
    """One video's frames pushed in batches: aligned faces embedded ``csim.batch_size`` at a time, the cosine
    to the portrait's embedding kept per frame (8 bytes a frame)."""

    def __init__(self, csim: CSIM, reference: torch.Tensor) -> None:
        self.csim, self.reference = csim, reference
        self.cosines: list[torch.Tensor] = []
        self.pending: list[torch.Tensor] = []
        self.missing = 0

    def _flush(self) -> None:
        emb = self.csim._embed(torch.stack(self.pending))
        self.cosines.append(F.cosine_similarity(emb, self.reference.expand_as(emb), dim=1))
        self.pending = []

    @torch.no_grad()
    def push(self, frames: torch.Tensor, detections: Sequence[list[Face]] | None = None) -> None:
        """Frames [B, 3, H, W] uint8 RGB and, when known, their faces."""
        faces, lost = aligned_faces(frames, self.csim.detector, detections)
        self.missing += len(lost)
        for face in faces:
            self.pending.append(face)
            if len(self.pending) == self.csim.batch_size:
                self._flush()

    def result(self) -> CSIMResult:
        if self.pending:
            self._flush()
        if not self.cosines:
            return CSIMResult(csim=None, frames_scored=0, frames_without_face=self.missing)
        cos = torch.cat(self.cosines)
        return CSIMResult(
            csim=float(cos.mean()), frames_scored=int(cos.shape[0]), frames_without_face=self.missing
        )


class _CSIMFeed:
    """The generated side of a pair into a :class:`CSIMAccumulator`, with the pass's shared detections."""

    def __init__(self, pair: VideoPair, csim: CSIM, reference: torch.Tensor) -> None:
        self.pair, self.acc, self.done = pair, CSIMAccumulator(csim, reference), False
        self.result: CSIMResult | None = None

    def push(self, frames: torch.Tensor, start: int) -> None:
        self.acc.push(frames, self.pair.faces_in("generated", self.acc.csim.detector, frames, start))

    def close(self) -> None:
        self.result, self.done = self.acc.result(), True


class CSIMMetric:
    """``csim``: :class:`CSIM` of every generated video against its source portrait; mean over videos.

    The portrait is ``sources/<name>.png|jpg``, else the first reference frame (noted per video). Stand-ins:
    ``arcface`` (aligned faces [N, 3, 112, 112] -> [N, D]) and ``detector`` (SCRFD, shared with E-FID/P-FID).
    """

    name = "csim"
    higher_is_better = True
    weights = (SCRFD_WEIGHTS, ARCFACE_WEIGHTS)
    csim: CSIM

    def __init__(self, config: EvalConfig) -> None:
        self.config = config
        self.reset()

    def setup(self, resources: Resources) -> None:
        detector = scrfd(resources)
        arcface = resources.shared("arcface", lambda: resources.load(ARCFACE_WEIGHTS, ArcFaceONNX))
        self.csim = CSIM(arcface, detector)

    def frame_consumers(self, pair: VideoPair) -> Plan:
        """The generated frames (``evaluate`` shares the pass and the detections with the other metrics)."""
        return pair.plan(self, lambda: self._plan(pair))

    def _plan(self, pair: VideoPair) -> Plan:
        source, where = pair.source_image()
        pair.note(f"csim source: {where}")
        try:
            reference = self.csim.source_embedding(source)
        except ValueError as err:
            pair.problem(f"csim: {err}", count_as="no face in source (csim)")
            return {}
        return {"generated": [_CSIMFeed(pair, self.csim, reference)]}

    def update(self, pair: VideoPair) -> None:
        plan = pair.consume(self, lambda: self._plan(pair))
        if not plan:
            return
        feed = plan["generated"][0]
        assert isinstance(feed, _CSIMFeed) and feed.result is not None
        res = feed.result
        self.csim.per_video.append(res)
        pair.result.csim = res.csim
        pair.result.frames_without_face["csim"] = res.frames_without_face
        if res.csim is None:
            pair.problem("csim: no face in any generated frame", count_as="no face (csim)")
        else:
            self.per_video[pair.name] = res.csim

    def compute(self) -> float | None:
        # Mean over videos in name order, so that merged shards give the single run's number exactly.
        scored = [self.per_video[name] for name in sorted(self.per_video)]
        return float(np.mean(scored)) if scored else None

    def reset(self) -> None:
        self.per_video: dict[str, float] = {}
        if hasattr(self, "csim"):
            self.csim.reset()

    def settings(self) -> dict[str, object]:
        return {
            "backbone": "ArcFace (ONNX Runtime)",
            "alignment": "5-point similarity to 112x112 template",
            "source": "sources/<name>.png|jpg, else first reference frame",
            "pooling": "mean over frames, then videos",
        }

    def state(self) -> dict[str, Any]:
        """Every scored video's CSIM, by name."""
        return {"per_video": dict(self.per_video)}

    def merge_state(self, state: dict[str, Any]) -> None:
        """Add a shard's per-video scores."""
        self.per_video.update(state["per_video"])
