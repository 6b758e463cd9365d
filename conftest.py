"""Workspace-wide pytest fixtures and policies.

Every test in the monorepo (root ``tests/`` and each package's ``tests/``) sees these:

- ``fixtures_dir``, ``speech_wav``, ``portrait_png``: tiny real media committed under ``tests/fixtures/``.
- ``require_tool(name)``: skip a test when a system tool (espeak-ng, ffmpeg, chromium, ...) is absent, except
  under CI (``CI=true``), where ``.ci/run`` installs the tools and a missing one is a failure.
- the ``gpu`` marker: such tests skip cleanly when no CUDA device is present.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES_DIR = Path(__file__).parent / "tests" / "fixtures"

# Tests never reach a model hub: every model is built from a tiny config or read from a local folder.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def running_in_ci() -> bool:
    """True when the suite runs under CI (``CI=true``), where every system tool must be present."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _cuda_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device (none found)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """Folder of the committed test media (``tests/fixtures``)."""
    return FIXTURES_DIR


@pytest.fixture(scope="session")
def speech_wav() -> Path:
    """3.74 s of real English speech (espeak-ng, en-us), 16 kHz mono 16-bit PCM."""
    return FIXTURES_DIR / "speech_en.wav"


@pytest.fixture(scope="session")
def portrait_png() -> Path:
    """A real 256x256 RGB portrait (``skimage.data.astronaut()``, public domain), downscaled."""
    return FIXTURES_DIR / "portrait.png"


@pytest.fixture(scope="session")
def require_tool() -> Callable[[str], str]:
    """Return a function that gives a system tool's path, or skips (outside CI) / fails (in CI) without it."""

    def _require(name: str) -> str:
        path = shutil.which(name)
        if path is not None:
            return path
        message = f"system tool {name!r} is not installed (apt-get install {name})"
        if running_in_ci():
            pytest.fail(f"{message}; .ci/run must install it", pytrace=False)
        pytest.skip(message)

    return _require
