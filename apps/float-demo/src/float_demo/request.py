"""One demo request, without Gradio: validate the form, run the pipeline into a temp mp4, explain failures.

The UI (:mod:`float_demo.ui`) only wires widgets to :func:`run_request`; everything a user can get wrong is
turned into a :class:`DemoInputError` whose message says what to change, so the page shows a sentence, not a
stack trace.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from float_audio import AudioError, BackboneNotFoundError
from float_emotion import EMOTIONS
from float_pipeline import BundleError, GenerateError, GenerationResult

# The dropdown: neutral first (the usual choice), the other six classes, then the bundle's own predictor.
EMOTION_CHOICES: tuple[str, ...] = ("neutral", *(e for e in EMOTIONS if e != "neutral"), "auto")

# Errors caused by the user's files or settings (same family as float-generate's CLI exit code 2).
USER_ERRORS: tuple[type[BaseException], ...] = (
    GenerateError,
    BundleError,
    AudioError,
    BackboneNotFoundError,
    FileNotFoundError,
)


class DemoInputError(ValueError):
    """Bad input from the form; the message is shown to the user as is."""


class VideoGenerator(Protocol):
    """What the demo needs from a model: :class:`float_pipeline.Pipeline` satisfies it."""

    def generate(
        self, image: Any, audio: str | Path, out: str | Path, **options: Any
    ) -> GenerationResult:  # pragma: no cover - protocol
        ...


class DemoForm(BaseModel):
    """The form's settings, validated; every field is a :class:`float_pipeline.GenerateOptions` field."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    emotion: str = Field("neutral", description="one of EMOTION_CHOICES")
    emotion_intensity: float = Field(1.0, ge=0, le=10)
    audio_scale: float = Field(2.0, ge=0, le=20)
    emotion_scale: float = Field(1.0, ge=0, le=20)
    steps: int = Field(10, ge=1, le=200)
    seed: int = Field(0, ge=0, le=2**63 - 1)
    paste_back: bool = False
    crop: bool = True


@dataclass(frozen=True)
class DemoResult:
    """A finished request: the mp4 the page plays and one line describing it."""

    video: Path
    summary: str


def _field_errors(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        name = ".".join(str(p) for p in item["loc"]).replace("_", " ") or "form"
        parts.append(f"{name}: {item['msg']}")
    return "; ".join(parts)


def parse_form(values: dict[str, Any]) -> DemoForm:
    """Validate the widgets' values (numbers arrive as floats from Gradio; seeds and steps must be whole).

    Raises:
        DemoInputError: a value out of range or an unknown emotion, named in the message.
    """
    cleaned = dict(values)
    for key in ("steps", "seed"):
        value = cleaned.get(key)
        if isinstance(value, float):
            if not value.is_integer():
                raise DemoInputError(f"{key} must be a whole number, got {value}")
            cleaned[key] = int(value)
    emotion = cleaned.get("emotion")
    if emotion is not None and emotion not in EMOTION_CHOICES:
        raise DemoInputError(f"emotion {emotion!r} is not one of {', '.join(EMOTION_CHOICES)}")
    try:
        return DemoForm(**cleaned)
    except ValidationError as error:
        raise DemoInputError(f"invalid setting: {_field_errors(error)}") from error


def check_media(image: np.ndarray | str | Path | None, audio: str | Path | None) -> None:
    """Both inputs must be present before any model work.

    Raises:
        DemoInputError: no portrait, or no speech (neither uploaded nor recorded).
    """
    if image is None:
        raise DemoInputError("no portrait: upload a face image (PNG, JPEG or WebP) first")
    if isinstance(image, np.ndarray) and (image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8):
        raise DemoInputError(
            f"the portrait must be an RGB image; got an array of shape {tuple(image.shape)} ({image.dtype})"
        )
    if audio is None or str(audio) == "":
        raise DemoInputError("no speech: upload an audio file or record one with the microphone first")
    if not Path(audio).is_file():
        raise DemoInputError(f"the speech file {audio} is gone; upload or record it again")


def run_request(
    generator: VideoGenerator,
    image: np.ndarray | str | Path | None,
    audio: str | Path | None,
    form: dict[str, Any],
    out_dir: Path,
    *,
    log_error: Callable[[BaseException], None] | None = None,
) -> DemoResult:
    """Check the inputs, then stream the clip into ``out_dir/<random>.mp4`` (the pipeline writes frames as
    they are rendered and renames the file into place at the end).

    Args:
        generator: a :class:`float_pipeline.Pipeline` (or anything with the same ``generate``).
        image: uint8 RGB [H, W, 3] array or an image path.
        audio: path to a speech file (any ffmpeg-readable format; the microphone gives a wav).
        form: the other widgets' values, keyed like :class:`DemoForm`.
        out_dir: an existing folder the server may serve files from.
        log_error: called with unexpected exceptions (bugs) before they are reported to the user.

    Raises:
        DemoInputError: anything the user can fix, with a message saying what to do; unexpected errors are
            reported as ``DemoInputError`` too (type and message, no traceback) after ``log_error``.
    """
    settings = parse_form(form)
    check_media(image, audio)
    assert audio is not None
    out = out_dir / f"float-demo-{uuid.uuid4().hex[:12]}.mp4"
    began = time.perf_counter()
    try:
        # Every value is explicit (the form starts at the bundle's defaults), so what the page shows is used.
        result = generator.generate(image, audio, out, **settings.model_dump())
    except USER_ERRORS as error:
        raise DemoInputError(str(error)) from error
    except ValidationError as error:
        raise DemoInputError(f"invalid setting: {_field_errors(error)}") from error
    except Exception as error:
        if log_error is not None:
            log_error(error)
        raise DemoInputError(
            f"generation failed ({type(error).__name__}: {error}); the server log has the details"
        ) from error
    seconds = time.perf_counter() - began
    width, height = getattr(result, "width", None), getattr(result, "height", None)
    size = f" at {width}x{height}" if width and height else ""
    summary = (
        f"{result.num_frames} frames ({result.duration_s:.2f} s of speech){size}, "
        f"emotion {settings.emotion}, {settings.steps} steps, seed {settings.seed}; "
        f"rendered in {seconds:.1f} s"
    )
    return DemoResult(video=Path(result.path), summary=summary)
