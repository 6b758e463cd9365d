"""SyncNet v2 (Chung & Zisserman 2016) with the module and parameter names of syncnet_python's ``S``.

``syncnet_v2.model`` is a plain state dict for this module (keys ``netcnnaud.*``, ``netfcaud.*``,
``netcnnlip.*``, ``netfclip.*``), so it loads strictly with :func:`load_syncnet`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

__all__ = ["SYNCNET_WEIGHTS", "SyncNet", "load_syncnet"]

SYNCNET_WEIGHTS = "syncnet_v2.model"


def _bn_relu2d(channels: int) -> list[nn.Module]:
    return [nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]


def _bn_relu3d(channels: int) -> list[nn.Module]:
    return [nn.BatchNorm3d(channels), nn.ReLU(inplace=True)]


def _fc(out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, out_dim))


class SyncNet(nn.Module):
    """Two-stream audio/lip embedding network.

    ``forward_aud``: MFCC windows [B, 1, 13, 20] (13 coefficients x 20 steps of 10 ms) -> [B, embed_dim].
    ``forward_lip``: face crops [B, 3, 5, 224, 224] (5 frames at 25 fps, BGR, values in [0, 255]) ->
    [B, embed_dim].
    """

    def __init__(self, embed_dim: int = 1024) -> None:
        super().__init__()
        self.netcnnaud = nn.Sequential(
            nn.Conv2d(1, 64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)),
            *_bn_relu2d(64),
            nn.MaxPool2d(kernel_size=(1, 1), stride=(1, 1)),
            nn.Conv2d(64, 192, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)),
            *_bn_relu2d(192),
            nn.MaxPool2d(kernel_size=(3, 3), stride=(1, 2)),
            nn.Conv2d(192, 384, kernel_size=(3, 3), padding=(1, 1)),
            *_bn_relu2d(384),
            nn.Conv2d(384, 256, kernel_size=(3, 3), padding=(1, 1)),
            *_bn_relu2d(256),
            nn.Conv2d(256, 256, kernel_size=(3, 3), padding=(1, 1)),
            *_bn_relu2d(256),
            nn.MaxPool2d(kernel_size=(3, 3), stride=(2, 2)),
            nn.Conv2d(256, 512, kernel_size=(5, 4), padding=(0, 0)),
            nn.BatchNorm2d(512),
            nn.ReLU(),
        )
        self.netfcaud = _fc(embed_dim)
        self.netfclip = _fc(embed_dim)
        self.netcnnlip = nn.Sequential(
            nn.Conv3d(3, 96, kernel_size=(5, 7, 7), stride=(1, 2, 2), padding=0),
            *_bn_relu3d(96),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2)),
            nn.Conv3d(96, 256, kernel_size=(1, 5, 5), stride=(1, 2, 2), padding=(0, 1, 1)),
            *_bn_relu3d(256),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
            nn.Conv3d(256, 256, kernel_size=(1, 3, 3), padding=(0, 1, 1)),
            *_bn_relu3d(256),
            nn.Conv3d(256, 256, kernel_size=(1, 3, 3), padding=(0, 1, 1)),
            *_bn_relu3d(256),
            nn.Conv3d(256, 256, kernel_size=(1, 3, 3), padding=(0, 1, 1)),
            *_bn_relu3d(256),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2)),
            nn.Conv3d(256, 512, kernel_size=(1, 6, 6), padding=0),
            *_bn_relu3d(512),
        )

    def forward_aud(self, x: torch.Tensor) -> torch.Tensor:
        """MFCC [B, 1, 13, 20] -> audio embedding [B, embed_dim]."""
        mid = self.netcnnaud(x)
        return self.netfcaud(mid.reshape(mid.shape[0], -1))

    def forward_lip(self, x: torch.Tensor) -> torch.Tensor:
        """Face crops [B, 3, 5, 224, 224] (BGR, 0..255) -> lip embedding [B, embed_dim]."""
        mid = self.netcnnlip(x)
        return self.netfclip(mid.reshape(mid.shape[0], -1))


def load_syncnet(path: str | Path) -> SyncNet:
    """SyncNet in eval mode with the weights of ``syncnet_v2.model`` (loaded strictly)."""
    net = SyncNet()
    state = torch.load(path, map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    return net.eval()
