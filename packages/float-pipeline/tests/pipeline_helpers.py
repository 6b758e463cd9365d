"""Helper of the float-pipeline tests: the shared tiny random bundle."""

from __future__ import annotations

from pathlib import Path

from float_pipeline.testing import TINY_SIZE, build_random_bundle

SIZE = TINY_SIZE


def build_tiny_bundle(out: Path, *, dim_pose: int = 0) -> Path:
    """The shared seeded random bundle; zero-initialised flow layers re-drawn so conditions matter."""
    return build_random_bundle(out, dim_pose=dim_pose, randomize_zero_init=True)
