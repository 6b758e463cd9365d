"""Tiny seeded models and conditions shared by the float-flow tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch

from float_flow import FlowMatchingTransformer, WindowConditions

TINY = {
    "dim_motion": 8,
    "dim_hidden": 32,
    "depth": 2,
    "num_heads": 2,
    "mlp_ratio": 2.0,
    "num_frames": 12,
    "num_prev_frames": 4,
    "attention_window": 2,
    "dim_audio": 6,
    "dim_emotion": 7,
    "freq_dim": 16,
}


def _randomize(model: torch.nn.Module, std: float = 0.15, seed: int = 0) -> torch.nn.Module:
    """Overwrite every trainable weight with N(0, std) draws: the DiT init zeroes the gates and output,
    which would make the untrained field identically 0 and hide bugs."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            if param.requires_grad:
                param.copy_(torch.randn(param.shape, generator=gen) * std)
    return model


@pytest.fixture
def randomize() -> Callable[..., torch.nn.Module]:
    """The weight-randomizing helper (fixtures are the way to share helpers under importlib mode)."""
    return _randomize


@pytest.fixture
def tiny_config() -> dict[str, float | int]:
    return dict(TINY)


@pytest.fixture
def tiny_model() -> FlowMatchingTransformer:
    torch.manual_seed(0)
    return _randomize(FlowMatchingTransformer(**TINY)).eval()


@pytest.fixture
def make_cond() -> Callable[..., WindowConditions]:
    """``make_cond(batch, frames, seed, pose_dim=0)`` -> random conditions for the TINY model."""

    def make(batch: int = 2, frames: int = 12, seed: int = 1, pose_dim: int = 0) -> WindowConditions:
        gen = torch.Generator().manual_seed(seed)
        P = TINY["num_prev_frames"]

        def randn(*shape: int) -> torch.Tensor:
            return torch.randn(*shape, generator=gen)

        return WindowConditions(
            source=randn(batch, TINY["dim_motion"]),
            audio=randn(batch, frames, TINY["dim_audio"]),
            emotion=torch.softmax(randn(batch, 7), dim=-1),
            prev_motion=randn(batch, P, TINY["dim_motion"]),
            prev_audio=randn(batch, P, TINY["dim_audio"]),
            pose=randn(batch, frames, pose_dim) if pose_dim else None,
            prev_pose=randn(batch, P, pose_dim) if pose_dim else None,
        )

    return make


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Run these tiny models single-threaded: on the shared 2-core machine, intra-op threads fighting
    other processes made a training step 10x slower than one thread."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
