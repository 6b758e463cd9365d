"""Optional StyleGAN2-style discriminator and its losses (LIA's adversarial term).

The official FLOAT release contains no discriminator; this one is for training our own auto-encoder.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from float_motion_ae.layers import EqualLinear, FusedLeakyReLU, ResBlock, channel_plan, conv_layer


class Discriminator(nn.Module, PyTorchModelHubMixin, library_name="float-kit", license="apache-2.0"):
    """Residual discriminator: images [B, 3, S, S] in [-1, 1] -> real/fake logits [B].

    1x1 conv, residual blocks down to 4x4, minibatch standard deviation (one extra channel), 3x3 conv,
    then two linear layers. Channels follow the auto-encoder's plan ``min(channel_max, channel_base // r)``.

    Args:
        size: image side S (power of two >= 8), the auto-encoder's ``config.size``.
        channel_base, channel_max: the channel plan (e.g. the auto-encoder's, ``config.channel_base`` and
            ``config.channel_max``; the official plan is 16384 and 512).
        stddev_group: samples per minibatch-stddev group.
    """

    def __init__(self, size: int, channel_base: int, channel_max: int, stddev_group: int = 4):
        super().__init__()
        if size < 8 or size & (size - 1):
            raise ValueError(f"size must be a power of two >= 8, got {size}")
        self.size = size
        self.stddev_group = stddev_group
        log_size = size.bit_length() - 1
        in_ch = channel_plan(size, channel_base, channel_max)
        blocks: list[nn.Module] = [conv_layer(3, in_ch, 1)]
        for i in range(log_size, 2, -1):
            out_ch = channel_plan(2 ** (i - 1), channel_base, channel_max)
            blocks.append(ResBlock(in_ch, out_ch))
            in_ch = out_ch
        self.convs = nn.Sequential(*blocks)
        self.final_conv = conv_layer(in_ch + 1, in_ch, 3)
        self.final_linear = nn.Sequential(
            EqualLinear(in_ch * 4 * 4, in_ch, bias=True), FusedLeakyReLUVector(in_ch), EqualLinear(in_ch, 1)
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """[B, 3, S, S] -> logits [B] (positive = judged real)."""
        if images.ndim != 4 or images.shape[1:] != (3, self.size, self.size):
            raise ValueError(
                f"images must have shape [B, 3, {self.size}, {self.size}]; got {list(images.shape)}"
            )
        out = self.convs(images)
        batch, channels, height, width = out.shape
        group = math.gcd(batch, self.stddev_group)
        # Minibatch stddev: lets the discriminator see sample diversity, which discourages mode collapse.
        y = out.view(group, -1, 1, channels, height, width)
        std = torch.sqrt(y.var(0, unbiased=False) + 1e-8).mean(dim=(2, 3, 4), keepdim=True).squeeze(2)
        std = std.repeat(group, 1, height, width)
        out = self.final_conv(torch.cat([out, std], dim=1))
        return self.final_linear(out.flatten(1)).squeeze(1)


class FusedLeakyReLUVector(FusedLeakyReLU):
    """``FusedLeakyReLU`` for [B, C] vectors (bias stored as [1, C, 1, 1] like the conv version)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x + self.bias.view(1, -1), self.negative_slope) * self.gain


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Logistic discriminator loss ``softplus(-D(real)) + softplus(D(fake))``, averaged; scalar."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_adversarial_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss ``softplus(-D(fake))``, averaged; scalar."""
    return F.softplus(-fake_logits).mean()


def r1_penalty(real_logits: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """R1 regulariser ``E ||d D(real) / d real||^2`` (``real_images`` must have ``requires_grad=True``).

    Multiply by ``gamma / 2`` (and by the lazy-regularisation interval if applied every k steps).
    """
    if not real_images.requires_grad:
        raise ValueError("r1_penalty needs real_images.requires_grad_(True) before the discriminator call")
    (grad,) = torch.autograd.grad(real_logits.sum(), real_images, create_graph=True)
    return grad.square().flatten(1).sum(1).mean()
