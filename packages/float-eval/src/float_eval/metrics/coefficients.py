"""E-FID and P-FID: Fréchet distances over Deep3DFaceRecon 3DMM coefficients.

Per frame: SCRFD's 5 keypoints, the face aligned by ``align_img`` (:mod:`float_eval.ops.align`:
POS fit to the standard 3D landmarks, scale ``102 / s``, PIL bicubic resize, 224x224 crop, RGB in [0, 1]),
Deep3DFaceRecon's regressor (:class:`float_eval.nets.recon.ReconNet`) -> 257 coefficients; E-FID compares
the expression ones, P-FID the pose ones, generated frames against reference frames.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from ..nets.faces import Face, FaceDetector
from ..nets.recon import LM3D_FILE, RECON_WEIGHTS, load_lm3d, load_recon_net
from ..nets.scrfd import SCRFD_WEIGHTS
from ..ops.align import align_for_recon
from ..ops.frechet import FeatureStats
from ..pair import SIDES
from .frechet import FrechetMetric
from .shared import scrfd

if TYPE_CHECKING:
    from ..config import EvalConfig
    from ..pair import Plan, Side, VideoPair
    from ..resources import Resources

__all__ = [
    "ANGLE_SLICE",
    "EXP_SLICE",
    "TRANS_SLICE",
    "CoefficientFID",
    "EFIDMetric",
    "PFIDMetric",
    "pose_coefficients",
]

EXP_SLICE = slice(80, 144)
ANGLE_SLICE = slice(224, 227)
TRANS_SLICE = slice(254, 257)


def pose_coefficients(coeffs: torch.Tensor, with_translation: bool = False) -> torch.Tensor:
    """Pose from [N, 257] coefficients: angles [N, 3], or angles + translation [N, 6]."""
    if with_translation:
        return torch.cat([coeffs[:, ANGLE_SLICE], coeffs[:, TRANS_SLICE]], dim=1)
    return coeffs[:, ANGLE_SLICE]


class CoefficientFID(FrechetMetric):
    """E-FID (``kind="expression"``, 64-d) or P-FID (``kind="pose"``, 3-d or 6-d) over per-frame coefficients.

    ``update(coeffs, real)`` takes [N, 257] coefficients; :meth:`coefficients` extracts them from frames.
    """

    def __init__(
        self,
        kind: str,
        net: nn.Module,
        lm3d: np.ndarray,
        detector: FaceDetector | None = None,
        with_translation: bool = False,
        device: str | torch.device = "cpu",
        batch_size: int = 32,
    ) -> None:
        if kind not in ("expression", "pose"):
            raise ValueError(f"kind must be 'expression' or 'pose', got {kind!r}")
        dim = 64 if kind == "expression" else (6 if with_translation else 3)
        super().__init__(dim=dim, ddof=1)
        self.kind = kind
        self.with_translation = with_translation
        self.net = net.to(device).eval()
        self.lm3d = lm3d
        self.detector = detector
        self.device = torch.device(device)
        self.batch_size = batch_size  # aligned 224x224 faces per regressor call

    def select(self, coeffs: torch.Tensor) -> torch.Tensor:
        if coeffs.ndim != 2 or coeffs.shape[1] != 257:
            raise ValueError(f"coefficients must be [N, 257], got {list(coeffs.shape)}")
        return (
            coeffs[:, EXP_SLICE]
            if self.kind == "expression"
            else pose_coefficients(coeffs, self.with_translation)
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.select(x)

    @torch.no_grad()
    def coefficients(
        self, frames: torch.Tensor, detections: Sequence[list[Face]] | None = None
    ) -> tuple[torch.Tensor, list[int]]:
        """Coefficients [K, 257] of the frames [T, 3, H, W] (uint8 RGB) with a face; indices of the others.

        ``detections``: the detector's faces of each frame when already known (else detected here).
        """
        chunks, missing = [], []
        for coeffs, lost in self.stream_coefficients([frames], detections):
            chunks.append(coeffs)
            missing += lost
        return (torch.cat(chunks) if chunks else torch.zeros(0, 257)), missing

    @torch.no_grad()
    def stream_coefficients(
        self, batches: Iterable[torch.Tensor], detections: Sequence[list[Face]] | None = None
    ) -> Iterator[tuple[torch.Tensor, list[int]]]:
        """Per run of ``batch_size`` aligned faces: (coefficients [k, 257] float64, frames without a face).

        ``batches``: the video's frames in order, [B, 3, H, W] uint8 RGB; ``detections``: faces per frame.
        """
        if self.detector is None and detections is None:
            raise ValueError("a face detector is needed to extract coefficients from frames")
        extractor = CoefficientExtractor(self)
        start = 0
        for batch in batches:
            known = None if detections is None else detections[start : start + batch.shape[0]]
            yield from extractor.push(batch, start, known)
            start += batch.shape[0]
        yield from extractor.close()

    def settings(self) -> dict[str, object]:
        return _settings(self.kind, self.with_translation)


class CoefficientExtractor:
    """Frames pushed in batches -> aligned 224x224 faces -> the regressor, ``fid.batch_size`` faces a call."""

    def __init__(self, fid: CoefficientFID) -> None:
        self.fid = fid
        self.crops: list[torch.Tensor] = []
        self.missing: list[int] = []

    def _run(self) -> tuple[torch.Tensor, list[int]]:
        fid = self.fid
        coeffs = fid.net(torch.stack(self.crops).to(fid.device)).double().cpu() if self.crops else None
        out = (torch.zeros(0, 257) if coeffs is None else coeffs), self.missing
        self.crops, self.missing = [], []
        return out

    @torch.no_grad()
    def push(
        self, frames: torch.Tensor, start: int, detections: Sequence[list[Face]] | None = None
    ) -> list[tuple[torch.Tensor, list[int]]]:
        """Frames ``start ..`` [B, 3, H, W] uint8 RGB (and their faces when known); the (coefficients,
        frames without a face) of every full batch of faces."""
        fid, out = self.fid, []
        for i, frame in enumerate(frames):
            rgb = frame.permute(1, 2, 0).numpy()
            found = fid.detector.detect(rgb) if detections is None else detections[i]  # type: ignore[union-attr]
            aligned = None
            if found and found[0].kps is not None:
                try:
                    aligned = align_for_recon(Image.fromarray(rgb), found[0].kps, fid.lm3d)
                except ValueError:  # degenerate keypoints count as a frame without a usable face
                    aligned = None
            if aligned is None:
                self.missing.append(start + i)
            else:
                self.crops.append(aligned)
            if len(self.crops) == fid.batch_size:
                out.append(self._run())
        return out

    @torch.no_grad()
    def close(self) -> list[tuple[torch.Tensor, list[int]]]:
        """The last, partial batch."""
        return [self._run()] if self.crops or self.missing else []


class _CoefficientFeed:
    """One side of a pair through detector (shared) and regressor once, into 257-d float64 statistics that
    E-FID and P-FID both read."""

    def __init__(self, pair: VideoPair, side: Side, fid: CoefficientFID) -> None:
        self.pair, self.side, self.fid, self.done = pair, side, fid, False
        self.extractor = CoefficientExtractor(fid)
        self.stats, self.missing = FeatureStats(257), 0

    def _add(self, chunks: list[tuple[torch.Tensor, list[int]]]) -> None:
        for coeffs, lost in chunks:
            if coeffs.shape[0]:
                self.stats.update(coeffs)
            self.missing += len(lost)

    def push(self, frames: torch.Tensor, start: int) -> None:
        assert self.fid.detector is not None
        faces = self.pair.faces_in(self.side, self.fid.detector, frames, start)
        self._add(self.extractor.push(frames, start, faces))

    def close(self) -> None:
        self._add(self.extractor.close())
        self.done = True


def coefficient_indices(kind: str, with_translation: bool = False) -> list[int]:
    """Which of the 257 coefficients E-FID (``"expression"``) or P-FID (``"pose"``) compares."""
    if kind == "expression":
        return list(range(257))[EXP_SLICE]
    return list(range(257))[ANGLE_SLICE] + (list(range(257))[TRANS_SLICE] if with_translation else [])


def _settings(kind: str, with_translation: bool) -> dict[str, object]:
    dims = "80:144" if kind == "expression" else ("224:227+254:257" if with_translation else "224:227")
    return {
        "backbone": "Deep3DFaceRecon ResNet-50 regressor (257 coefficients)",
        "coefficients": dims,
        "alignment": "POS to similarity_Lm3D_all 5 points, rescale 102, 224x224 PIL bicubic",
        "pooling": "per frame",
    }


class _CoefficientFIDMetric:
    """A run's E-FID or P-FID: Fréchet distance over every frame with a face, generated vs reference.

    Each side of a video goes once through the detector and once through the regressor, streamed in
    batches: the float64 statistics of all 257 coefficients (count, sum, sum of outer products) are kept per
    pair and E-FID and P-FID take their sub-vectors from them. Stand-ins: ``recon_net``, ``lm3d`` and
    ``detector`` (SCRFD, shared with CSIM).
    """

    name: str
    kind: str
    higher_is_better = False
    weights = (SCRFD_WEIGHTS, RECON_WEIGHTS, LM3D_FILE)
    fid: CoefficientFID

    def __init__(self, config: EvalConfig) -> None:
        self.config = config
        self.with_translation = config.pfid_translation and self.kind == "pose"
        self.index = coefficient_indices(self.kind, self.with_translation)
        self.stats = FrechetMetric(dim=len(self.index), ddof=1)

    def setup(self, resources: Resources) -> None:
        detector = scrfd(resources)
        net = resources.shared("recon_net", lambda: resources.load(RECON_WEIGHTS, load_recon_net))
        lm3d = resources.shared("lm3d", lambda: resources.load(LM3D_FILE, load_lm3d))
        self.fid = CoefficientFID(
            self.kind, net, lm3d, detector, self.with_translation, device=resources.device
        )

    def _feed(self, pair: VideoPair, side: Side) -> _CoefficientFeed:
        fid = self.fid
        # One feed per side, network, landmarks and detector: E-FID and P-FID get the same object.
        key = ("3dmm coefficients", side, id(fid.net), id(fid.lm3d), id(fid.detector))
        return pair.cached(key, lambda: _CoefficientFeed(pair, side, fid))

    def _plan(self, pair: VideoPair) -> Plan:
        return {side: [self._feed(pair, side)] for side in SIDES}

    def frame_consumers(self, pair: VideoPair) -> Plan:
        """Both sides (``evaluate`` shares the pass; detections and regressor are shared with the other)."""
        return pair.plan(self, lambda: self._plan(pair))

    def update(self, pair: VideoPair) -> None:
        plan = pair.consume(self, lambda: self._plan(pair))
        for side in SIDES:
            feed = plan[side][0]
            assert isinstance(feed, _CoefficientFeed)
            pair.result.frames_without_face[f"{self.name}_{side}"] = feed.missing
            if feed.stats.count:
                target = self.stats.real if side == "reference" else self.stats.fake
                target.merge(feed.stats.select(self.index))
            else:
                pair.problem(f"{self.name}: no face in any {side} frame", count_as=f"no face ({self.name})")

    def compute(self) -> float:
        return self.stats.compute()

    def reset(self) -> None:
        self.stats.reset()

    def settings(self) -> dict[str, object]:
        return _settings(self.kind, self.with_translation)

    def state(self) -> dict[str, Any]:
        """Coefficient sums and counts of both sides (float64)."""
        return {"stats": self.stats.state()}

    def merge_state(self, state: dict[str, Any]) -> None:
        """Add a shard's statistics (no network needed)."""
        self.stats.merge_state(state["stats"])


class EFIDMetric(_CoefficientFIDMetric):
    """``efid``: Fréchet distance of per-frame expression coefficients ``80:144`` (64-d)."""

    name = "efid"
    kind = "expression"


class PFIDMetric(_CoefficientFIDMetric):
    """``pfid``: Fréchet distance of per-frame head pose ``224:227`` (3-d; with ``pfid_translation``, 6-d)."""

    name = "pfid"
    kind = "pose"
