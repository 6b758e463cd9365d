"""FVD with StyleGAN-V's ``fvd2048_16f`` detector: the tf.hub Kinetics-400 I3D (:mod:`float_eval.nets.i3d`).

Clips of ``clip_length`` frames (every ``frame_stride``-th frame) are cut from each video starting at 0,
``clip_hop``, ``2 * clip_hop``, ... (at most ``max_clips_per_video``), fed as uint8 [B, 3, T, H, W] with
``rescale=True, resize=True`` (the TorchScript maps [0, 255] to [-1, 1] and resizes to 224 itself), and
their 400-d pre-softmax features stream into float64 statistics. As in StyleGAN-V, the covariance is the
biased one (divide by N).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ..nets.i3d import FVD_WEIGHTS, load_i3d
from ..ops.clips import ClipSampling, clip_starts
from ..pair import SIDES
from ..weights import resolve_weight
from .frechet import FrechetMetric

if TYPE_CHECKING:
    from ..config import EvalConfig
    from ..pair import Plan, VideoPair
    from ..resources import Resources

__all__ = ["FVD", "ClipCutter", "FVDMetric"]


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

    def stream_features(self, batches: Iterable[torch.Tensor]) -> Iterator[torch.Tensor]:
        """I3D features of a video streamed as frame batches [B, 3, H, W] uint8: [n, 400] per clip batch.

        The clips, their order and the batches fed to the network are those of :meth:`features` on the whole
        video; only the frames a clip still needs are kept between batches.
        """
        cutter = ClipCutter(self)
        start = 0
        for batch in batches:
            yield from cutter.push(batch, start)
            start += batch.shape[0]
        yield from cutter.close()

    @torch.no_grad()
    def _clip_features(self, clips: list[torch.Tensor]) -> torch.Tensor:
        batch = torch.stack(clips).to(self.device)
        return self.detector(batch, rescale=True, resize=True, return_features=True).float().cpu()

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
        return fvd_settings(self.sampling, self.weights_sha256, self.real.count, self.fake.count)

    @classmethod
    def statistics_only(cls, sampling: ClipSampling, feature_dim: int = 400) -> FVD:
        """An FVD without a detector: statistics merged from shards (:meth:`merge_state`) and ``compute``."""
        fvd = cls.__new__(cls)
        FrechetMetric.__init__(fvd, dim=feature_dim, ddof=0, min_samples=sampling.min_clips)
        fvd.sampling, fvd.weights_sha256, fvd.batch_size = sampling, None, 4
        fvd.device = torch.device("cpu")
        return fvd


class ClipCutter:
    """Cuts a video pushed in frame batches into :class:`FVD`'s clips and returns their features per batch
    of ``fvd.batch_size`` clips (the clips and batches of ``FVD.features`` on the whole video)."""

    def __init__(self, fvd: FVD) -> None:
        self.fvd = fvd
        s = fvd.sampling
        self.hop, self.cap = s.clip_hop or s.span, s.max_clips_per_video
        self.recent: dict[int, torch.Tensor] = {}  # frame index -> [3, H, W]
        self.start = self.clips = self.seen = 0
        self.pending: list[torch.Tensor] = []

    def push(self, frames: torch.Tensor, start: int) -> list[torch.Tensor]:
        """Frames ``start ..`` [B, 3, H, W] uint8; the features [n, D] of the clip batches completed."""
        if frames.dtype != torch.uint8:
            raise ValueError(f"FVD takes uint8 frames in [0, 255] (StyleGAN-V's input), got {frames.dtype}")
        s, out = self.fvd.sampling, []
        for frame in frames:
            self.recent[self.seen] = frame
            self.seen += 1
            while (self.cap is None or self.clips < self.cap) and self.start + s.span <= self.seen:
                idx = [self.start + k * s.frame_stride for k in range(s.clip_length)]
                self.pending.append(torch.stack([self.recent[i] for i in idx]).permute(1, 0, 2, 3))
                self.clips += 1
                self.start += self.hop
                if len(self.pending) == self.fvd.batch_size:
                    out.append(self.fvd._clip_features(self.pending))
                    self.pending = []
            for old in [i for i in self.recent if i < self.start]:
                del self.recent[old]
        return out

    def close(self) -> list[torch.Tensor]:
        """Features of the last, partial batch of clips."""
        out = [self.fvd._clip_features(self.pending)] if self.pending else []
        self.pending, self.recent = [], {}
        return out


class _FVDFeed:
    """One side's frames into :class:`FVD`'s statistics; counts its clips."""

    def __init__(self, fvd: FVD, real: bool) -> None:
        self.fvd, self.real, self.done = fvd, real, False
        self.cutter = ClipCutter(fvd)
        self.clips = 0

    def _add(self, features: list[torch.Tensor]) -> None:
        for feats in features:
            self.fvd.update_features(feats, real=self.real)
            self.clips += feats.shape[0]

    def push(self, frames: torch.Tensor, start: int) -> None:
        self._add(self.cutter.push(frames, start))

    def close(self) -> None:
        self._add(self.cutter.close())
        self.done = True


def fvd_settings(
    sampling: ClipSampling, weights_sha256: str | None, clips_reference: int, clips_generated: int
) -> dict[str, object]:
    """What produces an FVD (written beside it)."""
    return {
        "backbone": "StyleGAN-V I3D TorchScript (tf.hub Kinetics-400), 400-d features",
        "weights": FVD_WEIGHTS,
        "weights_sha256": weights_sha256,
        "input": "uint8 [B,3,T,H,W], rescale=True, resize=True",
        "covariance": "biased (ddof=0), as StyleGAN-V",
        **sampling.model_dump(),
        "clips_reference": clips_reference,
        "clips_generated": clips_generated,
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
        self.fvd = FVD.statistics_only(config.fvd)  # replaced by the full FVD in setup

    def setup(self, resources: Resources) -> None:
        i3d = resources.shared(
            "i3d", lambda: resources.load(FVD_WEIGHTS, lambda path: load_i3d(path, resources.device))
        )
        dim = resources.components.get("fvd_feature_dim", 400)
        self.fvd = FVD(i3d, sampling=self.config.fvd, device=resources.device, feature_dim=dim)
        self.fvd.weights_sha256 = resources.weights_sha256.get(FVD_WEIGHTS)

    def frame_consumers(self, pair: VideoPair) -> Plan:
        """Both sides' clips (``evaluate`` shares the pass with the other metrics)."""
        return pair.plan(self, self._plan)

    def _plan(self) -> Plan:
        return {"generated": [_FVDFeed(self.fvd, real=False)], "reference": [_FVDFeed(self.fvd, real=True)]}

    def update(self, pair: VideoPair) -> None:
        span = self.config.fvd.span
        plan = pair.consume(self, self._plan)
        for side in SIDES:
            feed = plan[side][0]
            assert isinstance(feed, _FVDFeed)
            if feed.clips == 0:
                frames = pair.num_frames(side)
                pair.problem(
                    f"fvd: {side} has {frames} frames, shorter than {span}", count_as="too short for fvd"
                )
                continue
            setattr(pair.result, f"fvd_clips_{side}", feed.clips)

    def compute(self) -> float:
        return self.fvd.compute()

    def reset(self) -> None:
        self.fvd.reset()

    def settings(self) -> dict[str, object]:
        return self.fvd.settings()

    def state(self) -> dict[str, Any]:
        """Clip-feature sums and counts of both sides (float64), and the weights' digest."""
        return {"stats": self.fvd.state(), "weights_sha256": self.fvd.weights_sha256}

    def merge_state(self, state: dict[str, Any]) -> None:
        """Add a shard's statistics (no network needed)."""
        if self.fvd.dim != len(state["stats"]["real"]["sum"]):
            self.fvd = FVD.statistics_only(self.config.fvd, len(state["stats"]["real"]["sum"]))
        self.fvd.merge_state(state["stats"])
        self.fvd.weights_sha256 = state["weights_sha256"]
