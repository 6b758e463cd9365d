"""Fixtures: a tiny random bundle (built once per session) and a pipeline on it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The helpers module sits next to this file; --import-mode=importlib does not put it on sys.path.
sys.path.insert(0, str(Path(__file__).parent))

from pipeline_helpers import build_tiny_bundle

from float_pipeline import Pipeline


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bundle(tmp_path_factory.mktemp("bundle") / "tiny")


@pytest.fixture(scope="session")
def pipeline(tiny_bundle: Path) -> Pipeline:
    return Pipeline.from_pretrained(tiny_bundle, progress=False)
