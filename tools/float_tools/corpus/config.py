"""Validated inputs of the corpus builder: the corpus configuration and a portrait's face layout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

FPS = 25
"""Video frame rate of every clip (frames per second); one frame spans 640 audio samples."""
SAMPLE_RATE = 16_000
"""Audio sample rate of every clip (Hz, mono)."""
SAMPLES_PER_FRAME = SAMPLE_RATE // FPS


def _ordered_pair(value: tuple[float, float], name: str) -> tuple[float, float]:
    if value[0] > value[1]:
        raise ValueError(f"{name} must be (low, high) with low <= high, got {value}")
    return value


class FaceLayout(BaseModel):
    """Where the face parts are in one image, in that image's pixel coordinates (x right, y down).

    ``mouth`` is the centre of the line where the lips meet; ``mouth_width`` is the corner-to-corner
    distance in pixels. Eyes are the pupil centres, ``left_eye`` being the one with the smaller x.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    left_eye: tuple[float, float]
    right_eye: tuple[float, float]
    mouth: tuple[float, float]
    mouth_width: float = Field(gt=0)

    @model_validator(mode="after")
    def _check_geometry(self) -> FaceLayout:
        if self.left_eye[0] >= self.right_eye[0]:
            raise ValueError("left_eye must have a smaller x than right_eye (image coordinates)")
        eye_y = 0.5 * (self.left_eye[1] + self.right_eye[1])
        if self.mouth[1] <= eye_y:
            raise ValueError("mouth must lie below the eyes (larger y)")
        return self

    @property
    def eye_centre(self) -> tuple[float, float]:
        """Midpoint between the eyes (pixels)."""
        return (0.5 * (self.left_eye[0] + self.right_eye[0]), 0.5 * (self.left_eye[1] + self.right_eye[1]))

    @property
    def eye_distance(self) -> float:
        """Inter-ocular distance (pixels)."""
        dx = self.right_eye[0] - self.left_eye[0]
        dy = self.right_eye[1] - self.left_eye[1]
        return float((dx * dx + dy * dy) ** 0.5)

    @property
    def eye_mouth_distance(self) -> float:
        """Distance from the eye midpoint to the mouth centre (pixels)."""
        ex, ey = self.eye_centre
        return float(((self.mouth[0] - ex) ** 2 + (self.mouth[1] - ey) ** 2) ** 0.5)

    def mapped(self, scale: float, offset: tuple[float, float]) -> FaceLayout:
        """The layout after ``p -> (p - offset) * scale`` (a crop followed by a resize)."""

        def f(p: tuple[float, float]) -> tuple[float, float]:
            return ((p[0] - offset[0]) * scale, (p[1] - offset[1]) * scale)

        return FaceLayout(
            left_eye=f(self.left_eye),
            right_eye=f(self.right_eye),
            mouth=f(self.mouth),
            mouth_width=self.mouth_width * scale,
        )

    @classmethod
    def from_json_file(cls, path: Path) -> FaceLayout:
        """Read a layout from a JSON file with keys left_eye, right_eye, mouth ([x, y]) and mouth_width."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"landmarks file {path} does not exist: pass a JSON file or 'auto'")
        try:
            data: Any = json.loads(path.read_text(encoding="utf-8"))
            return cls.model_validate(data)
        except (json.JSONDecodeError, ValidationError) as err:
            raise ValueError(
                f"landmarks file {path} is not a valid face layout ({err}); expected "
                '{"left_eye": [x, y], "right_eye": [x, y], "mouth": [x, y], "mouth_width": w} in image pixels'
            ) from err


class AugmentConfig(BaseModel):
    """Identity augmentation: how far each clip's portrait may differ from the photo (drawn per clip from
    the corpus seed and the clip index, so a corpus shows many looks of each face).

    ``colour``: each RGB channel's gain is drawn in [1 - colour, 1 + colour] (white balance);
    ``brightness``: one gain for all channels in [1 - brightness, 1 + brightness]; ``lighting``: a linear
    brightness ramp in a random direction, 1 +- lighting at the frame's edge; ``scale`` (low, high): face size
    relative to the usual crop; ``rotation_deg``: largest in-plane rotation of the portrait; ``blur_sigma``
    (low, high): Gaussian blur, output pixels; ``glasses``: chance of a glasses-like occluder (rims, bridge,
    temples, lenses tinted from clear to dark) drawn around the eyes. Geometry moves the face layout with
    the pixels, so every ground-truth track stays true.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    colour: float = Field(default=0.12, ge=0, le=0.5)
    brightness: float = Field(default=0.2, ge=0, le=0.6)
    lighting: float = Field(default=0.35, ge=0, le=0.8)
    scale: tuple[float, float] = (0.85, 1.15)
    rotation_deg: float = Field(default=8.0, ge=0, le=15)
    blur_sigma: tuple[float, float] = (0.0, 1.0)
    glasses: float = Field(default=0.3, ge=0, le=1)

    @field_validator("scale")
    @classmethod
    def _check_scale(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not (value[0] >= 0.6 and value[1] <= 1.5):
            raise ValueError(f"augment scale must lie in [0.6, 1.5], got {value}")
        return _ordered_pair(value, "augment scale")

    @field_validator("blur_sigma")
    @classmethod
    def _check_blur(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not (value[0] >= 0 and value[1] <= 3):
            raise ValueError(f"augment blur_sigma must lie in [0, 3] pixels, got {value}")
        return _ordered_pair(value, "augment blur_sigma")


class CorpusConfig(BaseModel):
    """Everything that determines a corpus. Clip ``i`` depends only on these fields and ``i``.

    Pose amplitudes are fractions of the corpus resolution (shift), plain degrees (roll) and relative
    scale changes; ``max_opening`` is the largest lip gap as a fraction of the mouth width. Each clip's
    speech is scaled by a gain drawn from ``gain_range_db`` (the mouth track is loudness-invariant, so a
    model must use relative levels); ``noise_db`` (dBFS RMS, off when None) adds seeded white noise over
    the whole clip, so silence is no longer digital zero (the mouth track still comes from the clean speech).
    ``augment`` (off when None) changes each clip's portrait (:class:`AugmentConfig`); when off it is left out
    of every dump, so corpora built before it existed keep their settings and their bytes.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    portraits: list[str] = Field(min_length=1)
    landmarks: list[str] = Field(default_factory=list)
    voices: list[str] = Field(min_length=1)
    sentences: list[str] = Field(min_length=1)
    n_clips: int = Field(ge=1)
    seed: int = Field(ge=0)
    resolution: int = 256
    rate_range: tuple[int, int] = (140, 190)
    pitch_range: tuple[int, int] = (35, 65)
    pad_range_s: tuple[float, float] = (0.3, 0.6)
    gain_range_db: tuple[float, float] = (-6.0, 3.0)
    noise_db: float | None = Field(default=None, ge=-100, le=-20)
    max_opening: float = Field(default=0.4, gt=0, le=0.8)
    pose_roll_deg: float = Field(default=3.0, ge=0, le=15)
    pose_shift: float = Field(default=0.025, ge=0, le=0.1)
    pose_scale: float = Field(default=0.03, ge=0, le=0.2)
    blink_interval_s: tuple[float, float] = (2.0, 5.0)
    crf: int = Field(default=18, ge=0, le=51)
    augment: AugmentConfig | None = None

    @model_serializer(mode="wrap")
    def _omit_augment_when_off(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        if self.augment is None:
            data.pop("augment", None)
        return data

    @field_validator("resolution")
    @classmethod
    def _check_resolution(cls, value: int) -> int:
        if value % 16 != 0 or not 64 <= value <= 512:
            raise ValueError(
                f"resolution must be a multiple of 16 in [64, 512] (e.g. 128 or 256), got {value}"
            )
        return value

    @field_validator("rate_range")
    @classmethod
    def _check_rate(cls, value: tuple[int, int]) -> tuple[int, int]:
        if not (value[0] >= 80 and value[1] <= 450):
            raise ValueError(f"rate_range must lie in [80, 450] words per minute, got {value}")
        return _ordered_pair(value, "rate_range")  # type: ignore[return-value]

    @field_validator("pitch_range")
    @classmethod
    def _check_pitch(cls, value: tuple[int, int]) -> tuple[int, int]:
        if not (value[0] >= 0 and value[1] <= 99):
            raise ValueError(f"pitch_range must lie in [0, 99] (espeak-ng -p), got {value}")
        return _ordered_pair(value, "pitch_range")  # type: ignore[return-value]

    @field_validator("pad_range_s")
    @classmethod
    def _check_pad(cls, value: tuple[float, float]) -> tuple[float, float]:
        if value[0] < 0.12:
            raise ValueError(
                f"pad_range_s must start at >= 0.12 s so clips begin and end in silence, got {value}"
            )
        return _ordered_pair(value, "pad_range_s")

    @field_validator("gain_range_db")
    @classmethod
    def _check_gain(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not (value[0] >= -30.0 and value[1] <= 4.0):
            raise ValueError(
                f"gain_range_db must lie in [-30, 4] dB (espeak-ng peaks near -5 dBFS), got {value}"
            )
        return _ordered_pair(value, "gain_range_db")

    @field_validator("blink_interval_s")
    @classmethod
    def _check_blink(cls, value: tuple[float, float]) -> tuple[float, float]:
        if value[0] <= 0.4:
            raise ValueError(f"blink_interval_s must start above 0.4 s, got {value}")
        return _ordered_pair(value, "blink_interval_s")

    @field_validator("sentences")
    @classmethod
    def _check_sentences(cls, value: list[str]) -> list[str]:
        for i, sentence in enumerate(value):
            if not sentence.strip():
                raise ValueError(f"sentence {i} is empty")
        return value

    @model_validator(mode="after")
    def _check_landmarks(self) -> CorpusConfig:
        if self.landmarks and len(self.landmarks) != len(self.portraits):
            raise ValueError(
                f"give one --landmarks per --portrait (JSON file or 'auto'), in the same order: "
                f"{len(self.portraits)} portraits but {len(self.landmarks)} landmarks"
            )
        return self

    def identity(self) -> dict[str, Any]:
        """The fields that fix each clip's content (all but ``n_clips``): a rerun must match them."""
        return self.model_dump(mode="json", exclude={"n_clips"})
