"""The conditions of one window, bundled so the model, loss, guidance and windowing pass one object."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor


@dataclass(frozen=True)
class WindowConditions:
    """Everything the transformer is conditioned on for one window of ``N`` current frames.

    Shapes (``B`` batch, ``P`` = L' context frames, ``N`` <= L current frames, 25 fps):

    - ``source``: [B, d] source (reference) motion latent, repeated over every frame.
    - ``audio``: [B, N, d_a] frame-aligned audio features of the current frames.
    - ``emotion``: [B, d_e] emotion distribution of this window (7 classes, sums to 1; zeros = null).
    - ``prev_motion``: [B, P, d] clean context latents (previous window's last frames, or zeros).
    - ``prev_audio``: [B, P, d_a] audio features of the context frames.
    - ``pose`` / ``prev_pose``: optional [B, N, p] / [B, P, p] head pose (paper: p = 6), only for a model
      built with ``dim_pose > 0``; ``None`` there means "unknown pose" and is fed as zeros.

    A "null" condition is all zeros, as in training's condition dropout and the official guidance.
    """

    source: Tensor
    audio: Tensor
    emotion: Tensor
    prev_motion: Tensor
    prev_audio: Tensor
    pose: Tensor | None = None
    prev_pose: Tensor | None = None

    def __post_init__(self) -> None:
        B = self.source.shape[0]
        if self.source.ndim != 2:
            raise ValueError(f"source must have shape [B, d], got {tuple(self.source.shape)}")
        for name in ("audio", "prev_motion", "prev_audio"):
            value = getattr(self, name)
            if value.ndim != 3 or value.shape[0] != B:
                raise ValueError(f"{name} must have shape [B={B}, frames, dim], got {tuple(value.shape)}")
        if self.emotion.ndim != 2 or self.emotion.shape[0] != B:
            raise ValueError(f"emotion must have shape [B={B}, d_e], got {tuple(self.emotion.shape)}")
        if self.prev_motion.shape[1] != self.prev_audio.shape[1]:
            raise ValueError(
                f"prev_motion has {self.prev_motion.shape[1]} frames but prev_audio has "
                f"{self.prev_audio.shape[1]}: both describe the same context frames"
            )
        if (self.pose is None) != (self.prev_pose is None):
            raise ValueError("pass both pose and prev_pose, or neither")
        if self.pose is not None and self.prev_pose is not None:
            if self.pose.shape[:2] != self.audio.shape[:2]:
                raise ValueError(
                    f"pose must have shape [B, N, p] matching audio {tuple(self.audio.shape[:2])}, "
                    f"got {tuple(self.pose.shape)}"
                )
            if self.prev_pose.shape[:2] != self.prev_audio.shape[:2]:
                raise ValueError(
                    f"prev_pose must have shape [B, P, p] matching prev_audio "
                    f"{tuple(self.prev_audio.shape[:2])}, got {tuple(self.prev_pose.shape)}"
                )

    @property
    def batch_size(self) -> int:
        return int(self.source.shape[0])

    @property
    def num_frames(self) -> int:
        """N: current frames described by ``audio``."""
        return int(self.audio.shape[1])

    def null_audio(self) -> WindowConditions:
        """Same window with the current audio zeroed (context audio and motion are kept, as officially)."""
        return replace(self, audio=torch.zeros_like(self.audio))

    def null_emotion(self) -> WindowConditions:
        """Same window with the emotion vector zeroed."""
        return replace(self, emotion=torch.zeros_like(self.emotion))

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> WindowConditions:
        """Move every tensor to ``device`` (and float ``dtype`` if given)."""

        def move(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.to(device=device, dtype=dtype)

        return WindowConditions(
            source=self.source.to(device=device, dtype=dtype),
            audio=self.audio.to(device=device, dtype=dtype),
            emotion=self.emotion.to(device=device, dtype=dtype),
            prev_motion=self.prev_motion.to(device=device, dtype=dtype),
            prev_audio=self.prev_audio.to(device=device, dtype=dtype),
            pose=move(self.pose),
            prev_pose=move(self.prev_pose),
        )

    @staticmethod
    def cat(items: list[WindowConditions]) -> WindowConditions:
        """Concatenate several condition sets along the batch axis (guidance's one batched forward)."""
        if not items:
            raise ValueError("cat needs at least one WindowConditions")
        has_pose = items[0].pose is not None
        if any((c.pose is not None) != has_pose for c in items):
            raise ValueError("cannot concatenate conditions with and without pose")

        def cat_field(name: str) -> Tensor:
            return torch.cat([getattr(c, name) for c in items], dim=0)

        return WindowConditions(
            source=cat_field("source"),
            audio=cat_field("audio"),
            emotion=cat_field("emotion"),
            prev_motion=cat_field("prev_motion"),
            prev_audio=cat_field("prev_audio"),
            pose=cat_field("pose") if has_pose else None,
            prev_pose=cat_field("prev_pose") if has_pose else None,
        )
