"""The settings of one evaluation run (validated at the edge; all of them are written into the report)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from .ops.clips import ClipSampling
from .registry import DEFAULT_METRICS, check_metric_names

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
    weights_dir: Path | None = None
    device: str | None = None
    fps: float = 25.0
    sample_rate: int = 16000
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
        return check_metric_names(value)
