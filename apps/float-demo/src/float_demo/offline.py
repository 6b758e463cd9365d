"""Keep the demo on this machine: no analytics, no version check, no telemetry, no model downloads.

Gradio reads ``GRADIO_ANALYTICS_ENABLED`` when a ``Blocks`` is created (when on, it starts a thread that asks
api.gradio.app for the latest version and posts usage events); Hugging Face libraries read their offline and
telemetry switches at call time. The browser side needs nothing: the default theme's fonts are served by the
local server. ``--share`` is the only thing that reaches the internet, and only when asked for.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

OFFLINE_ENV: Mapping[str, str] = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "DO_NOT_TRACK": "1",
}


def apply_offline_environment(environ: os._Environ[str] | dict[str, str] | None = None) -> dict[str, str]:
    """Set every switch of :data:`OFFLINE_ENV` in ``environ`` (default: ``os.environ``); return what changed.

    Values the user already set are overwritten: the demo promises to stay offline whatever the shell says.
    """
    target = os.environ if environ is None else environ
    changed = {key: value for key, value in OFFLINE_ENV.items() if target.get(key) != value}
    target.update(changed)
    return changed
