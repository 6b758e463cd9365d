"""``default_renderer``: the fastest renderer this PyTorch build supports."""

from __future__ import annotations

import torch

from float_motion_ae.renderers.base import BatchStrategy, Renderer
from float_motion_ae.renderers.channels_last import ChannelsLastRenderer
from float_motion_ae.renderers.fused import FusedRenderer
from float_motion_ae.renderers.kernels import winograd_available


def default_renderer(batch: BatchStrategy = "auto") -> Renderer:
    """``ChannelsLastRenderer`` where PyTorch has oneDNN (mkldnn; the PyPI wheels), else
    ``FusedRenderer(winograd=True)`` where it bundles NNPACK, else ``FusedRenderer()``; each with ``batch``.

    What a new model or decoder layer starts with. All of them run the official formulation whenever a
    gradient is needed or the tensors are not on the CPU.
    """
    if torch.backends.mkldnn.is_available():
        return ChannelsLastRenderer(batch=batch)
    return FusedRenderer(winograd=winograd_available(), batch=batch)
