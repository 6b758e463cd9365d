"""E-FID and P-FID: Fréchet distances over Deep3DFaceRecon 3DMM coefficients.

Per frame: SCRFD's 5 keypoints, the face aligned by ``align_img`` (:mod:`float_eval.ops.align`:
POS fit to the standard 3D landmarks, scale ``102 / s``, PIL bicubic resize, 224x224 crop, RGB in [0, 1]),
Deep3DFaceRecon's regressor (:class:`float_eval.nets.recon.ReconNet`) -> 257 coefficients; E-FID compares
the expression ones, P-FID the pose ones, generated frames against reference frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image
from torch import nn

from ..nets.faces import Face, FaceDetector
from ..nets.recon import LM3D_FILE, RECON_WEIGHTS, load_lm3d, load_recon_net
from ..nets.scrfd import SCRFD_WEIGHTS
from ..ops.align import align_for_recon
from .frechet import FrechetMetric
from .shared import scrfd

if TYPE_CHECKING:
    from ..config import EvalConfig
    from ..pair import VideoPair
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
        if self.detector is None:
            raise ValueError("a face detector is needed to extract coefficients from frames")
        crops, missing = [], []
        for t in range(frames.shape[0]):
            rgb = frames[t].permute(1, 2, 0).numpy()
            found = self.detector.detect(rgb) if detections is None else detections[t]
            if not found or found[0].kps is None:
                missing.append(t)
                continue
            try:
                crops.append(align_for_recon(Image.fromarray(rgb), found[0].kps, self.lm3d))
            except ValueError:  # degenerate keypoints count as a frame without a usable face
                missing.append(t)
        if not crops:
            return torch.zeros(0, 257), missing
        return self.net(torch.stack(crops).to(self.device)).double().cpu(), missing

    def settings(self) -> dict[str, object]:
        dims = (
            "80:144"
            if self.kind == "expression"
            else ("224:227+254:257" if self.with_translation else "224:227")
        )
        return {
            "backbone": "Deep3DFaceRecon ResNet-50 regressor (257 coefficients)",
            "coefficients": dims,
            "alignment": "POS to similarity_Lm3D_all 5 points, rescale 102, 224x224 PIL bicubic",
            "pooling": "per frame",
        }


class _CoefficientFIDMetric:
    """A run's E-FID or P-FID: :class:`CoefficientFID` over every frame with a face, generated vs reference.

    Coefficients are extracted once per video side and shared by E-FID and P-FID (same regressor, same
    detector). Stand-ins: ``recon_net``, ``lm3d`` and ``detector`` (SCRFD, shared with CSIM).
    """

    name: str
    kind: str
    higher_is_better = False
    weights = (SCRFD_WEIGHTS, RECON_WEIGHTS, LM3D_FILE)
    fid: CoefficientFID

    def __init__(self, config: EvalConfig) -> None:
        self.config = config

    def setup(self, resources: Resources) -> None:
        detector = scrfd(resources)
        net = resources.shared("recon_net", lambda: load_recon_net(resources.weight(RECON_WEIGHTS)))
        lm3d = resources.shared("lm3d", lambda: load_lm3d(resources.weight(LM3D_FILE)))
        with_translation = self.config.pfid_translation and self.kind == "pose"
        self.fid = CoefficientFID(self.kind, net, lm3d, detector, with_translation, device=resources.device)

    def update(self, pair: VideoPair) -> None:
        fid = self.fid
        assert fid.detector is not None
        for side in ("generated", "reference"):
            coeffs, missing = pair.cached(
                ("3dmm coefficients", side, id(fid.net), id(fid.lm3d), id(fid.detector)),
                lambda side=side: fid.coefficients(pair.frames(side), pair.faces(side, fid.detector)),
            )
            pair.result.frames_without_face[f"{self.name}_{side}"] = len(missing)
            if coeffs.shape[0]:
                fid.update(coeffs, real=side == "reference")
            else:
                pair.problem(f"{self.name}: no face in any {side} frame", count_as=f"no face ({self.name})")

    def compute(self) -> float:
        return self.fid.compute()

    def reset(self) -> None:
        self.fid.reset()

    def settings(self) -> dict[str, object]:
        return self.fid.settings()


class EFIDMetric(_CoefficientFIDMetric):
    """``efid``: Fréchet distance of per-frame expression coefficients ``80:144`` (64-d)."""

    name = "efid"
    kind = "expression"


class PFIDMetric(_CoefficientFIDMetric):
    """``pfid``: Fréchet distance of per-frame head pose ``224:227`` (3-d; with ``pfid_translation``, 6-d)."""

    name = "pfid"
    kind = "pose"
