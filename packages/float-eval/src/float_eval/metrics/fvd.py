"""FVD with StyleGAN-V's ``fvd2048_16f`` detector: the tf.hub Kinetics-400 I3D (:mod:`float_eval.nets.i3d`).

Clips of ``clip_length`` frames (every ``frame_stride``-th frame) are cut from each video starting at 0,
``clip_hop``, ``2 * clip_hop``, ... (at most ``max_clips_per_video``), fed as uint8 [B, 3, T, H, W] with
``rescale=True, resize=True`` (the TorchScript maps [0, 255] to [-1, 1] and resizes to 224 itself), and
their 400-d pre-softmax features stream into float64 statistics. As in StyleGAN-V, the covariance is the
biased one (divide by N).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..nets.i3d import FVD_WEIGHTS, load_i3d
from ..ops.clips import ClipSampling, clip_starts
from ..weights import resolve_weight
from .frechet import FrechetMetric

if TYPE_CHECKING:
    from ..config import EvalConfig
    from ..pair import VideoPair
    from ..resources import Resources

__all__ = ["FVD", "FVDMetric"]


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


class FVDMetric:
    """``fvd``: :class:`FVD` over the clips of every generated video against those of every reference video.

    A video shorter than one clip is a reported problem (``too short for fvd``); the per-video clip counts go
    into ``fvd_clips_generated`` / ``fvd_clips_reference``. Stand-ins: ``i3d`` and its ``fvd_feature_dim``.
    """

    name = "fvd"
    higher_is_better = False
    weights = (FVD_WEIGHTS,)
    fvd: FVD

    def __init__(self, config: EvalConfig) -> None:
        self.config = config

    def setup(self, resources: Resources) -> None:
        i3d = resources.shared("i3d", lambda: load_i3d(resources.weight(FVD_WEIGHTS), resources.device))
        dim = resources.components.get("fvd_feature_dim", 400)
        self.fvd = FVD(i3d, sampling=self.config.fvd, device=resources.device, feature_dim=dim)
        self.fvd.weights_sha256 = resources.weights_sha256.get(FVD_WEIGHTS)

    def update(self, pair: VideoPair) -> None:
        span = self.config.fvd.span
        for side in ("generated", "reference"):
            frames = pair.frames(side)
            if frames.shape[0] < span:
                pair.problem(
                    f"fvd: {side} has {frames.shape[0]} frames, shorter than {span}",
                    count_as="too short for fvd",
                )
                continue
            feats = self.fvd.features(frames)
            self.fvd.update_features(feats, real=side == "reference")
            setattr(pair.result, f"fvd_clips_{side}", feats.shape[0])

    def compute(self) -> float:
        return self.fvd.compute()

    def reset(self) -> None:
        self.fvd.reset()

    def settings(self) -> dict[str, object]:
        return self.fvd.settings()
