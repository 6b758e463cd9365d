"""Paired augmentation for auto-encoder training: one random transform per pair, applied to both frames.

With few identities a small auto-encoder learns to read motion from *these* faces. Giving every (source,
driving) pair its own colour and layout, the same for both frames so the motion between them is unchanged,
makes the motion encoder read the change between the frames rather than the face: on FLOAT-kit's demo
corpus (4 identities, docs/experiments/) it lifted an unseen portrait's reconstruction from 18.5 dB
to 21-22 dB without hurting a training identity.

Two further knobs (off by default) attack what still fails there, reading an unfamiliar face's pose: ``shape``
gives every pair its own smooth face-geometry change (the same on both frames), and ``drive_*`` gives the
driving frame a pose change of its own, so every face is seen in many more poses than the corpus renders.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["PairAugment", "augment_pair"]


class PairAugment(BaseModel):
    """Strengths of the paired augmentation (all 0 / False = off)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel_mix: float = Field(0.15, ge=0, description="std of the noise on the identity 3x3 colour matrix")
    gain: float = Field(0.2, ge=0, description="std of the brightness gain around 1")
    offset: float = Field(0.15, ge=0, description="std of the per-channel offset ([-1, 1] image scale)")
    flip: bool = Field(True, description="mirror half of the pairs left-right")
    scale: float = Field(0.0, ge=0, lt=1, description="uniform zoom in [1 - scale, 1 + scale]")
    roll_deg: float = Field(0.0, ge=0, le=45, description="uniform roll in [-roll, roll] degrees")
    shift: float = Field(0.0, ge=0, lt=1, description="uniform shift in [-shift, shift] of the half-width")
    shape: float = Field(
        0.0,
        ge=0,
        lt=0.5,
        description="std of a smooth random displacement (fraction of the half-width) that reshapes the "
        "face: a new face geometry per pair, the same on both frames",
    )
    shape_grid: int = Field(4, ge=2, le=16, description="control points per side of the shape displacement")
    drive_scale: float = Field(0.0, ge=0, lt=1, description="extra zoom of the driving frame only")
    drive_roll_deg: float = Field(0.0, ge=0, le=45, description="extra roll of the driving frame, degrees")
    drive_shift: float = Field(0.0, ge=0, lt=1, description="extra shift of the driving frame only")

    @property
    def moves_driving(self) -> bool:
        """Whether the driving frame gets a pose change of its own (the pair's motion then grows)."""
        return self.drive_scale > 0 or self.drive_roll_deg > 0 or self.drive_shift > 0


def _uniform(count: int, half_width: float, generator: torch.Generator, *shape: int) -> torch.Tensor:
    return half_width * (2 * torch.rand(count, *shape, generator=generator) - 1)


def _similarity(zoom: torch.Tensor, angle: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """[B, 2, 3] ``affine_grid`` matrices: zoom by ``zoom``, roll by ``angle`` (radians), shift [B, 2]."""
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    return torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)


def augment_pair(
    source: torch.Tensor, driving: torch.Tensor, settings: PairAugment, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply one random colour + layout transform per pair to ``source`` and ``driving``.

    Args:
        source, driving: ``[B, 3, S, S]`` images in [-1, 1] (any device).
        settings: the strengths.
        generator: a CPU generator (the random draws are made on the CPU, so runs are seeded alike on any
            device).

    Returns:
        The two transformed batches, same shapes, clamped to [-1, 1].
    """
    if source.shape != driving.shape:
        raise ValueError(f"source {list(source.shape)} and driving {list(driving.shape)} must match")
    batch, device = source.shape[0], source.device
    mix = torch.eye(3) + settings.channel_mix * torch.randn(batch, 3, 3, generator=generator)
    gain = 1.0 + settings.gain * torch.randn(batch, 1, 1, generator=generator)
    offset = settings.offset * torch.randn(batch, 3, 1, 1, generator=generator)
    flip = torch.rand(batch, generator=generator) < (0.5 if settings.flip else 0.0)
    zoom = 1.0 + _uniform(batch, settings.scale, generator)
    angle = _uniform(batch, math.radians(settings.roll_deg), generator)
    shift = _uniform(batch, settings.shift, generator, 2)
    # Drawn only when used, so recipes without it keep the random stream they were trained with.
    g = settings.shape_grid
    knots = settings.shape * torch.randn(batch, 2, g, g, generator=generator) if settings.shape > 0 else None
    colour = (mix * gain).to(device)
    offset, flip = offset.to(device), flip.to(device)
    theta = _similarity(zoom, angle, shift).to(device, source.dtype)
    drive = None
    if settings.moves_driving:
        drive = _similarity(
            1.0 + _uniform(batch, settings.drive_scale, generator),
            _uniform(batch, math.radians(settings.drive_roll_deg), generator),
            _uniform(batch, settings.drive_shift, generator, 2),
        ).to(device, source.dtype)
    moves = settings.scale > 0 or settings.roll_deg > 0 or settings.shift > 0
    moves = moves or knots is not None or drive is not None
    grid = F.affine_grid(theta, list(source.shape), align_corners=False) if moves else None
    if grid is not None and knots is not None:
        # A few random control points, bicubically interpolated: a displacement smooth at the scale of eyes
        # and mouth, so each pair shows a plausible other face shape rather than pixel noise.
        field = F.interpolate(knots, size=source.shape[-2:], mode="bicubic", align_corners=True)
        grid = grid + field.permute(0, 2, 3, 1).to(device, source.dtype)

    drive_grid = grid
    if drive is not None and grid is not None:
        # The driving frame's own pose change composed with the shared transform into one sampling grid
        # (resampling the grid, not the image), so the driving frame is interpolated once, like the source.
        inner = F.affine_grid(drive, list(source.shape), align_corners=False)
        drive_grid = F.grid_sample(
            grid.permute(0, 3, 1, 2), inner, mode="bilinear", padding_mode="border", align_corners=False
        ).permute(0, 2, 3, 1)

    def apply(images: torch.Tensor, sampling: torch.Tensor | None) -> torch.Tensor:
        out = torch.einsum("bij,bjhw->bihw", colour, images) + offset
        out = torch.where(flip[:, None, None, None], out.flip(-1), out)
        if sampling is not None:
            # Border padding: the crop's edge pixels extend outwards instead of black bars entering the frame.
            out = F.grid_sample(out, sampling, mode="bilinear", padding_mode="border", align_corners=False)
        return out.clamp(-1, 1)

    return apply(source, grid), apply(driving, drive_grid)
