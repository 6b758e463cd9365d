"""Load the motion auto-encoder of a user's official ``float.pth`` into ``MotionAutoEncoder``.

float.pth may or may not also hold the 35 registered blur/upsample kernels (the official loader copies only
parameters): both are accepted, and a stored kernel must equal the constant we rebuild.

The official weights are licensed CC BY-NC(-ND) 4.0 (non-commercial; the README's ND reading forbids
distributing modified versions). We never ship them; this converter only maps a copy the user already has.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from float_motion_ae.config import MotionAEConfig
from float_motion_ae.model import MotionAutoEncoder

OFFICIAL_PREFIX = "motion_autoencoder."
OFFICIAL_NUM_TENSORS = 177
OFFICIAL_NUM_PARAMS = 45_239_560

OFFICIAL_LICENSE_NOTICE = (
    "The official FLOAT weights (float.pth) are licensed CC BY-NC(-ND) 4.0 by DeepBrain AI: research and "
    "non-commercial use only; the ND terms forbid distributing modified versions. The converted model "
    "inherits that licence, not FLOAT-kit's Apache-2.0."
)


class OfficialLicenseWarning(UserWarning):
    """Emitted (once per call, text ``OFFICIAL_LICENSE_NOTICE``) whenever official weights are converted."""


def official_shapes(**config: int) -> dict[str, tuple[int, ...]]:
    """Name (no ``motion_autoencoder.`` prefix) -> shape of every parameter float.pth must hold (177)."""
    return {k: tuple(v.shape) for k, v in _blueprint(**config).state_dict().items()}


def official_buffers(**config: int) -> dict[str, torch.Tensor]:
    """Name -> value of the registered buffers float.pth may also hold (35 blur/upsample kernels [4, 4])."""
    return {k: v.clone() for k, v in _blueprint(**config).named_buffers()}


def _blueprint(**config: int) -> MotionAutoEncoder:
    # A CPU build is fast (random init of 45 M values ~0.3 s) and gives real buffer values (meta would not).
    return MotionAutoEncoder(MotionAEConfig.build(None, **config))


def check_buffers(model: MotionAutoEncoder, stored: Mapping[str, Any], prefix: str = OFFICIAL_PREFIX) -> None:
    """Check stored buffers (``model``'s names, no prefix) against the ones ``model`` rebuilt.

    Raises:
        ValueError: a stored buffer differs in shape or value (the message names the key).
    """
    for key, value in stored.items():
        ours = model.get_buffer(key)
        if not isinstance(value, torch.Tensor) or tuple(value.shape) != tuple(ours.shape):
            shape = list(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ValueError(f"{prefix}{key} is {shape}, expected the constant kernel {list(ours.shape)}")
        if not torch.allclose(value.detach().to(torch.float32), ours.float(), rtol=0.0, atol=1e-6):
            raise ValueError(
                f"{prefix}{key} differs from the kernel this model rebuilds (max abs difference "
                f"{(value.detach().float() - ours.float()).abs().max().item():.3g}): not an official "
                "FLOAT checkpoint, or a modified one"
            )


def _unwrap(state_dict: Mapping[str, Any]) -> Mapping[str, Any]:
    # Some tools save {"state_dict": {...}} or {"model": {...}}; accept them when no key has our prefix.
    if not any(isinstance(k, str) and k.startswith(OFFICIAL_PREFIX) for k in state_dict):
        for wrapper in ("state_dict", "model"):
            inner = state_dict.get(wrapper)
            if isinstance(inner, Mapping):
                return inner
    return state_dict


def _format_keys(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def convert_official(
    state_dict: Mapping[str, Any], *, prefix: str = OFFICIAL_PREFIX, **config: int
) -> MotionAutoEncoder:
    """Map the ``motion_autoencoder.*`` tensors of an official float.pth state dict onto our model.

    Args:
        state_dict: the dict stored in float.pth (keys under other prefixes, e.g. ``fmt.`` or
            ``audio_encoder.``, are ignored).
        prefix: the key prefix of the auto-encoder (``"motion_autoencoder."``).
        **config: ``MotionAEConfig`` fields when the checkpoint is not the default 512x512 model.

    Returns:
        A ``MotionAutoEncoder`` in eval mode holding exactly those tensors (blur kernels are rebuilt; stored
        ones, if the file has them, must equal the rebuilt constants).

    Warns:
        OfficialLicenseWarning: the weights are CC BY-NC(-ND) 4.0 (silence it once you have told the user).

    Raises:
        KeyError: a tensor is missing or unexpected under ``prefix`` (the message names the keys).
        ValueError: a tensor has the wrong shape (the message names the key and both shapes), or a stored
            buffer differs from the constant we rebuild.
    """
    warnings.warn(OFFICIAL_LICENSE_NOTICE, OfficialLicenseWarning, stacklevel=2)
    source = _unwrap(state_dict)
    ours = {k[len(prefix) :]: v for k, v in source.items() if isinstance(k, str) and k.startswith(prefix)}
    if not ours:
        raise KeyError(
            f"no tensor starts with {prefix!r}: is this the official float.pth? (first keys: "
            f"{_format_keys([str(k) for k in list(source)[:8]])})"
        )
    model = MotionAutoEncoder(MotionAEConfig.build(None, **config))
    expected = model.state_dict()
    buffers = {name for name, _ in model.named_buffers()}
    stored_buffers = {k: v for k, v in ours.items() if k in buffers}
    missing = sorted(set(expected) - set(ours))
    unexpected = sorted(set(ours) - set(expected) - buffers)
    if missing:
        raise KeyError(f"missing from the checkpoint: {_format_keys([prefix + k for k in missing])}")
    if unexpected:
        raise KeyError(
            f"unexpected tensors in the checkpoint (not part of MotionAutoEncoder{config or ''}): "
            f"{_format_keys([prefix + k for k in unexpected])}"
        )
    for key, target in expected.items():
        value = ours[key]
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"{prefix}{key} is a {type(value).__name__}, not a tensor")
        if tuple(value.shape) != tuple(target.shape):
            raise ValueError(
                f"{prefix}{key} has shape {list(value.shape)}, expected {list(target.shape)} for "
                f"MotionAutoEncoder({model.config.model_dump()})"
            )
    check_buffers(model, stored_buffers, prefix)
    model.load_state_dict({k: ours[k].to(torch.float32) for k in expected}, strict=True)
    return model.eval()


def load_official(path: str | Path, **config: int) -> MotionAutoEncoder:
    """Read a float.pth file (weights only, on CPU) and ``convert_official`` it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"official checkpoint not found: {path}. Download float.pth yourself from the FLOAT release "
            "(github.com/deepbrainai-research/float; mirror huggingface.co/yuvraj108c/float) and pass "
            "its path."
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping):
        raise ValueError(f"{path} does not hold a state dict (got {type(state).__name__})")
    return convert_official(state, prefix=OFFICIAL_PREFIX, **config)
