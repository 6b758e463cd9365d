"""Reading a user's official float.pth as it really comes, and deciding what in it can be converted.

The official loader walks the model's parameters and copies each one it finds by name: every other key in
the file is ignored, and keys containing ``wav2vec2`` may be missing. So a real float.pth may hold only the
274 parameters, or also the 36 registered buffers (35 blur kernels ``*.kernel`` [4, 4] and
``fmt.alignment_mask`` [60, 60]), wav2vec2 weights, or sit inside a wrapper dict. What we accept and refuse:

| found | outcome |
|---|---|
| the 274 parameters | required: exact official shapes, finite; other float dtypes cast to float32 |
| a known buffer | checked against the constant we rebuild (mismatch: error naming the key) |
| a key containing ``wav2vec2`` | ignored (noted): the bundle references backbone and emotion model |
| any other key | skipped with an :class:`OfficialCheckpointWarning` listing it (as officially) |
| a wrapper (``{"state_dict": {...}}``, ``model``, ``G``, ...) | unwrapped (noted) |
| ``module.`` on every key (DataParallel) | stripped (noted) |
| a legacy (non-zip) file | read without memory-mapping (noted) |
"""

from __future__ import annotations

import functools
import math
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from float_audio import OFFICIAL_PROJECTION_PREFIX
from float_audio import official_shapes as projection_shapes
from float_flow import TransformerConfig
from float_flow import official_buffers as flow_buffers
from float_flow import official_shapes as flow_shapes
from float_motion_ae import official_buffers as motion_ae_buffers
from float_motion_ae import official_shapes as motion_ae_shapes

__all__ = [
    "OFFICIAL_NUM_TENSORS",
    "PREFIXES",
    "ConversionError",
    "OfficialCheckpoint",
    "OfficialCheckpointWarning",
    "inspect_official",
    "official_buffer_names",
    "official_parameter_shapes",
    "read_official",
]

OFFICIAL_NUM_TENSORS = 274
MOTION_AE_PREFIX = "motion_autoencoder."
FMT_PREFIX = "fmt."
PREFIXES = {MOTION_AE_PREFIX: 177, OFFICIAL_PROJECTION_PREFIX: 4, FMT_PREFIX: 93}
_WRAPPER_DEPTH = 3


class ConversionError(RuntimeError):
    """float.pth cannot be converted (missing, not a state dict, or tensors that do not map one-to-one)."""


class OfficialCheckpointWarning(UserWarning):
    """float.pth holds keys no converter maps (the official loader would skip them silently too)."""


