"""Appearance encoder: image -> identity latent + multi-scale feature maps, and the linear motion head.

Module names follow the official checkpoint (``enc.net_app.convs.*``, ``enc.fc.*``).
"""

from __future__ import annotations

import torch
from torch import nn

from float_motion_ae.config import MotionAEConfig
from float_motion_ae.layers import EqualConv2d, EqualLinear, ResBlock, conv_layer


class EncoderApp(nn.Module):
    """Convolutional trunk.

    ``convs.0``: 1x1 conv 3 -> C(size); ``convs.1..L``: residual blocks halving the resolution down to 4x4;
    last: 4x4 valid conv to a ``latent_dim`` vector.
    """

    def __init__(self, config: MotionAEConfig):
        super().__init__()
        convs: list[nn.Module] = [conv_layer(3, config.channels(config.size), 1)]
        in_ch = config.channels(config.size)
        for i in range(config.log_size, 2, -1):
            out_ch = config.channels(2 ** (i - 1))
            convs.append(ResBlock(in_ch, out_ch))
            in_ch = out_ch
        convs.append(EqualConv2d(in_ch, config.latent_dim, 4, padding=0, bias=False))
        self.convs = nn.ModuleList(convs)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """``images`` [B, 3, S, S] -> (identity [B, latent_dim], feature maps coarse to fine).

        The maps are the outputs of every block except the 4x4 one and the final vector: at 512x512,
        (512@8, 512@16, 512@32, 256@64, 128@128, 64@256, 32@512).
        """
        outputs = []
        h = images
        for conv in self.convs:
            h = conv(h)
            outputs.append(h)
        identity = outputs[-1].flatten(1)
        features = tuple(reversed(outputs[:-2]))
        return identity, features


class Encoder(nn.Module):
    """``net_app`` (trunk) + ``fc`` (linear motion head: ``motion_layers`` EqualLinears, no activations)."""

    def __init__(self, config: MotionAEConfig):
        super().__init__()
        self.net_app = EncoderApp(config)
        d = config.latent_dim
        layers = [EqualLinear(d, d) for _ in range(config.motion_layers - 1)]
        layers.append(EqualLinear(d, config.motion_dim))
        self.fc = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...], torch.Tensor]:
        """[B, 3, S, S] -> (identity [B, d], features, motion coefficients [B, M])."""
        identity, features = self.net_app(images)
        return identity, features, self.fc(identity)
