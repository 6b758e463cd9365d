"""How FVD cuts clips from a video: length, stride, hop between starts, a per-video cap, a minimum count."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["ClipSampling", "clip_starts"]


class ClipSampling(BaseModel):
    """How clips are cut from videos (all reported beside every FVD)."""

    clip_length: int = Field(16, ge=1, description="frames per clip (fvd2048_16f: 16)")
    frame_stride: int = Field(1, ge=1, description="take every n-th frame inside a clip")
    clip_hop: int | None = Field(None, ge=1, description="frames between clip starts (default: clip span)")
    max_clips_per_video: int | None = Field(None, ge=1, description="cap per video (default: all)")
    min_clips: int = Field(
        400,
        ge=2,
        description="refuse fewer clips per side (400-d features need >= 400 for a full-rank covariance)",
    )

    @property
    def span(self) -> int:
        return (self.clip_length - 1) * self.frame_stride + 1


def clip_starts(num_frames: int, sampling: ClipSampling) -> list[int]:
    """First frame of each clip of a ``num_frames``-frame video; empty when the video is too short."""
    hop = sampling.clip_hop or sampling.span
    starts = list(range(0, num_frames - sampling.span + 1, hop))
    if sampling.max_clips_per_video is not None:
        starts = starts[: sampling.max_clips_per_video]
    return starts
