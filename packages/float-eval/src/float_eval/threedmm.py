"""E-FID and P-FID: Fréchet distances over Deep3DFaceRecon 3DMM coefficients.

The regressor is Deep3DFaceRecon_pytorch's ``ReconNetWrapper``: a ResNet-50 without its classifier
(torchvision's, same parameter names under ``backbone.``) and seven 1x1 convs (``final_layers.0..6``) giving
80 identity, 64 expression, 80 texture, 3 angle, 27 lighting, 2 + 1 translation = 257 coefficients.
Input: the face aligned by ``align_img`` (POS fit of 5 landmarks to the standard 3D landmarks, scale
``102 / s``, PIL bicubic resize, 224x224 crop), RGB in [0, 1].
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image
from scipy.io import loadmat
from torch import nn

from .faces import FaceDetector
from .frechet import FrechetMetric

__all__ = [
    "ANGLE_SLICE",
    "EXP_SLICE",
    "TRANS_SLICE",
    "CoefficientFID",
    "ReconNet",
    "align_for_recon",
    "load_lm3d",
    "load_recon_net",
    "pos_fit",
    "pose_coefficients",
]

EXP_SLICE = slice(80, 144)
ANGLE_SLICE = slice(224, 227)
TRANS_SLICE = slice(254, 257)
HEAD_SIZES = (80, 64, 80, 3, 27, 2, 1)


class ReconNet(nn.Module):
    """Deep3DFaceRecon's coefficient regressor: [B, 3, 224, 224] RGB in [0, 1] -> [B, 257]."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = torchvision.models.resnet50(weights=None)
        # Deep3DFaceRecon builds its ResNet without the last fc (use_last_fc=False): no fc parameters.
        self.backbone.fc = nn.Identity()
        self.final_layers = nn.ModuleList([nn.Conv2d(2048, n, kernel_size=1, bias=True) for n in HEAD_SIZES])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.backbone(x)[:, :, None, None]
        return torch.cat([layer(feat) for layer in self.final_layers], dim=1).flatten(1)


def load_recon_net(weights: str | Path | Mapping[str, torch.Tensor]) -> ReconNet:
    """ReconNet from ``epoch_20.pth`` (a dict holding ``net_recon``) or a bare state dict, loaded strictly."""
    state = (
        torch.load(weights, map_location="cpu", weights_only=True)
        if isinstance(weights, (str, Path))
        else weights
    )
    if "net_recon" in state:
        state = state["net_recon"]
    net = ReconNet()
    net.load_state_dict(state, strict=True)
    return net.eval()


def load_lm3d(path: str | Path) -> np.ndarray:
    """The 5 standard 3D landmarks [5, 3] picked from ``similarity_Lm3D_all.mat``'s 68 (Deep3DFaceRecon)."""
    lm = loadmat(str(path))["lm"]
    idx = np.array([31, 37, 40, 43, 46, 49, 55]) - 1
    five = np.stack(
        [lm[idx[0]], lm[idx[[1, 2]]].mean(0), lm[idx[[3, 4]]].mean(0), lm[idx[5]], lm[idx[6]]], axis=0
    )
    return five[[1, 2, 0, 3, 4]].astype(np.float64)


def pos_fit(xp: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, float]:
    """Scaled orthographic fit of 2D points ``xp`` [K, 2] to 3D points ``x`` [K, 3]: (translation, scale)."""
    k = xp.shape[0]
    a = np.zeros((2 * k, 8))
    a[0::2, 0:3] = x
    a[0::2, 3] = 1
    a[1::2, 4:7] = x
    a[1::2, 7] = 1
    sol = np.linalg.lstsq(a, xp.reshape(-1), rcond=None)[0]
    scale = (np.linalg.norm(sol[0:3]) + np.linalg.norm(sol[4:7])) / 2
    return np.array([sol[3], sol[7]]), float(scale)


def align_for_recon(
    image: Image.Image,
    landmarks: np.ndarray,
    lm3d: np.ndarray,
    target_size: int = 224,
    rescale: float = 102.0,
) -> torch.Tensor:
    """Deep3DFaceRecon's ``align_img``: image, landmarks [5, 2] (top-left origin) -> [3, 224, 224], 0..1."""
    w0, h0 = image.size
    lm = np.asarray(landmarks, dtype=np.float64).copy()
    lm[:, 1] = h0 - 1 - lm[:, 1]  # the reference fits in a bottom-left origin
    t, s = pos_fit(lm, lm3d)
    s = rescale / s
    w, h = int(w0 * s), int(h0 * s)
    if not 0 < max(w, h) <= 16384:
        raise ValueError(f"implausible landmarks: aligning would resize the frame to {w}x{h}")
    left = int(w / 2 - target_size / 2 + float((t[0] - w0 / 2) * s))
    up = int(h / 2 - target_size / 2 + float((h0 / 2 - t[1]) * s))
    crop = image.resize((w, h), resample=Image.BICUBIC).crop((left, up, left + target_size, up + target_size))
    return torch.from_numpy(np.asarray(crop, dtype=np.float32) / 255.0).permute(2, 0, 1)


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
    def coefficients(self, frames: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
        """Coefficients [K, 257] of the frames [T, 3, H, W] (uint8 RGB) with a face; indices of the others."""
        if self.detector is None:
            raise ValueError("a face detector is needed to extract coefficients from frames")
        crops, missing = [], []
        for t in range(frames.shape[0]):
            rgb = frames[t].permute(1, 2, 0).numpy()
            found = self.detector.detect(rgb)
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
