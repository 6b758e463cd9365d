"""FID on frames with pytorch-fid's Inception (pool3, 2048-d), built offline from a local state dict.

pytorch-fid's ``InceptionV3`` downloads its weights when it is constructed. Here the same architecture is
assembled from the pieces ``pytorch_fid.inception`` exposes and the weights come from a local file, so the
network, its forward pass (bilinear resize to 299x299, ``align_corners=False``; ``2x - 1``) and the features
are pytorch-fid's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from unittest import mock

import torch
from pytorch_fid import inception as pfi

from .frechet import FrechetMetric
from .weights import resolve_weight

__all__ = ["FID", "FID_WEIGHTS", "build_fid_inception", "fid_inception_state_keys"]

FID_WEIGHTS = "pt_inception-2015-12-05-6726825d.pth"


def _fid_backbone(state_dict: Mapping[str, torch.Tensor] | None) -> torch.nn.Module:
    """torchvision Inception v3 with pytorch-fid's FID blocks (1008 classes), loaded strictly."""
    net = pfi._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b = pfi.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = pfi.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = pfi.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = pfi.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = pfi.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = pfi.FIDInceptionE_1(1280)
    net.Mixed_7c = pfi.FIDInceptionE_2(2048)
    if state_dict is not None:
        net.load_state_dict(state_dict, strict=True)
    return net


def fid_inception_state_keys() -> dict[str, tuple[int, ...]]:
    """Key -> shape of the state dict that ``pt_inception-2015-12-05-6726825d.pth`` holds."""
    with torch.device("meta"):
        net = _fid_backbone(None)
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def build_fid_inception(
    weights: str | Path | Mapping[str, torch.Tensor],
) -> pfi.InceptionV3:
    """pytorch-fid's ``InceptionV3(output_blocks=[3])`` (pool3 features) with weights from a file or a dict.

    Args:
        weights: path of ``pt_inception-2015-12-05-6726825d.pth`` or a state dict with the same keys.
    Returns:
        The network in eval mode; ``net(x)[0]`` maps [N, 3, H, W] floats in [0, 1] to [N, 2048, 1, 1].
    """
    if isinstance(weights, (str, Path)):
        state = torch.load(weights, map_location="cpu", weights_only=True)
    else:
        state = dict(weights)

    def local_fid_inception_v3() -> torch.nn.Module:
        return _fid_backbone(state)

    # InceptionV3.__init__ calls the module-level fid_inception_v3 (which downloads): swap in the local one.
    with mock.patch.object(pfi, "fid_inception_v3", local_fid_inception_v3):
        net = pfi.InceptionV3(
            output_blocks=[pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]],
            resize_input=True,
            normalize_input=True,
            use_fid_inception=True,
        )
    return net.eval()


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
        return {
            "backbone": "pytorch-fid 0.3.0 InceptionV3 pool3 (2048-d)",
            "weights": FID_WEIGHTS,
            "weights_sha256": self.weights_sha256,
            "resize": "F.interpolate to 299x299, bilinear, align_corners=False",
            "input_range": "[0,1] -> 2x-1",
            "covariance": "unbiased (ddof=1)",
        }
