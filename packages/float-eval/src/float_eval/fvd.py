"""FVD with StyleGAN-V's ``fvd2048_16f`` detector: the tf.hub Kinetics-400 I3D as TorchScript.

Clips of ``clip_length`` frames (every ``frame_stride``-th frame) are cut from each video starting at 0,
``clip_hop``, ``2 * clip_hop``, ... (at most ``max_clips_per_video``), fed as uint8 [B, 3, T, H, W] with
``rescale=True, resize=True`` (the TorchScript maps [0, 255] to [-1, 1] and resizes to 224 itself), and
their 400-d pre-softmax features stream into float64 statistics. As in StyleGAN-V, the covariance is the
biased one (divide by N).
"""

from __future__ import annotations

from pathlib import Path

import torch
from pydantic import BaseModel, Field

from .frechet import FrechetMetric
from .weights import resolve_weight

__all__ = ["FVD", "FVD_WEIGHTS", "ClipSampling", "clip_starts", "load_i3d"]

FVD_WEIGHTS = "i3d_torchscript.pt"


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


def load_i3d(path: str | Path, device: str | torch.device = "cpu") -> torch.jit.ScriptModule:
    """Load StyleGAN-V's ``i3d_torchscript.pt`` (call: ``net(x, rescale=, resize=, return_features=)``)."""
    return torch.jit.load(str(path), map_location=device).eval()


class FVD(FrechetMetric):
    """Fréchet Video Distance, streaming over videos.

    ``update(video, real)`` takes one video [T, 3, H, W] uint8 RGB and adds all its clips; ``compute()``
    refuses when either side has fewer than ``sampling.min_clips`` clips.

    Args:
        detector: the I3D TorchScript (or any module with the same call signature returning [B, 400]).
        weights_dir: folder with ``i3d_torchscript.pt`` when ``detector`` is not given.
        verify: False accepts a weights file whose sha256 differs from the manifest.
        sampling: clip settings.
        batch_size: clips per forward pass.
    """

    def __init__(
        self,
        detector: torch.nn.Module | None = None,
        weights_dir: str | Path | None = None,
        sampling: ClipSampling | None = None,
        device: str | torch.device | None = None,
        batch_size: int = 4,
        feature_dim: int = 400,
        verify: bool = True,
    ) -> None:
        self.sampling = sampling or ClipSampling()
        super().__init__(dim=feature_dim, ddof=0, min_samples=self.sampling.min_clips)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.weights_sha256: str | None = None
        if detector is None:
            path, self.weights_sha256 = resolve_weight(FVD_WEIGHTS, weights_dir, verify=verify)
            detector = load_i3d(path, self.device)
        self.detector = detector
        self.batch_size = batch_size

    def clips(self, video: torch.Tensor) -> torch.Tensor:
        """All clips of a video [T, 3, H, W] as [N, 3, clip_length, H, W] (same dtype)."""
        if video.ndim != 4 or video.shape[1] != 3:
            raise ValueError(f"video must have shape [T, 3, H, W], got {list(video.shape)}")
        s = self.sampling
        starts = clip_starts(video.shape[0], s)
        if not starts:
            raise ValueError(
                f"video has {video.shape[0]} frames, fewer than one {s.clip_length}-frame clip "
                f"(stride {s.frame_stride} needs {s.span})"
            )
        idx = torch.tensor([[st + k * s.frame_stride for k in range(s.clip_length)] for st in starts])
        return video[idx].permute(0, 2, 1, 3, 4)

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """I3D features [N, 400] of a video [T, 3, H, W] (uint8 RGB)."""
        clips = self.clips(x)
        if clips.dtype != torch.uint8:
            raise ValueError(f"FVD takes uint8 frames in [0, 255] (StyleGAN-V's input), got {clips.dtype}")
        out = []
        for i in range(0, clips.shape[0], self.batch_size):
            batch = clips[i : i + self.batch_size].to(self.device)
            out.append(self.detector(batch, rescale=True, resize=True, return_features=True).float().cpu())
        return torch.cat(out)

    def compute(self) -> float:
        for name, stats in (("reference", self.real), ("generated", self.fake)):
            if stats.count < self.sampling.min_clips:
                raise ValueError(
                    f"FVD needs at least {self.sampling.min_clips} clips per side, got {stats.count} "
                    f"{name} clips; add videos, lower clip_hop, or lower min_clips (and report it: FVD "
                    "depends on the clip count)"
                )
        return super().compute()

    def settings(self) -> dict[str, object]:
        return {
            "backbone": "StyleGAN-V I3D TorchScript (tf.hub Kinetics-400), 400-d features",
            "weights": FVD_WEIGHTS,
            "weights_sha256": self.weights_sha256,
            "input": "uint8 [B,3,T,H,W], rescale=True, resize=True",
            "covariance": "biased (ddof=0), as StyleGAN-V",
            **self.sampling.model_dump(),
            "clips_reference": self.real.count,
            "clips_generated": self.fake.count,
        }
