"""Deep3DFaceRecon's coefficient regressor (``epoch_20.pth``) and its 5 standard 3D landmarks.

``ReconNetWrapper``: a ResNet-50 without its classifier (torchvision's, same parameter names under
``backbone.``) and seven 1x1 convs (``final_layers.0..6``) giving 80 identity, 64 expression, 80 texture,
3 angle, 27 lighting, 2 + 1 translation = 257 coefficients.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import torchvision
from scipy.io import loadmat
from torch import nn

__all__ = ["LM3D_FILE", "RECON_WEIGHTS", "ReconNet", "load_lm3d", "load_recon_net"]

RECON_WEIGHTS = "epoch_20.pth"
LM3D_FILE = "similarity_Lm3D_all.mat"
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
    net.load_state_dict(cast(Mapping[str, Any], state), strict=True)
    return net.eval()


def load_lm3d(path: str | Path) -> np.ndarray:
    """The 5 standard 3D landmarks [5, 3] picked from ``similarity_Lm3D_all.mat``'s 68 (Deep3DFaceRecon)."""
    lm = loadmat(str(path))["lm"]
    idx = np.array([31, 37, 40, 43, 46, 49, 55]) - 1
    five = np.stack(
        [lm[idx[0]], lm[idx[[1, 2]]].mean(0), lm[idx[[3, 4]]].mean(0), lm[idx[5]], lm[idx[6]]], axis=0
    )
    return five[[1, 2, 0, 3, 4]].astype(np.float64)
