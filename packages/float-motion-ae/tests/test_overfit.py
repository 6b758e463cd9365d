"""A tiny auto-encoder learns to re-render real image pairs (slow: a short training run on CPU)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from float_motion_ae import MotionAutoEncoder, default_renderer

TARGET_PSNR_DB = 13.5
STEPS = 80


def _pairs(portrait_png: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """One real source crop [1, 3, 32, 32] and 4 driving crops of the same face, shifted and zoomed."""
    pixels = np.asarray(Image.open(portrait_png).convert("RGB"), dtype=np.float32)
    image = torch.from_numpy(pixels).permute(2, 0, 1)[None] / 127.5 - 1.0  # [1, 3, 256, 256]
    boxes = [(64, 48, 192), (80, 48, 192), (64, 64, 192), (48, 40, 208), (72, 60, 184)]  # (x0, y0, x1)

    def crop(x0: int, y0: int, x1: int) -> torch.Tensor:
        side = x1 - x0
        patch = image[..., y0 : y0 + side, x0:x1]
        return F.interpolate(patch, size=(32, 32), mode="bilinear", antialias=True, align_corners=False)

    crops = torch.cat([crop(*b) for b in boxes]).clamp(-1, 1)
    return crops[:1], crops[1:]


def _psnr(prediction: torch.Tensor, target: torch.Tensor) -> float:
    mse = F.mse_loss(prediction.clamp(-1, 1), target).item()
    return 10 * math.log10(4.0 / mse)  # peak-to-peak 2 for images in [-1, 1]


@pytest.mark.slow
def test_tiny_autoencoder_overfits_real_pairs(portrait_png: Path) -> None:
    torch.manual_seed(0)
    source, driving = _pairs(portrait_png)
    model = MotionAutoEncoder(size=32, latent_dim=32, motion_dim=8, channel_base=512, channel_max=32)
    model.set_renderer(default_renderer(batch="activations"))  # training: one dense conv per batch
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3, betas=(0.5, 0.99))
    with torch.no_grad():
        before = _psnr(model.eval().reconstruct(source, driving), driving)
    model.train()
    for _ in range(STEPS):
        loss = F.l1_loss(model.reconstruct(source, driving), driving)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        after = _psnr(model.eval().reconstruct(source, driving), driving)
    print(f"PSNR before {before:.2f} dB, after {STEPS} steps {after:.2f} dB")
    assert after >= TARGET_PSNR_DB
    assert after >= before + 3.0
