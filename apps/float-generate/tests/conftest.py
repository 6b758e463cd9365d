"""Fixtures: a tiny random bundle (built once per session) and a pipeline on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from float_pipeline import Pipeline
from float_pipeline.testing import build_random_bundle


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded random test bundle, zero-initialised flow layers re-drawn so that conditions matter."""
    return build_random_bundle(tmp_path_factory.mktemp("bundle") / "tiny", randomize_zero_init=True)


@pytest.fixture(scope="session")
def pipeline(tiny_bundle: Path) -> Pipeline:
    return Pipeline.from_pretrained(tiny_bundle, progress=False)
