"""The settings of one evaluation run (validated at the edge; every field is written into the report)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from float_eval import DEFAULT_METRICS, available_metrics, check_metric_names

SPLITS = ("train", "val", "test")


class EvaluateConfig(BaseModel):
    """``float-evaluate run``: which bundle, which prepared split, where to write, which metrics.

    Output layout under ``out``: ``reference/<id>.mp4`` (the prepared crops + aligned audio),
    ``sources/<id>.png`` (first reference frame, the portrait) and ``sources/<id>.wav`` (the audio),
    ``generated/<id>.mp4`` (the bundle's video), ``report.json`` and ``report.md``.
    """

    model_config = ConfigDict(extra="forbid")

    checkpoint: str | None = Field(
        None, description="bundle folder or Hugging Face id; None = the embedded demo bundle"
    )
    data: Path = Field(description="a float-data prepared dataset folder (float-data prepare)")
    split: Literal["train", "val", "test"] = "test"
    out: Path
    metrics: list[str] = Field(default_factory=lambda: list(DEFAULT_METRICS))
    weights_dir: Path | None = None
    limit: int | None = Field(None, ge=1, description="evaluate only the first N videos of the split")
    paper_table: bool = False
    device: str | None = Field(None, description="cpu or cuda; None = cuda when present, else cpu")
    # Generation: the prepared frames are already square face crops, so they are not cropped again.
    crop: bool = False
    steps: int | None = Field(None, ge=1)
    seed: int = Field(0, ge=0)
    emotion: str | None = None
    # float-eval settings a run may need to change (their meaning: docs/float-eval.md).
    face_detector: Literal["s3fd", "scrfd"] = "s3fd"
    fvd_min_clips: int = Field(400, ge=2)
    lse_min_track: int = Field(100, ge=1)
    lse_min_face_size: float = Field(100.0, ge=0)
    # False accepts weight files whose sha256 differs from float-eval's manifest (listed in the report).
    check_digests: bool = True
    progress: bool = True

    @field_validator("metrics")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        check_metric_names(value)
        if not value:
            raise ValueError(f"--metrics is empty; choose from {', '.join(available_metrics())}")
        return value

    @property
    def resolved_device(self) -> str:
        import torch

        return self.device or ("cuda" if torch.cuda.is_available() else "cpu")

    @property
    def reference_dir(self) -> Path:
        return self.out / "reference"

    @property
    def generated_dir(self) -> Path:
        return self.out / "generated"

    @property
    def sources_dir(self) -> Path:
        return self.out / "sources"
