"""Fixtures: one tiny random bundle per session and a pipeline loaded from it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# --import-mode=importlib does not put the tests folder on sys.path; the helpers module lives here.
sys.path.insert(0, str(Path(__file__).parent))

from demo_helpers import build_tiny_bundle

from float_pipeline import Pipeline


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bundle(tmp_path_factory.mktemp("demo-bundle") / "tiny")


@pytest.fixture(scope="session")
def pipeline(tiny_bundle: Path) -> Pipeline:
    return Pipeline.from_pretrained(tiny_bundle, progress=False)
