"""Shared fixtures of the float-motion-ae tests: a tiny seeded model and the official key manifest."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from float_motion_ae import Encoded, MotionAutoEncoder, ReferenceRenderer

# 32x32 images, d = 32, M = 8, channels 16@32, 32@16, 32@8, 32@4: builds and runs in milliseconds.
TINY = {"size": 32, "latent_dim": 32, "motion_dim": 8, "channel_base": 512, "channel_max": 32}


@pytest.fixture
def tiny_model() -> MotionAutoEncoder:
    torch.manual_seed(0)
    return MotionAutoEncoder(**TINY).eval()


@dataclass
class DecodeCase:
    """A seeded float64 model, one random source, 3 motions, and their decode with the ReferenceRenderer."""

    model: MotionAutoEncoder
    encoded: Encoded
    motions: torch.Tensor  # [3, d]
    reference: torch.Tensor  # [3, 3, S, S], float64


@pytest.fixture
def decode_case() -> Callable[[dict[str, int], int], DecodeCase]:
    """Builder of a ``DecodeCase`` for a config (constructor arguments) and a seed."""

    def build(config: dict[str, int], seed: int) -> DecodeCase:
        torch.manual_seed(seed)
        model = MotionAutoEncoder(**config).eval().double()
        size = config["size"]
        with torch.no_grad():
            encoded = model.encode(torch.rand(1, 3, size, size, dtype=torch.float64) * 2 - 1)
            motions = model.motion(torch.randn(3, config["motion_dim"], dtype=torch.float64))
            model.set_renderer(ReferenceRenderer())
            reference = model.decode(encoded.identity, motions, encoded.features)
        return DecodeCase(model, encoded, motions, reference)

    return build


@pytest.fixture(scope="session")
def fixture_json() -> Path:
    """The 177 motion_autoencoder keys and shapes of the official float.pth (from the design manifest)."""
    return Path(__file__).parent / "fixtures" / "official_motion_autoencoder.json"
