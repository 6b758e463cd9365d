"""The settings of a ``prepare`` run (validated at the edge; saved next to the dataset)."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class PrepareConfig(BaseModel):
    """How raw videos become a training dataset. Defaults follow official FLOAT preprocessing.

    Frames: ``fps`` (25) by the timestamp rule of :mod:`float_data.video`; audio: ``sample_rate`` (16 kHz).
    Crop: official rule with ``crop_scale`` (1.6) and ``crop_size`` (512), faces detected on a copy
    ``detect_height`` rows high (360) every ``detect_every`` output frames, smoothed over ``smooth_window``
    frames (``track_mode`` smooth) or one crop per video (fixed). Split: by speaker id, hashed, so a speaker
    never straddles train/val/test; the speaker id is the named group ``speaker`` of ``speaker_pattern``
    matched against the relative path, else the first folder of that path, else the file stem.
    Emotion labels (``labels``): ``none``, ``ravdess`` (from RAVDESS file names) or ``file`` (``labels_file``,
    a CSV or JSON-lines table; see :mod:`float_data.labels`), stored per video as 7 probabilities.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    fps: float = Field(25.0, gt=0)
    sample_rate: int = Field(16000, gt=0)
    crop_size: int = Field(512, ge=16)
    crop_scale: float = Field(1.6, gt=0)
    detect_height: int | None = Field(360, ge=32)
    detector: Literal["auto", "face-alignment", "dlib"] = "auto"
    weights_dir: str | None = None
    device: str = "cpu"
    detect_every: int = Field(5, ge=1)
    track_mode: Literal["smooth", "fixed"] = "smooth"
    smooth_window: int = Field(25, ge=1)
    min_face_fraction: float = Field(0.5, gt=0, le=1)
    landmarks: bool = True
    require_audio: bool = True
    image_format: Literal["png", "jpeg"] = "png"
    jpeg_quality: int = Field(95, ge=1, le=100)
    val_fraction: float = Field(0.05, ge=0, lt=1)
    test_fraction: float = Field(0.05, ge=0, lt=1)
    split_salt: str = "float-data"
    speaker_pattern: str | None = None
    labels: Literal["none", "ravdess", "file"] = "none"
    labels_file: str | None = None

    @model_validator(mode="after")
    def _fractions(self) -> PrepareConfig:
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError("val_fraction + test_fraction must be below 1 (train would be empty)")
        if (self.labels == "file") != (self.labels_file is not None):
            raise ValueError("labels='file' goes with labels_file (a CSV or JSON-lines table), only with it")
        return self

    def fingerprint(self) -> str:
        """sha256 (16 hex) of every setting that changes the crops (``weights_dir``, ``device`` excluded).

        Labels are excluded too: each video's state records its label, and a changed label only rewrites
        that video's row of the videos table (no new crops); fingerprints of older folders stay valid.
        """
        payload = self.model_dump_json(exclude={"weights_dir", "device", "labels", "labels_file"})
        return hashlib.sha256(payload.encode()).hexdigest()[:16]
