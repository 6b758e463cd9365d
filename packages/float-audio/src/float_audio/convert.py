"""Strict converter from the official FLOAT checkpoint's audio projection to :class:`AudioProjection`.

The official ``float.pth`` (CC BY-NC(-ND), never shipped here) stores the projection as 4 tensors:
``audio_encoder.audio_projection.0.weight`` [512, 9216], ``.0.bias`` [512] (the Linear) and ``.1.weight``
[512], ``.1.bias`` [512] (the LayerNorm). A user may convert their own copy; the result keeps its licence.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

import torch

from float_audio.projection import AudioProjection

__all__ = [
    "OFFICIAL_LICENSE_NOTICE",
    "OFFICIAL_PROJECTION_PREFIX",
    "OfficialLicenseWarning",
    "convert_official",
    "load_official",
    "official_shapes",
]

OFFICIAL_PROJECTION_PREFIX = "audio_encoder.audio_projection."

OFFICIAL_LICENSE_NOTICE = (
    "the official FLOAT audio projection is licensed CC BY-NC(-ND) 4.0: research use only, do not "
    "redistribute the converted weights"
)

# official sub-key -> our parameter name
_KEY_MAP = {
    "0.weight": "linear.weight",
    "0.bias": "linear.bias",
    "1.weight": "norm.weight",
    "1.bias": "norm.bias",
}


class OfficialLicenseWarning(UserWarning):
    """Converted weights come from the official FLOAT release, licensed CC BY-NC(-ND): research use only.

    Emitted (text ``OFFICIAL_LICENSE_NOTICE``) whenever official weights are converted."""


def official_shapes(in_dim: int = 9216, out_dim: int = 512) -> dict[str, tuple[int, ...]]:
    """Name (without ``audio_encoder.audio_projection.``) -> shape of the 4 official projection tensors."""
    return {"0.weight": (out_dim, in_dim), "0.bias": (out_dim,), "1.weight": (out_dim,), "1.bias": (out_dim,)}


def _official_tensors(
    state_dict: Mapping[str, torch.Tensor], *, in_dim: int, out_dim: int
) -> dict[str, torch.Tensor]:
    """Map the 4 official ``audio_encoder.audio_projection.*`` tensors to :class:`AudioProjection` names.

    Other top-level prefixes of the checkpoint (``fmt.``, ``motion_autoencoder.``) are ignored; under the
    projection prefix every expected key must be present with its exact shape and no other key may appear.

    Raises:
        KeyError: missing or unexpected projection keys (all listed).
        ValueError: a tensor has the wrong shape (all listed with expected and found shapes).
    """
    expected = official_shapes(in_dim, out_dim)
    found = {
        key[len(OFFICIAL_PROJECTION_PREFIX) :]: value
        for key, value in state_dict.items()
        if key.startswith(OFFICIAL_PROJECTION_PREFIX)
    }
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    if missing or unexpected:
        raise KeyError(
            f"official audio projection: missing {[OFFICIAL_PROJECTION_PREFIX + k for k in missing]}, "
            f"unexpected {[OFFICIAL_PROJECTION_PREFIX + k for k in unexpected]}; pass the official float.pth "
            "state dict (name -> tensor)"
        )
    wrong = [
        f"{OFFICIAL_PROJECTION_PREFIX}{key}: expected {list(shape)}, found {list(found[key].shape)}"
        for key, shape in expected.items()
        if tuple(found[key].shape) != shape
    ]
    if wrong:
        raise ValueError("official audio projection has wrong shapes: " + "; ".join(wrong))
    return {_KEY_MAP[key]: found[key].detach().to(torch.float32).clone() for key in expected}


def convert_official(
    state_dict: Mapping[str, torch.Tensor], *, in_dim: int = 9216, out_dim: int = 512
) -> AudioProjection:
    """Build an :class:`AudioProjection` (eval mode) from the official ``float.pth`` state dict.

    Strict: the 4 ``audio_encoder.audio_projection.*`` tensors must all be present with their exact shapes
    and no other key may appear under that prefix; other prefixes (``fmt.``, ``motion_autoencoder.``) are
    ignored. For a float.pth file use :func:`load_official`.

    Raises:
        KeyError: missing or unexpected projection keys (all listed).
        ValueError: a tensor has the wrong shape (all listed with expected and found shapes).

    Warns:
        OfficialLicenseWarning: the weights are CC BY-NC(-ND), research use only.
    """
    if isinstance(state_dict, str | Path):
        raise TypeError(f"convert_official takes a state dict; for the file {state_dict} use load_official")
    converted = _official_tensors(state_dict, in_dim=in_dim, out_dim=out_dim)
    warnings.warn(OFFICIAL_LICENSE_NOTICE, OfficialLicenseWarning, stacklevel=2)
    projection = AudioProjection(in_dim=in_dim, out_dim=out_dim)
    projection.load_state_dict(converted, strict=True)
    return projection.eval()


def load_official(path: str | Path, *, in_dim: int = 9216, out_dim: int = 512) -> AudioProjection:
    """Read a float.pth file (weights only, on CPU) and :func:`convert_official` its audio projection.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file does not hold a name -> tensor dict.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"official checkpoint not found: {path}; pass the path of your own copy of float.pth"
        )
    state_dict = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state_dict, Mapping):
        raise ValueError(f"{path}: expected a name -> tensor dict, got {type(state_dict).__name__}")
    return convert_official(state_dict, in_dim=in_dim, out_dim=out_dim)
