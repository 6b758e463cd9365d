"""float-demo: a local, offline Gradio page over :class:`float_pipeline.Pipeline`.

``build_app(pipeline)`` builds the page around an already loaded pipeline (the model is loaded once and shared
by every request); ``float-demo`` (:mod:`float_demo.cli`) loads a bundle and serves it on localhost.

Names are imported on first use: torch, the FLOAT packages and Gradio take seconds to import, and
``float-demo --help`` should not wait for them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from float_demo.offline import OFFLINE_ENV, apply_offline_environment

if TYPE_CHECKING:
    from float_demo.request import (
        EMOTION_CHOICES,
        DemoForm,
        DemoInputError,
        DemoResult,
        VideoGenerator,
        parse_form,
        run_request,
    )
    from float_demo.ui import build_app

_LAZY = {
    "EMOTION_CHOICES": "float_demo.request",
    "DemoForm": "float_demo.request",
    "DemoInputError": "float_demo.request",
    "DemoResult": "float_demo.request",
    "VideoGenerator": "float_demo.request",
    "parse_form": "float_demo.request",
    "run_request": "float_demo.request",
    "build_app": "float_demo.ui",
}

__all__ = [
    "EMOTION_CHOICES",
    "OFFLINE_ENV",
    "DemoForm",
    "DemoInputError",
    "DemoResult",
    "VideoGenerator",
    "apply_offline_environment",
    "build_app",
    "parse_form",
    "run_request",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'float_demo' has no attribute {name!r}")
    if module == "float_demo.ui":
        # Gradio reads its analytics switch from the environment: set the offline switches before it loads.
        apply_offline_environment()
    return getattr(importlib.import_module(module), name)
