"""StyleGAN-V's ``fvd2048_16f`` detector: the tf.hub Kinetics-400 I3D as TorchScript (FVD)."""

from __future__ import annotations

from pathlib import Path

import torch

__all__ = ["FVD_WEIGHTS", "load_i3d"]

FVD_WEIGHTS = "i3d_torchscript.pt"


def load_i3d(path: str | Path, device: str | torch.device = "cpu") -> torch.jit.ScriptModule:
    """Load StyleGAN-V's ``i3d_torchscript.pt`` (call: ``net(x, rescale=, resize=, return_features=)``)."""
    return torch.jit.load(str(path), map_location=device).eval()
