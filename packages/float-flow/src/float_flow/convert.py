"""Strict conversion of the official checkpoint's ``fmt.*`` tensors into a FlowMatchingTransformer.

The official float.pth is CC BY-NC-ND: we never ship it. This maps a user's own copy onto our module, whose
parameter names mirror the official ones, so the mapping is "strip ``fmt.``": every one of the 93 tensors
must be present with the expected shape and every parameter of ours must be filled. Tensors under other
prefixes (motion auto-encoder, audio projection) are ignored. The band mask is rebuilt from the config; a
file that also stores it (``fmt.alignment_mask``, a registered buffer the official loader never reads) must
hold the same band.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor

from float_flow.config import TransformerConfig
from float_flow.transformer import FlowMatchingTransformer, band_mask, skip_init

PREFIX = "fmt."
OFFICIAL_LICENSE_NOTICE = (
    "the official FLOAT weights are licensed CC BY-NC-ND 4.0 (non-commercial, no derivatives): the converted "
    "model inherits that licence; do not redistribute it or use it commercially"
)


class OfficialLicenseWarning(UserWarning):
    """Emitted (text ``OFFICIAL_LICENSE_NOTICE``) whenever official weights are converted."""


# Buffers of the official module that a checkpoint may carry; we rebuild them from the config.
_REBUILT = {"alignment_mask"}


def official_buffers(config: TransformerConfig) -> dict[str, Tensor]:
    """Name (without ``fmt.``) -> value of the buffers float.pth may also hold: the [N, N] bool band mask."""
    return {"alignment_mask": band_mask(config.num_tokens, config.attention_window)}


def check_buffers(config: TransformerConfig, stored: Mapping[str, Tensor]) -> None:
    """Stored buffers (no prefix) must equal the rebuilt ones (True = blocked, as officially).

    Raises:
        ValueError: a stored buffer differs in shape or value (the message names the key).
    """
    rebuilt = official_buffers(config)
    for key, value in stored.items():
        ours = rebuilt[key]
        if tuple(value.shape) != tuple(ours.shape):
            raise ValueError(
                f"{PREFIX}{key} has shape {tuple(value.shape)}, expected {tuple(ours.shape)} for {config}"
            )
        if not torch.equal(value.detach().to(torch.bool), ours):
            blocked = int(value.detach().to(torch.bool).sum())
            raise ValueError(
                f"{PREFIX}{key} is not the +-{config.attention_window}-frame band this model attends over "
                f"({blocked} blocked entries, expected {int(ours.sum())}): the attention pattern would differ"
            )


def _infer_config(fmt: Mapping[str, Tensor], num_heads: int, attention_window: int) -> dict[str, int | float]:
    """Recover the constructor arguments from tensor shapes (heads and band width are not visible)."""
    needed = [
        "x_embedder.proj.weight",
        "pos_embed",
        "t_embedder.mlp.0.weight",
        "c_embedder.weight",
        "blocks.0.mlp.fc1.weight",
    ]
    missing = [PREFIX + k for k in needed if k not in fmt]
    if missing:
        raise KeyError(f"not an official FLOAT checkpoint: missing {missing} (expected keys under 'fmt.')")
    dim_hidden, dim_motion = fmt["x_embedder.proj.weight"].shape
    num_tokens = fmt["pos_embed"].shape[1]
    depth = 1 + max(int(m.group(1)) for k in fmt if (m := re.match(r"blocks\.(\d+)\.", k)))
    mlp_hidden = fmt["blocks.0.mlp.fc1.weight"].shape[0]
    dim_condition = fmt["c_embedder.weight"].shape[1]
    dim_emotion = 7
    dim_audio = dim_condition - dim_motion - dim_emotion
    # The official model: L' = 10 context frames, the rest of the positions are the window.
    num_prev_frames = 10
    return {
        "dim_motion": int(dim_motion),
        "dim_hidden": int(dim_hidden),
        "depth": depth,
        "num_heads": num_heads,
        "mlp_ratio": mlp_hidden / dim_hidden,
        "num_frames": int(num_tokens) - num_prev_frames,
        "num_prev_frames": num_prev_frames,
        "attention_window": attention_window,
        "dim_audio": int(dim_audio),
        "dim_emotion": dim_emotion,
        "freq_dim": int(fmt["t_embedder.mlp.0.weight"].shape[1]),
    }


def official_shapes(config: TransformerConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every ``fmt.*`` tensor (without the prefix) for a pose-free configuration."""
    h, d, f = config.dim_hidden, config.dim_motion, config.freq_dim
    mlp = int(h * config.mlp_ratio)
    shapes: dict[str, tuple[int, ...]] = {
        "pos_embed": (1, config.num_tokens, h),
        "x_embedder.proj.weight": (h, d),
        "x_embedder.proj.bias": (h,),
        "t_embedder.mlp.0.weight": (h, f),
        "t_embedder.mlp.0.bias": (h,),
        "t_embedder.mlp.2.weight": (h, h),
        "t_embedder.mlp.2.bias": (h,),
        "c_embedder.weight": (h, config.dim_condition),
        "c_embedder.bias": (h,),
    }
    for i in range(config.depth):
        block = {
            "attn.qkv.weight": (3 * h, h),
            "attn.qkv.bias": (3 * h,),
            "attn.proj.weight": (h, h),
            "attn.proj.bias": (h,),
            "mlp.fc1.weight": (mlp, h),
            "mlp.fc1.bias": (mlp,),
            "mlp.fc2.weight": (h, mlp),
            "mlp.fc2.bias": (h,),
            "adaLN_modulation.1.weight": (6 * h, h),
            "adaLN_modulation.1.bias": (6 * h,),
        }
        shapes.update({f"blocks.{i}.{k}": v for k, v in block.items()})
    shapes.update(
        {
            "decoder.adaLN_modulation.1.weight": (2 * h, h),
            "decoder.adaLN_modulation.1.bias": (2 * h,),
            "decoder.linear.weight": (d, h),
            "decoder.linear.bias": (d,),
        }
    )
    return shapes


