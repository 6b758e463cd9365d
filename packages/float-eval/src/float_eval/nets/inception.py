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

__all__ = ["FID_WEIGHTS", "build_fid_inception", "fid_inception_state_keys"]

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
