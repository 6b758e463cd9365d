"""Shared fixtures of the float-motion-ae tests: a tiny seeded model and the official key manifest."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from float_motion_ae import MotionAutoEncoder

# 32x32 images, d = 32, M = 8, channels 16@32, 32@16, 32@8, 32@4: builds and runs in milliseconds.
TINY = {"size": 32, "latent_dim": 32, "motion_dim": 8, "channel_base": 512, "channel_max": 32}


@pytest.fixture
def tiny_model() -> MotionAutoEncoder:
    torch.manual_seed(0)
    return MotionAutoEncoder(**TINY).eval()


@pytest.fixture(scope="session")
def fixture_json() -> Path:
    """The 177 motion_autoencoder keys and shapes of the official float.pth (from the design manifest)."""
    return Path(__file__).parent / "fixtures" / "official_motion_autoencoder.json"
