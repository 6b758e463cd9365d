"""Load one bundle component (``config.json`` + ``model.safetensors``) without trusting either file.

A bundle is user input: a folder copied from elsewhere may be truncated, edited or mislabelled. The hub
mixin's ``from_pretrained`` builds whatever ``config.json`` asks for (``dim_hidden: 1e6`` tries to allocate
4 TB), loads the weights non-strictly (a missing tensor silently keeps its random value) and prints to stdout.
Here, each step fails with a :class:`BundleError` that names the file and the fix:

1. ``config.json`` must be a JSON object of constructor arguments (an unknown key is a typo, not ignored);
2. the safetensors header is read (no tensor data) to count the numbers the weights hold;
3. the model is built under an allocation budget derived from that count, so a config that asks for far more
   than the file holds is refused before the memory is requested;
4. the weights are loaded strictly: every tensor present, none extra, every shape equal.
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_model
from torch.overrides import TorchFunctionMode

from float_pipeline.errors import BundleError

__all__ = ["load_component"]

ModelT = TypeVar("ModelT", bound=torch.nn.Module)

# Building a model allocates its parameters once plus buffers and a few temporaries (a sinusoidal table in
# float64, blur kernels): measured at <= 1.3x the file's numbers for every FLOAT model; 4x leaves room.
BUDGET_FACTOR = 4
BUDGET_SLACK = 1 << 24  # numbers (64 MB of float32): small models' buffers may exceed 4x their weights

_FIX = "re-export it (`float-train export`, `float-convert-official`) or copy the bundle folder again"


class _TooLargeError(Exception):
    def __init__(self, requested: int) -> None:
        self.requested = requested


def _numel(size: Any) -> int | None:
    """Element count of a size argument (int, or a sequence of ints), None when it is not one."""
    if isinstance(size, int) and not isinstance(size, bool):
        return size
    sequence = isinstance(size, Sequence) and not isinstance(size, str | bytes) and len(size) > 0
    if sequence and all(isinstance(s, int) and not isinstance(s, bool) for s in size):
        return math.prod(size)
    return None


def _requested(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """Numbers a tensor constructor call is about to allocate (0 when it cannot tell)."""
    if func in (torch.arange, torch.range):
        bounds = [float(a) for a in args[:3] if isinstance(a, int | float)]
        if len(bounds) == 1:
            bounds = [0.0, bounds[0]]
        step = bounds[2] if len(bounds) == 3 else float(kwargs.get("step", 1))
        return max(0, math.ceil((bounds[1] - bounds[0]) / step)) if len(bounds) >= 2 and step else 0
    if func is torch.eye:
        sides = [a for a in args[:2] if isinstance(a, int)]
        return sides[0] * (sides[1] if len(sides) > 1 else sides[0]) if sides else 0
    if func in (torch.linspace, torch.logspace):
        steps = args[2] if len(args) > 2 else kwargs.get("steps", 0)
        return int(steps) if isinstance(steps, int) else 0
    if func in (torch.tensor, torch.as_tensor, torch.asarray, torch.scalar_tensor):
        return 0  # copies of data that already exists
    if "size" in kwargs:
        return _numel(kwargs["size"]) or 0
    if func is torch.randint:  # randint(high, size) or randint(low, high, size)
        return next((n for a in args if not isinstance(a, int) and (n := _numel(a)) is not None), 0)
    if args and not isinstance(args[0], int) and (whole := _numel(args[0])) is not None:
        return whole  # torch.zeros((3, 4))
    leading = []
    for arg in args:  # torch.zeros(3, 4)
        if not isinstance(arg, int) or isinstance(arg, bool):
            break
        leading.append(arg)
    return _numel(leading) or 0


class _AllocationBudget(TorchFunctionMode):
    """Refuses tensor constructor calls once their running total would exceed ``budget`` numbers."""

    def __init__(self, budget: int) -> None:
        super().__init__()
        self.budget = budget
        self.total = 0
        from torch.utils._device import _device_constructors

        self.constructors = _device_constructors()

    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        if func in self.constructors:
            self.total += _requested(func, args, kwargs)
            if self.total > self.budget:
                raise _TooLargeError(self.total)
        return func(*args, **kwargs)


def _one_line(error: BaseException, limit: int = 600) -> str:
    lines = [line.strip() for line in str(error).splitlines()]
    text = " ".join(line for line in lines if line and not line.startswith("For further information"))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _read_config(folder: Path, cls: type[torch.nn.Module]) -> dict[str, Any]:
    file = folder / "config.json"
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BundleError(f"{file} is not readable JSON ({error}); {_FIX}") from None
    if not isinstance(config, dict):
        raise BundleError(f"{file} must hold a JSON object of {cls.__name__} settings; {_FIX}")
    parameters = inspect.signature(cls.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return config  # the class validates its own keyword settings (pydantic, extra="forbid")
    accepted = set(parameters) - {"self"}
    unknown = sorted(set(config) - accepted)
    if unknown:
        raise BundleError(
            f"{file}: unknown setting(s) {', '.join(map(repr, unknown))} ({cls.__name__} takes "
            f"{', '.join(sorted(accepted))}); {_FIX}"
        )
    return config


def _count_numbers(file: Path) -> int:
    """Numbers stored in a safetensors file, from its header only."""
    try:
        with safe_open(str(file), framework="pt") as handle:
            return sum(math.prod(handle.get_slice(name).get_shape()) for name in handle.keys())  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as error:
        raise BundleError(
            f"{file} is damaged (truncated or not a safetensors file: {error}); {_FIX}"
        ) from None


def load_component(cls: type[ModelT], folder: str | Path) -> ModelT:
    """Build ``cls`` from ``folder/config.json`` and load ``folder/model.safetensors`` strictly (CPU, float32
    as stored, train mode as constructed).

    Raises:
        BundleError: unreadable or mistyped config, damaged weights file, a config that asks for much more
            memory than the weights hold, or weights whose names or shapes differ from the config's model.
    """
    folder = Path(folder)
    config = _read_config(folder, cls)
    weights = folder / "model.safetensors"
    stored = _count_numbers(weights)
    budget = BUDGET_FACTOR * stored + BUDGET_SLACK
    try:
        with _AllocationBudget(budget):
            model = cls(**config)
    except _TooLargeError as error:
        raise BundleError(
            f"{folder / 'config.json'} describes a model of at least {error.requested:,} numbers but "
            f"{weights.name} holds {stored:,}: the config does not belong to these weights; {_FIX}"
        ) from None
    except (TypeError, ValueError, RuntimeError, MemoryError, OverflowError, ZeroDivisionError) as error:
        # pydantic's ValidationError is a ValueError: it names the field and the expected type.
        raise BundleError(
            f"{folder / 'config.json'} does not describe a valid {cls.__name__}: {_one_line(error)}; {_FIX}"
        ) from None
    try:
        load_model(model, str(weights), strict=True)
    except (RuntimeError, SafetensorError, OSError, ValueError) as error:
        raise BundleError(
            f"{weights} does not match {folder / 'config.json'} ({_one_line(error)}); {_FIX}"
        ) from None
    return model
