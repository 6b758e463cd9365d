"""Helper of the float-demo tests: a tiny seeded random bundle (media helpers: float_pipeline.testing)."""

from __future__ import annotations

from pathlib import Path

from float_pipeline import GenerationDefaults
from float_pipeline.testing import TINY_SIZE, build_random_bundle

SIZE = TINY_SIZE


def build_tiny_bundle(out: Path) -> Path:
    """The shared seeded random bundle with non-default sampling settings (the UI must start from them)."""
    defaults = GenerationDefaults(steps=2, emotion="happy", audio_scale=1.5, emotion_scale=0.5)
    return build_random_bundle(out, defaults=defaults, description="tiny random float-demo test bundle")
