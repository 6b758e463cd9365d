"""Atomic, complete-or-absent checkpoints under ``RUN_DIR/checkpoints``.

A checkpoint is written into ``checkpoints/.tmp-step-XXXXXXX`` (every process adds its RNG file, the main
process the rest), gets a ``complete.json`` marker as its last file, and only then is renamed to
``step-XXXXXXX``; the ``latest`` pointer is replaced atomically afterwards. A process killed at any point
leaves either a ``.tmp-*`` folder or a folder without the marker, and :func:`latest_checkpoint` never
returns those. Older complete checkpoints beyond ``keep_last`` are deleted after each save.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from float_pipeline import write_text_atomic

__all__ = [
    "CHECKPOINTS",
    "MARKER",
    "capture_rng",
    "checkpoint_name",
    "complete_checkpoints",
    "finalize_checkpoint",
    "latest_checkpoint",
    "restore_rng",
    "staging_dir",
    "write_json_atomic",
    "write_text_atomic",
]

CHECKPOINTS = "checkpoints"
MARKER = "complete.json"
_NAME = re.compile(r"^step-(\d{7,})$")


def checkpoint_name(step: int) -> str:
    """``step-0001234``."""
    return f"step-{step:07d}"


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def staging_dir(run_dir: Path, step: int) -> Path:
    """The temporary folder a checkpoint of ``step`` is assembled in (same for every process)."""
    return run_dir / CHECKPOINTS / f".tmp-{checkpoint_name(step)}"


def complete_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, folder) of every complete checkpoint, oldest first; half-written ones are ignored."""
    root = run_dir / CHECKPOINTS
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        match = _NAME.match(child.name)
        if match and child.is_dir() and (child / MARKER).is_file():
            found.append((int(match.group(1)), child))
    return sorted(found)


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint, or None."""
    found = complete_checkpoints(run_dir)
    return found[-1][1] if found else None


def finalize_checkpoint(run_dir: Path, step: int, keep_last: int, info: dict[str, Any]) -> Path:
    """Main process only: mark the staged checkpoint complete, rename it into place, update ``latest``,
    delete the oldest complete checkpoints beyond ``keep_last`` and stray temporary folders."""
    staged = staging_dir(run_dir, step)
    write_json_atomic(staged / MARKER, {"step": step, **info})
    final = run_dir / CHECKPOINTS / checkpoint_name(step)
    if final.exists():  # an older incomplete attempt at the same step
        shutil.rmtree(final)
    os.replace(staged, final)
    write_text_atomic(run_dir / CHECKPOINTS / "latest", final.name + "\n")
    complete = complete_checkpoints(run_dir)
    for _, old in complete[: max(0, len(complete) - keep_last)]:
        shutil.rmtree(old, ignore_errors=True)
    for child in (run_dir / CHECKPOINTS).iterdir():
        if child.name.startswith(".tmp-") and child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
    return final


def capture_rng(generators: dict[str, torch.Generator] | None = None) -> dict[str, Any]:
    """Every RNG state of this process: python, numpy, torch CPU, every CUDA device, named generators."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "generators": {name: g.get_state() for name, g in (generators or {}).items()},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any], generators: dict[str, torch.Generator] | None = None) -> None:
    """Inverse of :func:`capture_rng`."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    for name, generator in (generators or {}).items():
        generator.set_state(state["generators"][name])
