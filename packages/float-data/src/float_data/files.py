"""Small file helpers shared by ``prepare`` and ``merge``: atomic text writes and tolerant JSON reads."""

from __future__ import annotations

import json
import os
from pathlib import Path


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through ``<name>.tmp`` and a rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def load_json(path: Path) -> dict | None:
    """The JSON object in ``path``, or None when it is missing or unreadable (a state of a killed run)."""
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
