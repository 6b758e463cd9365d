"""Loading Hugging Face classifiers for emotion: clear errors for missing models and missing heads.

Models come from a local folder or the local Hugging Face cache only: nothing is downloaded at generation
time unless the caller passes ``local_files_only=False`` or the user sets ``FLOAT_ALLOW_DOWNLOADS=1``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
_INDEX_FILES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")

DOWNLOAD_ENV = "FLOAT_ALLOW_DOWNLOADS"
"""Set to 1 (true, yes) to let FLOAT-kit download models that are neither a folder nor in the HF cache."""
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


def _flag(value: str, name: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise ValueError(f"{name}={value!r}: use true or false (1 or 0)")


def resolve_local_files_only(local_files_only: bool | str | None = None) -> bool:
    """Whether model files must come from disk (a folder or the local Hugging Face cache).

    ``local_files_only`` when given (a bool, or ``"true"``/``"false"`` from a ``--emotion`` option string);
    otherwise True unless the environment variable ``FLOAT_ALLOW_DOWNLOADS`` is 1/true/yes.
    """
    if isinstance(local_files_only, bool):
        return local_files_only
    if isinstance(local_files_only, str):
        return _flag(local_files_only, "local_files_only")
    return not _flag(os.environ.get(DOWNLOAD_ENV, ""), DOWNLOAD_ENV)


def _download_hint(local_files_only: bool) -> str:
    if local_files_only:
        return (
            f"downloads are off (the default; set {DOWNLOAD_ENV}=1 or pass local_files_only=false to allow "
            "them, or fetch the model once with `hf download <id>`)"
        )
    return f"downloads were allowed ({DOWNLOAD_ENV}=1 or local_files_only=false), and this one failed"


class MissingHeadError(ValueError):
    """A checkpoint that lacks the trained classification head the predictor needs."""


def describe_source(model: str | Path) -> str:
    """Human description of where a model reference points, for error messages."""
    path = Path(model)
    if path.is_dir():
        return f"local folder {str(path)!r}"
    text = str(model)
    if path.is_absolute() or text.startswith(".") or text.count("/") > 1 or "\\" in text:
        return f"folder {text!r} (which does not exist)"
    return f"{text!r} (not a local folder; read as a Hugging Face hub id from the local cache)"


def load_config(model: str | Path, revision: str | None = None, *, local_files_only: bool = True) -> Any:
    """``transformers.AutoConfig`` of a local folder or hub id, with an error that says how to fix a miss."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(str(model), revision=revision, local_files_only=local_files_only)
    except (OSError, ValueError) as error:
        raise FileNotFoundError(
            f"cannot read config.json of {describe_source(model)}: {str(error).strip().rstrip('.')}. "
            "Pass a folder made with save_pretrained (config.json + model.safetensors), or a hub id already "
            f"in the Hugging Face cache; {_download_hint(local_files_only)}"
        ) from error


def load_classifier(
    auto_class: Any,
    model: str | Path,
    *,
    task: str,
    revision: str | None = None,
    local_files_only: bool = True,
) -> tuple[Any, set[str], set[str]]:
    """Load ``model`` through a transformers auto class; return ``(model, missing_keys, unexpected_keys)``.

    The model is a ``transformers.PreTrainedModel`` (typed ``Any``: its config attributes are dynamic).
    With ``local_files_only`` (the default) nothing is downloaded.

    Raises:
        FileNotFoundError: the model is neither a folder nor in the local cache (says how to get it).
        MissingHeadError: when the config's model type has no class for ``task`` in ``auto_class``.
    """
    config = load_config(model, revision, local_files_only=local_files_only)
    try:
        loaded, info = auto_class.from_pretrained(
            str(model),
            config=config,
            revision=revision,
            output_loading_info=True,
            local_files_only=local_files_only,
        )
    except OSError as error:  # config.json present, weights missing
        raise FileNotFoundError(
            f"cannot read the weights of {describe_source(model)}: {str(error).strip().rstrip('.')}; "
            f"{_download_hint(local_files_only)}"
        ) from error
    except ValueError as error:
        if "Unrecognized configuration class" not in str(error):
            raise
        raise MissingHeadError(
            f"{describe_source(model)} is a {config.model_type!r} model (architectures "
            f"{getattr(config, 'architectures', None)}), which has no {task} head in transformers; "
            f"give a model fine-tuned for {task} (loadable with {auto_class.__name__})"
        ) from error
    return loaded.eval(), set(info.get("missing_keys", ())), set(info.get("unexpected_keys", ()))


def head_keys(missing: Iterable[str], base_model_prefix: str) -> list[str]:
    """Missing weight names that belong to the head, i.e. outside the backbone (``<prefix>.*``)."""
    return sorted(k for k in missing if not k.startswith(f"{base_model_prefix}."))


def _locate(model: str | Path, filename: str, revision: str | None) -> Path | None:
    path = Path(model)
    if path.is_dir():
        candidate = path / filename
        return candidate if candidate.is_file() else None
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(str(model), filename, revision=revision)
    return Path(found) if isinstance(found, str) else None


def _reader(path: Path) -> Callable[[str], Tensor]:
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        def read(name: str) -> Tensor:
            with safe_open(str(path), framework="pt") as handle:
                return handle.get_tensor(name)

        return read
    try:
        # mmap keeps a 1.3 GB .bin off the heap; only the few head tensors are read
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError:  # legacy (pre-zip) .bin files cannot be memory-mapped
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # pickle, zip and runtime errors: not an mmap problem but not weights
            raise ValueError(
                f"{path} is not a PyTorch weights file ({type(error).__name__}: {error}); replace it with "
                "the model's pytorch_model.bin or model.safetensors"
            ) from None
    return lambda name: state[name]


def read_checkpoint_tensors(
    model: str | Path, names: Iterable[str], revision: str | None = None
) -> dict[str, Tensor]:
    """Read named tensors from a checkpoint's weight files (single file or sharded, safetensors or .bin).

    Raises:
        FileNotFoundError: naming the model and the files looked for.
    """
    names = list(names)
    for filename in _WEIGHT_FILES:
        path = _locate(model, filename, revision)
        if path is not None:
            read = _reader(path)
            return {name: read(name) for name in names}
    for filename in _INDEX_FILES:
        index = _locate(model, filename, revision)
        if index is None:
            continue
        weight_map: dict[str, str] = json.loads(index.read_text())["weight_map"]
        out: dict[str, Tensor] = {}
        for name in names:
            shard = _locate(model, weight_map[name], revision)
            if shard is None:
                raise FileNotFoundError(f"shard {weight_map[name]!r} of {describe_source(model)} is missing")
            out[name] = _reader(shard)(name)
        return out
    raise FileNotFoundError(
        f"no weights file ({', '.join(_WEIGHT_FILES + _INDEX_FILES)}) found for {describe_source(model)}"
    )