@dataclass
class OfficialCheckpoint:
    """What :func:`inspect_official` found in float.pth.

    Attributes:
        tensors: the 274 parameters (as stored; the converters cast them to float32) plus any stored known
            buffers, by official name.
        notes: one line per thing the user should know (unwrapped, cast, ignored keys, legacy format).
        ignored: ``*wav2vec2*`` keys (not converted).
        unknown: keys no converter maps (warned about, not converted).
    """

    tensors: dict[str, torch.Tensor]
    notes: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Parameters per official prefix (buffers not counted): 177 / 4 / 93 for a complete file."""
        buffers = official_buffer_names()
        return {p: sum(1 for k in self.tensors if k.startswith(p) and k not in buffers) for p in PREFIXES}


def official_parameter_shapes() -> dict[str, tuple[int, ...]]:
    """The 274 official parameter names -> shapes, as our default (official) configurations define them."""
    return dict(_parameter_shapes())


def official_buffer_names() -> set[str]:
    """The 36 registered buffers a float.pth saved from ``state_dict()`` would also hold."""
    return set(_buffer_names())


@functools.cache
def _parameter_shapes() -> dict[str, tuple[int, ...]]:
    shapes = {MOTION_AE_PREFIX + k: v for k, v in motion_ae_shapes().items()}
    shapes |= {OFFICIAL_PROJECTION_PREFIX + k: v for k, v in projection_shapes().items()}
    shapes |= {FMT_PREFIX + k: v for k, v in flow_shapes(TransformerConfig()).items()}
    return shapes


@functools.cache
def _buffer_names() -> frozenset[str]:
    return frozenset(_buffer_values())


@functools.cache
def _buffer_values() -> dict[str, torch.Tensor]:
    values = {MOTION_AE_PREFIX + k: v for k, v in motion_ae_buffers().items()}
    return values | {FMT_PREFIX + k: v for k, v in flow_buffers(TransformerConfig()).items()}


def _check_buffer(name: str, value: torch.Tensor) -> None:
    """A stored buffer must be the constant we rebuild (checked before any model is built)."""
    ours = _buffer_values()[name]
    if tuple(value.shape) != tuple(ours.shape):
        raise ConversionError(f"{name} is {list(value.shape)}, expected the constant {list(ours.shape)}")
    same = (
        torch.equal(value.to(torch.bool), ours)
        if ours.dtype == torch.bool
        else torch.allclose(value.float(), ours.float(), rtol=0.0, atol=1e-6)
    )
    if not same:
        kind = "band mask" if ours.dtype == torch.bool else "blur kernel"
        raise ConversionError(
            f"{name} differs from the {kind} FLOAT-kit rebuilds: a modified checkpoint (the official loader "
            "would silently ignore the stored value; we refuse to guess which one was meant)"
        )


def _shown(keys: list[str], limit: int = 8) -> str:
    return ", ".join(keys[:limit]) + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def _holds_official_keys(value: Any) -> bool:
    return isinstance(value, Mapping) and any(
        isinstance(k, str) and k.startswith(tuple(PREFIXES)) for k in value
    )


def _find_state(obj: Any, path: str, depth: int) -> list[tuple[str, Mapping[str, Any]]]:
    """Every mapping under ``obj`` (at most ``depth`` levels down) that holds official keys, with its path."""
    if _holds_official_keys(obj):
        return [(path, obj)]
    if depth == 0 or not isinstance(obj, Mapping):
        return []
    found = []
    for key, value in obj.items():
        if isinstance(value, Mapping):
            found += _find_state(value, f"{path}[{key!r}]", depth - 1)
    return found


def unwrap(obj: Any, name: str = "float.pth") -> tuple[Mapping[str, Any], list[str]]:
    """The name -> tensor mapping inside ``obj`` (the loaded file), and notes on how it was found.

    Accepts the plain state dict, one wrapper level or a few (``{"state_dict": ...}``, ``{"model": ...}``,
    ``{"G": ...}``, beside other entries such as ``epoch``), and a ``module.`` prefix on every key.

    Raises:
        ConversionError: no mapping holds official keys, or several do (ambiguous).
    """
    notes: list[str] = []
    if isinstance(obj, Mapping) and obj and all(isinstance(k, str) and k.startswith("module.") for k in obj):
        obj = {k.removeprefix("module."): v for k, v in obj.items()}
        notes.append("every key started with 'module.' (a DataParallel save): the prefix was stripped")
    found = _find_state(obj, "checkpoint", _WRAPPER_DEPTH)
    if not found:
        first = [str(k) for k in list(obj)[:8]] if isinstance(obj, Mapping) else []
        raise ConversionError(
            f"{name} holds no official FLOAT tensors (no key starts with {', '.join(PREFIXES)}; "
            f"got {type(obj).__name__} with keys {first}): is this the official float.pth?"
        )
    if len(found) > 1:
        raise ConversionError(
            f"{name} holds official FLOAT tensors in {len(found)} places ({', '.join(p for p, _ in found)}): "
            "save the one state dict you mean on its own and convert that file"
        )
    path, state = found[0]
    if path != "checkpoint":
        notes.append(f"the state dict was found inside a wrapper, at {path}, and unwrapped")
    return state, notes


def read_official(path: str | Path) -> tuple[Mapping[str, Any], list[str]]:
    """Load float.pth (weights only, on CPU) and unwrap its state dict; also returns notes for the user.

    A zip-format file (``torch.save`` since PyTorch 1.6) is memory-mapped, so the 827 MB are not read into
    RAM twice; a legacy (non-zip) file cannot be, and is read whole.

    Raises:
        ConversionError: the file is missing, unreadable, or holds no official tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise ConversionError(
            f"official checkpoint not found: {path}; download float.pth yourself from the FLOAT release "
            "(github.com/deepbrainai-research/float) and pass its path"
        )
    notes = []
    mmap = zipfile.is_zipfile(path)
    if not mmap:
        notes.append(f"{path.name} is in PyTorch's legacy (non-zip) format: read whole, not memory-mapped")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as error:  # torch raises pickle, zip and runtime errors here
        raise ConversionError(
            f"{path} is not a PyTorch checkpoint that torch.load can read ({error}); pass your copy of the "
            "official float.pth"
        ) from error
    state, unwrap_notes = unwrap(obj, path.name)
    return state, notes + unwrap_notes


