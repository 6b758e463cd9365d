"""FID on frames with pytorch-fid's Inception (pool3, 2048-d; :mod:`float_eval.nets.inception`).

:class:`FID` streams frames into two float64 feature distributions; :class:`FIDMetric` is the ``fid`` metric
of a run: every generated frame against every reference frame, streamed in batches.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ..nets.inception import FID_WEIGHTS, build_fid_inception
from ..weights import resolve_weight
from .frechet import FrechetMetric

if TYPE_CHECKING:
    from ..config import EvalConfig
    from ..pair import Plan, VideoPair
    from ..resources import Resources

__all__ = ["FID", "FIDMetric"]


class FID(FrechetMetric):
    """Fréchet Inception Distance over frames, streaming (pytorch-fid 0.3.0 features and formula).

    ``update(frames, real)`` takes frames [N, 3, H, W] as floats in [0, 1] (what pytorch-fid's ``ToTensor``
    gives for RGB images) or uint8 in [0, 255]. Statistics are float64 with ``np.cov``'s unbiased covariance.

    Args:
        network: an InceptionV3 from :func:`build_fid_inception`; by default built from the weights folder.
        weights_dir: folder holding ``pt_inception-2015-12-05-6726825d.pth`` (default $FLOAT_EVAL_WEIGHTS).
        verify: False accepts a weights file whose sha256 differs from the manifest.
        device: where the network runs (default: CUDA when present).
        batch_size: frames per forward pass.
        feature_dim: 2048 for pytorch-fid's pool3; other values only for stand-in networks in tests.
    """

    def __init__(
        self,
        network: torch.nn.Module | None = None,
        weights_dir: str | Path | None = None,
        device: str | torch.device | None = None,
        batch_size: int = 50,
        feature_dim: int = 2048,
        verify: bool = True,
    ) -> None:
        super().__init__(dim=feature_dim, ddof=1)
        self.weights_sha256: str | None = None
        if network is None:
            path, self.weights_sha256 = resolve_weight(FID_WEIGHTS, weights_dir, verify=verify)
            network = build_fid_inception(path)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.network = network.to(self.device).eval()
        self.batch_size = batch_size

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pool3 features [N, 2048] (float32, on CPU) of frames [N, 3, H, W]."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"frames must have shape [N, 3, H, W], got {list(x.shape)}")
        if x.dtype == torch.uint8:
            x = x.float() / 255.0
        out = []
        for start in range(0, x.shape[0], self.batch_size):
            batch = x[start : start + self.batch_size].to(self.device, torch.float32)
            out.append(self.network(batch)[0].squeeze(3).squeeze(2).cpu())
        return torch.cat(out) if out else torch.zeros(0, self.dim)

    def settings(self) -> dict[str, object]:
        return fid_settings(self.weights_sha256)


def fid_settings(weights_sha256: str | None) -> dict[str, object]:
    """What produces an FID (written beside it)."""
    return {
        "backbone": "pytorch-fid 0.3.0 InceptionV3 pool3 (2048-d)",
        "weights": FID_WEIGHTS,
        "weights_sha256": weights_sha256,
        "resize": "F.interpolate to 299x299, bilinear, align_corners=False",
        "input_range": "[0,1] -> 2x-1",
        "covariance": "unbiased (ddof=1)",
    }


class _FIDFeed:
    """Frames of one side into :class:`FID` in groups of its batch size: the forward passes of one call on
    the whole video, with at most a batch and a group held."""

    def __init__(self, fid: FID, real: bool) -> None:
        self.fid, self.real, self.done = fid, real, False
        self.buffer: list[torch.Tensor] = []

    def push(self, frames: torch.Tensor, start: int) -> None:
        self.buffer.append(frames)
        held = torch.cat(self.buffer)
        size = self.fid.batch_size
        while held.shape[0] >= size:
            self.fid.update(held[:size], real=self.real)
            held = held[size:]
        self.buffer = [held]

    def close(self) -> None:
        held = torch.cat(self.buffer)
        if held.shape[0]:
            self.fid.update(held, real=self.real)
        self.buffer, self.done = [], True


class FIDMetric:
    """``fid``: :class:`FID` of all generated frames against all reference frames (at the run's 25 fps).

    Stand-ins (:class:`float_eval.Components`): ``fid_network`` (called like pytorch-fid's ``InceptionV3``)
    and its ``fid_feature_dim``.
    """

    name = "fid"
    higher_is_better = False
    weights = (FID_WEIGHTS,)
    fid: FID

    def __init__(self, config: EvalConfig) -> None:
        self.config = config
        self.stats: FrechetMetric | None = None  # the FID once set up; statistics only after merge_state
        self.weights_sha256: str | None = None

    def setup(self, resources: Resources) -> None:
        network = resources.shared("fid_network", lambda: resources.load(FID_WEIGHTS, build_fid_inception))
        dim = resources.components.get("fid_feature_dim", 2048)
        self.fid = FID(network, device=resources.device, feature_dim=dim)
        self.weights_sha256 = self.fid.weights_sha256 = resources.weights_sha256.get(FID_WEIGHTS)
        self.stats = self.fid

    def frame_consumers(self, pair: VideoPair) -> Plan:
        """Both sides' frames, fed to the network in pytorch-fid's batches (``evaluate`` shares the pass)."""
        return pair.plan(self, self._plan)

    def _plan(self) -> Plan:
        return {"generated": [_FIDFeed(self.fid, real=False)], "reference": [_FIDFeed(self.fid, real=True)]}

    def update(self, pair: VideoPair) -> None:
        pair.consume(self, self._plan)

    def compute(self) -> float:
        if self.stats is None:
            raise ValueError("FID saw no frames")
        return self.stats.compute()

    def reset(self) -> None:
        if self.stats is not None:
            self.stats.reset()

    def settings(self) -> dict[str, object]:
        return fid_settings(self.weights_sha256)

    def state(self) -> dict[str, Any]:
        """Feature sums and counts of both sides (float64), and the weights' digest."""
        assert self.stats is not None
        return {"stats": self.stats.state(), "weights_sha256": self.weights_sha256}

    def merge_state(self, state: dict[str, Any]) -> None:
        """Add a shard's statistics (no network needed)."""
        if self.stats is None:
            self.stats = FrechetMetric(dim=len(state["stats"]["real"]["sum"]), ddof=1)
        self.stats.merge_state(state["stats"])
        self.weights_sha256 = state["weights_sha256"]
