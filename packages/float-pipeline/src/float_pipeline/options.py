"""Per-call generation options (validated at the edge) and the result of one generation."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Device(StrEnum):
    """Where the models run (``--device``)."""

    cpu = "cpu"
    cuda = "cuda"
    mps = "mps"


class DType(StrEnum):
    """Model precision (``--dtype``); bfloat16 is fast on GPUs and CPUs with native bf16 only."""

    float32 = "float32"
    bfloat16 = "bfloat16"
    float16 = "float16"


class GenerateOptions(BaseModel):
    """Options of :meth:`float_pipeline.Pipeline.generate` / ``frames`` (and of a batch-file row).

    ``None`` means "the bundle's default" (``bundle.json`` ``defaults``). Every number must be finite: an
    infinite guidance scale would turn every frame into NaNs (a black video).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    emotion: str | None = Field(
        None,
        description="None: bundle default; 'auto': the bundle's emotion predictor; else an emotion name "
        "('happy'), a mix ('happy=2,sad=1') or a predictor spec (float_emotion.parse_emotion_option)",
    )
    emotion_intensity: float = Field(1.0, ge=0, description="sharpen (>1) or soften (<1) the emotion vector")
    audio_scale: float | None = Field(None, ge=0, description="audio guidance scale g_a (paper: 2)")
    emotion_scale: float | None = Field(None, ge=0, description="emotion guidance scale g_e (paper: 1)")
    steps: int | None = Field(None, ge=1, description="ODE steps per window (function evaluations)")
    seed: int = Field(0, ge=0, description="noise seed: the same seed gives identical frames")
    crop: bool = Field(True, description="crop around the detected face; False pads the image to a square")
    paste_back: bool = Field(
        False, description="composite the generated face into the original image at its own resolution"
    )
    pose_from: str | None = Field(
        None,
        description="head pose for bundles with a pose condition: a .npy/.pt/.csv [T, p] file, or 'none'",
    )
    decode_batch: int = Field(8, ge=1, description="motions decoded per auto-encoder call")
    detector: Literal["dlib", "face-alignment", "auto"] | None = Field(
        None,
        description="face detector for crop: dlib (offline), face-alignment, auto (None: the bundle's, "
        "dlib unless it says otherwise)",
    )
    detector_weights: str | None = Field(
        None,
        description="folder with the face-alignment weights (default: the bundle's, else torch hub's)",
    )
    crop_rule: Literal["kit", "official"] | None = Field(
        None, description="'official': the official release's crop step for step (default: the bundle's)"
    )
    fix_noise_seed: bool | None = Field(
        None, description="the same noise in every window, as the official --fix_noise_seed (bundle default)"
    )
    audio_chunk_seconds: float | None = Field(
        None, ge=0, description="audio chunk length in seconds; 0: whole clip, official (bundle default)"
    )
    crop_scale: float | None = Field(
        None, gt=0, description="crop half-side / face half-size (default: the bundle's; official 1.6)"
    )
    crop_phases: int | None = Field(
        None, ge=1, description="detection heights the face box is averaged over (default: the bundle's)"
    )
    first_context: Literal["zeros", "source"] = Field(
        "zeros", description="first window's context: zeros (official) or source"
    )
    compile: Literal["auto", "on", "off"] = Field(
        "off",
        description="run the decoder through torch.compile: on, off, or auto (on only where compiling pays "
        "off within the clip; see float_pipeline.compile_choice); falls back to eager without a C++ compiler",
    )
    allow_silent: bool = Field(
        False, description="animate a silent audio file (with a warning) instead of refusing it"
    )


@dataclass(frozen=True)
class GenerationResult:
    """What :meth:`float_pipeline.Pipeline.generate` wrote.

    Attributes:
        path: the mp4 (H.264 yuv420p, 25 fps, AAC audio).
        num_frames: video frames, ``ceil(audio seconds x 25)``.
        duration_s: audio duration in seconds.
        width, height: frame size in pixels.
        emotion: the ``[7]`` emotion vector used (order of ``float_emotion.EMOTIONS``).
        seconds: wall-clock seconds the generation took.
        detector: the face detector that placed the crop (None with ``crop=False``).
        notes: things the user should know (e.g. the official crop rule without its detector, the compile
            decision).
        compile_seconds: one-off seconds spent compiling the decoder in this call (0.0 without compile),
            included in ``seconds``.
    """

    path: Path
    num_frames: int
    duration_s: float
    width: int
    height: int
    emotion: tuple[float, ...]
    seconds: float
    detector: str | None = None
    notes: tuple[str, ...] = ()
    compile_seconds: float = 0.0
