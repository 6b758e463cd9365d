"""Validated architecture configuration of the motion auto-encoder: the one place its defaults live.

``MotionAutoEncoder(config=None, **overrides)`` builds from it and saves its fields as ``config.json``; this
pydantic model checks them at the edge so a bad value fails with a message that names the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from float_motion_ae.layers import channel_plan


class MotionAEConfig(BaseModel):
    """Sizes of the auto-encoder. Defaults: the official model (512x512, d=512, M=20, 45.24 M params)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    size: int = Field(512, description="square image side in pixels; a power of two >= 8")
    latent_dim: int = Field(512, ge=1, description="identity/motion latent size d")
    motion_dim: int = Field(20, ge=1, description="number of motion basis directions M")
    channel_base: int = Field(
        16384, ge=1, description="channels at resolution r = min(channel_max, base // r)"
    )
    channel_max: int = Field(512, ge=1, description="channel cap (official: 512)")
    motion_layers: int = Field(
        5, ge=1, description="linear layers of the motion head (official: 5, no activations)"
    )

    @field_validator("size")
    @classmethod
    def _power_of_two(cls, value: int) -> int:
        if value < 8 or value & (value - 1):
            raise ValueError(f"size must be a power of two >= 8 (e.g. 64, 256, 512), got {value}")
        return value

    @model_validator(mode="after")
    def _basis_fits(self) -> MotionAEConfig:
        if self.motion_dim > self.latent_dim:
            raise ValueError(
                f"motion_dim ({self.motion_dim}) must be <= latent_dim ({self.latent_dim}): the basis has "
                "orthonormal columns in R^latent_dim"
            )
        return self

    @classmethod
    def build(
        cls, config: MotionAEConfig | Mapping[str, Any] | None = None, **overrides: Any
    ) -> MotionAEConfig:
        """``config`` (a config, a dict of its fields, or None for the defaults) with ``overrides`` applied.

        Raises:
            pydantic.ValidationError (a ValueError): a field is invalid or unknown (the message names it).
        """
        if isinstance(config, MotionAEConfig):
            if not overrides:
                return config
            fields: dict[str, Any] = config.model_dump()
        else:
            fields = dict(config or {})
        return cls(**{**fields, **overrides})

    @property
    def log_size(self) -> int:
        return self.size.bit_length() - 1

    @property
    def num_levels(self) -> int:
        """Number of decoder levels = number of encoder feature maps (7 at 512x512: 8, 16, ..., 512)."""
        return self.log_size - 2

    def channels(self, resolution: int) -> int:
        """Channels of the feature map at ``resolution``."""
        return channel_plan(resolution, self.channel_base, self.channel_max)

    def feature_shapes(self) -> list[tuple[int, int, int]]:
        """``(C, H, W)`` of each encoder feature map, coarse to fine (8x8 first)."""
        return [(self.channels(2**i), 2**i, 2**i) for i in range(3, self.log_size + 1)]
