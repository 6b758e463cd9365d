"""Atomic, complete-or-absent checkpoints under ``RUN_DIR/checkpoints``.

A checkpoint is written into ``checkpoints/.tmp-step-XXXXXXX`` (every process adds its RNG file, the main
process the rest), gets a ``complete.json`` marker as its last file, and only then is renamed to
``step-XXXXXXX``; the ``latest`` pointer is replaced atomically afterwards. A process killed at any point
leaves either a ``.tmp-*`` folder or a folder without the marker, and :func:`latest_checkpoint` never
returns those. Older complete checkpoints beyond ``keep_last`` are deleted after each save.

Nothing a resume reads can carry code: RNG states are tensors in ``rng/rank-R.safetensors`` (plus plain
numbers in its metadata), scheduler states are JSON, models and the EMA are safetensors, and optimizer
states are read with ``torch.load(weights_only=True)``. A run dir may be shared; a crafted pickle in it must
not run when the run is resumed.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from float_pipeline import write_text_atomic

__all__ = [
    "CHECKPOINTS",
    "MARKER",
    "CheckpointFormatError",
    "capture_rng",
    "checkpoint_name",
    "complete_checkpoints",
    "finalize_checkpoint",
    "latest_checkpoint",
    "load_rng_file",
    "load_scheduler_file",
    "restore_rng",
    "save_rng_file",
    "save_scheduler_file",
    "staging_dir",
    "write_json_atomic",
    "write_text_atomic",
]

CHECKPOINTS = "checkpoints"
MARKER = "complete.json"
RNG_FORMAT = "float-train-rng/1"
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


class CheckpointFormatError(ValueError):
    """A checkpoint file is missing, damaged, or in a format a resume no longer reads (pickles)."""


def save_rng_file(path: Path, generators: dict[str, torch.Generator] | None = None) -> None:
    """Write :func:`capture_rng` to ``path`` as safetensors: the state tensors (torch, CUDA, named
    generators, the Mersenne Twister words of python and numpy) plus plain numbers as JSON metadata."""
    state = capture_rng(generators)
    version, words, gauss_next = state["python"]
    kind, keys, position, has_gauss, cached_gaussian = state["numpy"]
    tensors = {
        "torch": state["torch"],
        "python.words": torch.tensor(words, dtype=torch.int64),
        "numpy.keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
        **{f"generator.{name}": value for name, value in state["generators"].items()},
        **{f"cuda.{index}": value for index, value in enumerate(state.get("cuda", []))},
    }
    numbers = {
        "python": {"version": version, "gauss_next": gauss_next},
        "numpy": {"kind": kind, "pos": int(position), "has_gauss": int(has_gauss), "cached": cached_gaussian},
        "generators": sorted(state["generators"]),
        "cuda_devices": len(state.get("cuda", [])),
    }
    save_file(
        {k: v.contiguous() for k, v in tensors.items()},
        str(path),
        metadata={"format": RNG_FORMAT, "numbers": json.dumps(numbers)},
    )


def load_rng_file(path: Path) -> dict[str, Any]:
    """Read a :func:`save_rng_file` file back into :func:`capture_rng`'s form (for :func:`restore_rng`).

    Raises:
        CheckpointFormatError: missing, damaged, or not an RNG file.
    """
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
    except (OSError, SafetensorError) as error:
        raise CheckpointFormatError(f"{path} is missing or damaged ({error})") from None
    if metadata.get("format") != RNG_FORMAT:
        raise CheckpointFormatError(f"{path} is not a float-train RNG file ({RNG_FORMAT})")
    try:
        numbers = json.loads(metadata["numbers"])
        state: dict[str, Any] = {
            "python": (
                numbers["python"]["version"],
                tuple(int(w) for w in tensors["python.words"].tolist()),
                numbers["python"]["gauss_next"],
            ),
            "numpy": (
                numbers["numpy"]["kind"],
                tensors["numpy.keys"].numpy().astype(np.uint32),
                numbers["numpy"]["pos"],
                numbers["numpy"]["has_gauss"],
                numbers["numpy"]["cached"],
            ),
            "torch": tensors["torch"],
            "generators": {name: tensors[f"generator.{name}"] for name in numbers["generators"]},
        }
        if numbers["cuda_devices"]:
            state["cuda"] = [tensors[f"cuda.{index}"] for index in range(numbers["cuda_devices"])]
    except (KeyError, ValueError, TypeError) as error:
        raise CheckpointFormatError(f"{path} is damaged (missing or bad entry {error})") from None
    return state


def _plain(value: Any) -> bool:
    """Whether ``value`` is JSON data only (None, bool, int, float, str, lists, str-keyed dicts)."""
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def save_scheduler_file(path: Path, state: dict[str, Any]) -> None:
    """Write an LR scheduler's ``state_dict()`` as JSON (it holds only numbers and flags; floats round-trip
    exactly through Python's shortest repr)."""
    if not _plain(state):
        raise TypeError(f"scheduler state for {path.name} holds non-JSON values: {state!r}")
    path.write_text(json.dumps(state, indent=2, allow_nan=True) + "\n")


def load_scheduler_file(path: Path) -> dict[str, Any]:
    """Inverse of :func:`save_scheduler_file`.

    Raises:
        CheckpointFormatError: missing, damaged, or not a JSON object.
    """
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise CheckpointFormatError(f"{path} is missing or damaged ({error})") from None
    if not isinstance(state, dict):
        raise CheckpointFormatError(f"{path} does not hold a scheduler state (a JSON object)")
    for key in ("base_lrs", "_last_lr"):
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in state.get(key, [])):
            raise CheckpointFormatError(f"{path}: {key} must hold finite numbers")
    return state