def inspect_official(state: Mapping[str, Any], notes: list[str] | None = None) -> OfficialCheckpoint:
    """Sort float.pth's keys into what is converted, ignored and unknown, and check every parameter.

    Raises:
        ConversionError: missing parameters, wrong shapes, non-tensor or non-float values, NaN/Inf values,
            a stored buffer unlike the constant we rebuild (each message names the key).

    Warns:
        OfficialCheckpointWarning: keys no converter maps (listed); they are skipped.
    """
    notes = list(notes or [])
    shapes = official_parameter_shapes()
    buffers = official_buffer_names()
    tensors: dict[str, torch.Tensor] = {}
    ignored: list[str] = []
    unknown: list[str] = []
    for key, value in state.items():
        name = str(key)
        if name in shapes or name in buffers:
            if not isinstance(value, torch.Tensor):
                raise ConversionError(f"{name} is a {type(value).__name__}, not a tensor")
            tensors[name] = value
        elif "wav2vec2" in name:
            ignored.append(name)
        else:
            unknown.append(name)
    missing = sorted(set(shapes) - set(tensors))
    if missing:
        raise ConversionError(
            f"float.pth lacks {len(missing)} of the {len(shapes)} official parameters: {_shown(missing)}"
        )
    wrong = [
        f"{k} is {list(tensors[k].shape)}, official {list(shape)}"
        for k, shape in shapes.items()
        if tuple(tensors[k].shape) != shape
    ]
    if wrong:
        raise ConversionError(
            "float.pth tensors do not have the official shapes (the official loader would fail on them too): "
            + "; ".join(wrong)
        )
    not_float = sorted(k for k in shapes if not tensors[k].is_floating_point())
    if not_float:
        raise ConversionError(f"float.pth parameters that are not floating point: {_shown(not_float)}")
    non_finite = sorted(k for k in shapes if not bool(torch.isfinite(tensors[k]).all()))
    if non_finite:
        raise ConversionError(
            f"float.pth has NaN or infinite values in {len(non_finite)} tensor(s): {_shown(non_finite)}; "
            "the file is damaged (download it again)"
        )
    # The package converters cast to float32 as they copy (no second full-size copy here); say so.
    cast: dict[str, int] = {}
    for key in shapes:
        if tensors[key].dtype != torch.float32:
            dtype = str(tensors[key].dtype).removeprefix("torch.")
            cast[dtype] = cast.get(dtype, 0) + 1
    if cast:
        stored = ", ".join(f"{n} stored as {dtype}" for dtype, n in cast.items())
        notes.append(
            f"cast to float32: {stored} (the release is float32; the converted bundle keeps the file's "
            "precision, it does not restore it)"
        )
    stored_buffers = sorted(k for k in tensors if k in buffers)
    for key in stored_buffers:
        _check_buffer(key, tensors[key])
    if stored_buffers:
        notes.append(
            f"{len(stored_buffers)} registered buffer(s) stored too (blur kernels, band mask): each checked "
            "against the constant we rebuild"
        )
    if ignored:
        notes.append(
            f"{len(ignored)} wav2vec2 tensor(s) ignored ({_shown(ignored, 2)}): the bundle references the "
            "audio backbone and the emotion model by folder or Hugging Face id instead"
        )
    if unknown:
        message = (
            f"float.pth holds {len(unknown)} tensor(s) no converter maps, skipped as the official loader "
            f"skips them: {_shown(unknown)}"
        )
        warnings.warn(message, OfficialCheckpointWarning, stacklevel=2)
        notes.append(message)
    return OfficialCheckpoint(tensors=tensors, notes=notes, ignored=ignored, unknown=unknown)


def num_parameters(checkpoint: OfficialCheckpoint) -> int:
    """Parameter count of the converted tensors (206,657,800 for the release)."""
    buffers = official_buffer_names()
    return sum(math.prod(v.shape) for k, v in checkpoint.tensors.items() if k not in buffers)
