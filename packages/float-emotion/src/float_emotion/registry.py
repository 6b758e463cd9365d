"""Pick an emotion predictor by name (config file, CLI flag); third parties plug in via entry points.

A third-party package registers a predictor by declaring, in its ``pyproject.toml``::

    [project.entry-points."float_emotion.predictors"]
    my-ser = "my_package.module:MyPredictor"

The object the entry point names is a factory: called with the keyword options of :func:`create_predictor`,
it returns an :class:`float_emotion.EmotionPredictor` (a class or a function both work).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from float_emotion.fixed import EmotionMix, FixedEmotion
from float_emotion.image import ImageEmotionRecognizer
from float_emotion.intensity import WithIntensity
from float_emotion.labels import EMOTIONS, LABEL_ALIASES
from float_emotion.protocol import EmotionPredictor
from float_emotion.speech import SpeechEmotionRecognizer

ENTRY_POINT_GROUP = "float_emotion.predictors"

PredictorFactory = Callable[..., EmotionPredictor]

_BUILTINS: dict[str, PredictorFactory] = {
    "speech": SpeechEmotionRecognizer,
    "image": ImageEmotionRecognizer,
    "fixed": FixedEmotion,
    "mix": EmotionMix,
}
_registered: dict[str, PredictorFactory] = {}


def register_predictor(name: str, factory: PredictorFactory, *, overwrite: bool = False) -> None:
    """Register ``factory`` under ``name`` in this process (takes precedence over entry points).

    Raises:
        ValueError: if ``name`` is taken (a built-in or an earlier registration) and ``overwrite`` is False.
    """
    if not name or not name.strip():
        raise ValueError("predictor name must be a non-empty string")
    if not overwrite and (name in _BUILTINS or name in _registered):
        raise ValueError(
            f"emotion predictor {name!r} is already registered; pass overwrite=True to replace it"
        )
    _registered[name] = factory


def unregister_predictor(name: str) -> None:
    """Remove a predictor added with :func:`register_predictor` (built-ins and entry points stay)."""
    _registered.pop(name, None)


def _entry_point_factories() -> dict[str, Any]:
    # Read on every call (cheap) so that packages installed or put on sys.path after import are found.
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_predictors() -> list[str]:
    """Sorted names of every predictor: built-in, registered in-process, and from installed entry points."""
    return sorted(set(_BUILTINS) | set(_registered) | set(_entry_point_factories()))


def get_predictor_factory(name: str) -> PredictorFactory:
    """Factory for ``name``: in-process registrations first, then built-ins, then entry points.

    Raises:
        KeyError: listing the available names.
    """
    if name in _registered:
        return _registered[name]
    if name in _BUILTINS:
        return _BUILTINS[name]
    found = _entry_point_factories().get(name)
    if found is None:
        raise KeyError(
            f"unknown emotion predictor {name!r}: available are {', '.join(available_predictors())} "
            f"(third-party predictors register under the entry-point group {ENTRY_POINT_GROUP!r})"
        )
    try:
        return found.load()
    except Exception as error:
        raise ImportError(
            f"entry point {found.name!r} = {found.value!r} of {ENTRY_POINT_GROUP!r} failed to load: {error}"
        ) from error


def create_predictor(name: str, **options: Any) -> EmotionPredictor:
    """Build the predictor registered as ``name`` with keyword ``options``.

    Examples: ``create_predictor("fixed", emotion="happy")``, ``create_predictor("mix", weights={...})``,
    ``create_predictor("speech", model="path/to/ser")``.

    Raises:
        KeyError: unknown name (lists the available ones). TypeError: the result is not an EmotionPredictor.
    """
    predictor = get_predictor_factory(name)(**options)
    if not isinstance(predictor, EmotionPredictor):
        raise TypeError(
            f"emotion predictor {name!r} built a {type(predictor).__name__}, which does not implement "
            "EmotionPredictor (needs a `modality` attribute and a `predict(inputs)` method)"
        )
    return predictor


class PredictorSpec(BaseModel):
    """A predictor choice in a config file: ``{"name": "speech", "options": {...}, "intensity": 1}``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str = Field(min_length=1, description="registered predictor name, see available_predictors()")
    options: dict[str, Any] = Field(default_factory=dict, description="keyword arguments for its factory")
    intensity: float = Field(
        default=1.0, ge=0.0, description="apply_intensity factor; 1 leaves outputs as is"
    )

    def build(self) -> EmotionPredictor:
        """Create the predictor, wrapped in :class:`WithIntensity` when ``intensity != 1``."""
        predictor = create_predictor(self.name, **self.options)
        if self.intensity != 1.0:
            return WithIntensity(predictor, self.intensity)
        return predictor


def parse_emotion_option(value: str) -> PredictorSpec:
    """Parse a CLI ``--emotion`` value into a :class:`PredictorSpec`.

    Forms (an optional ``@<intensity>`` suffix applies :func:`float_emotion.apply_intensity`):

    - ``happy`` (any name or alias): redirect, ``fixed`` with that emotion;
    - ``happy=3,surprise=1``: ``mix`` with those weights;
    - ``speech:model=checkpoints/ser,device=cuda``: a registered predictor with string options;
    - ``speech`` (any other word): a registered predictor without options.

    Raises:
        ValueError: for malformed text, naming the form expected.
    """
    text = value.strip()
    intensity = 1.0
    if "@" in text:
        text, _, raw = text.rpartition("@")
        try:
            intensity = float(raw)
        except ValueError as error:
            raise ValueError(
                f"--emotion {value!r}: the part after '@' must be an intensity number"
            ) from error
    if not text:
        raise ValueError(
            f"--emotion {value!r} is empty: give an emotion ({', '.join(EMOTIONS)}) or a predictor"
        )
    if ":" in text:
        name, _, raw_options = text.partition(":")
        return PredictorSpec(name=name, options=_key_values(raw_options, value), intensity=intensity)
    if "=" in text:
        weights = {k: _to_float(v, value) for k, v in _key_values(text, value).items()}
        return PredictorSpec(name="mix", options={"weights": weights}, intensity=intensity)
    if text.lower() in LABEL_ALIASES:
        return PredictorSpec(name="fixed", options={"emotion": text}, intensity=intensity)
    return PredictorSpec(name=text, intensity=intensity)


def _key_values(text: str, value: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--emotion {value!r}: expected key=value pairs separated by ',', got {item!r}")
        pairs[key.strip()] = raw.strip()
    return pairs


def _to_float(raw: str, value: str) -> float:
    try:
        weight = float(raw)
    except ValueError as error:
        raise ValueError(f"--emotion {value!r}: mix weight {raw!r} is not a number") from error
    if not math.isfinite(weight):
        raise ValueError(f"--emotion {value!r}: mix weight {raw!r} must be a finite number")
    return weight
