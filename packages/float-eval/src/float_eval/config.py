"""The settings of one evaluation run (validated at the edge; all of them are written into the report)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from .ops.clips import ClipSampling
from .registry import DEFAULT_METRICS, available_metrics, check_metric_names

__all__ = ["EvalConfig"]


class EvalConfig(BaseModel):
    """Everything that changes a number; all of it is written into the report."""

    generated: Path
    reference: Path
    sources: Path | None = None
    # Registered metric names (float_eval.available_metrics()); reported in available_metrics() order.
    metrics: list[str] = Field(default_factory=lambda: list(DEFAULT_METRICS))
    # Score only these names (None: every name in either folder); names outside it are not reported.
    only: list[str] | None = None
    # Pairing (default: the same file stem on both sides). A pattern names the generated video after the
    # reference's stem ("{stem}_generated"); a mapping file (CSV generated,reference or a JSON object) pairs
    # names explicitly. A pair is reported under its reference's stem.
    pair_pattern: str | None = None
    pair_map: Path | None = None
    weights_dir: Path | None = None
    device: str | None = None
    fps: float = 25.0
    sample_rate: int = 16000
    # Frames decoded at a time: memory is bounded by a batch, not by the video's length.
    batch_frames: int = Field(32, ge=1)
    fvd: ClipSampling = Field(default_factory=ClipSampling)
    lse_vshift: int = 15
    lse_min_track: int = 100
    lse_crop_scale: float = 0.4
    # LSE face tracks: S3FD as syncnet_python (sfd_face.pth) or the SCRFD detector of the other metrics.
    face_detector: Literal["s3fd", "scrfd"] = "s3fd"
    lse_facedet_scale: float = Field(0.25, gt=0)
    lse_min_face_size: float = Field(100.0, ge=0)
    lse_num_failed_det: int = Field(25, ge=0)
    pfid_translation: bool = False
    # False accepts weight files whose digest differs from the manifest; the report lists them.
    check_digests: bool = True

    @field_validator("metrics")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        if not value:
            # An empty list would decode every video and write an empty report.
            raise ValueError(f"no metric named; choose from {', '.join(available_metrics())}")
        return check_metric_names(value)

    @field_validator("pair_pattern")
    @classmethod
    def _one_stem(cls, value: str | None) -> str | None:
        if value is not None and value.count("{stem}") != 1:
            raise ValueError(f"the pairing pattern must hold {{stem}} exactly once, got {value!r}")
        return value

    @model_validator(mode="after")
    def _one_pairing(self) -> EvalConfig:
        if self.pair_pattern is not None and self.pair_map is not None:
            raise ValueError("give a pairing pattern or a pairing file, not both")
        return self