def convert_official(
    state_dict: Mapping[str, Tensor], *, num_heads: int = 8, attention_window: int = 2
) -> FlowMatchingTransformer:
    """Build a :class:`FlowMatchingTransformer` from an official FLOAT state dict.

    Args:
        state_dict: the full official state dict (``fmt.*`` plus other prefixes, which are ignored); for a
            float.pth file use :func:`load_official`.
        num_heads, attention_window: official 8 and 2 (they leave no trace in tensor shapes).

    Raises:
        KeyError: an ``fmt.*`` tensor is missing, or an unknown one is present.
        ValueError: a tensor has the wrong shape, or a stored ``fmt.alignment_mask`` is not the band.

    Warns:
        OfficialLicenseWarning: the weights are CC BY-NC-ND 4.0 (silence it once you have told the user).
    """
    if isinstance(state_dict, str | Path):
        raise TypeError(f"convert_official takes a state dict; for the file {state_dict} use load_official")
    fmt = {k[len(PREFIX) :]: v for k, v in state_dict.items() if k.startswith(PREFIX)}
    if not fmt:
        raise KeyError("no 'fmt.*' tensors found: is this the official float.pth state dict?")
    stored = {name: fmt.pop(name) for name in _REBUILT if name in fmt}

    config = TransformerConfig(**_infer_config(fmt, num_heads, attention_window))
    expected = official_shapes(config)
    missing = sorted(set(expected) - set(fmt))
    unexpected = sorted(set(fmt) - set(expected))
    if missing or unexpected:
        raise KeyError(
            "official fmt tensors do not map one-to-one: "
            f"missing {[PREFIX + k for k in missing]}, unexpected {[PREFIX + k for k in unexpected]}"
        )
    for key, shape in expected.items():
        if tuple(fmt[key].shape) != shape:
            raise ValueError(
                f"{PREFIX}{key} has shape {tuple(fmt[key].shape)}, expected {shape} for the config {config}"
            )
    check_buffers(config, stored)
    # Validated first, built second: the random init is skipped because every tensor is replaced.
    with skip_init():
        model = FlowMatchingTransformer(**config.model_dump())
    tensors = {k: v.to(torch.float32).contiguous() for k, v in fmt.items()}
    model.load_state_dict(tensors, strict=True, assign=True)
    model.pos_embed.requires_grad_(False)
    # Rebuilt from the band width (a stored one, if any, was checked equal above).
    model.alignment_mask = band_mask(model.config.num_tokens, model.config.attention_window)
    warnings.warn(OFFICIAL_LICENSE_NOTICE, OfficialLicenseWarning, stacklevel=2)
    return model


def load_official(
    path: str | Path, *, num_heads: int = 8, attention_window: int = 2
) -> FlowMatchingTransformer:
    """Read a float.pth file (weights only, on CPU) and :func:`convert_official` it.

    Raises:
        FileNotFoundError: no file at ``path``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"official checkpoint {path} not found: pass the path of your float.pth")
    state_dict = torch.load(path, map_location="cpu", weights_only=True)
    return convert_official(state_dict, num_heads=num_heads, attention_window=attention_window)
