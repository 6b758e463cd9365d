"""FLOAT's training objective: L_OT + lambda * L_vel on the current frames, with condition dropout."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from float_flow.conditions import WindowConditions
from float_flow.config import LossConfig
from float_flow.path import interpolate, sample_noise, sample_time, target_velocity


@dataclass(frozen=True)
class LossBreakdown:
    """Scalar losses of one batch: ``total = ot + lambda_vel * vel``."""

    total: Tensor
    ot: Tensor
    vel: Tensor


@dataclass(frozen=True)
class DropoutMasks:
    """[B] booleans, True where that condition was zeroed for that sample."""

    source: Tensor
    audio: Tensor
    emotion: Tensor
    context: Tensor
    pose: Tensor


def velocity_loss(pred: Tensor, target: Tensor, lambda_vel: float = 1.0) -> LossBreakdown:
    """L1 on the velocity (L_OT) plus L1 on its frame-to-frame differences (L_vel).

    Args:
        pred, target: [B, N, d] predicted and true velocities of the N current frames.
        lambda_vel: weight of L_vel (paper: 1). With N = 1 there is no difference and L_vel = 0.
    """
    if pred.shape != target.shape or pred.ndim != 3:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} must both be [B, N, d]")
    ot = (pred - target).abs().mean()
    # A single frame has no frame-to-frame difference, so L_vel is 0 there.
    vel = (pred.diff(dim=1) - target.diff(dim=1)).abs().mean() if pred.shape[1] > 1 else pred.new_zeros(())
    return LossBreakdown(total=ot + lambda_vel * vel, ot=ot, vel=vel)


class ConditionDropout:
    """Zeroes each condition per sample with its own probability (the null condition guidance uses).

    - source: the source motion; audio: the current frames' audio (the context audio is kept, as the
      official guidance keeps it); emotion: the emotion vector; pose: current and context pose.
    - context: the context latents AND their audio, which is exactly the official first window's
      all-zero context, so the model learns to start a clip from nothing.
    """

    def __init__(self, config: LossConfig | None = None) -> None:
        self.config = config or LossConfig()

    def __call__(
        self, cond: WindowConditions, *, generator: torch.Generator | None = None
    ) -> tuple[WindowConditions, DropoutMasks]:
        B = cond.batch_size
        device = cond.source.device
        cfg = self.config

        def draw(p: float) -> Tensor:
            return torch.rand(B, generator=generator, device=device) < p

        masks = DropoutMasks(
            source=draw(cfg.p_source),
            audio=draw(cfg.p_audio),
            emotion=draw(cfg.p_emotion),
            context=draw(cfg.p_context),
            pose=draw(cfg.p_pose),
        )

        def zero(value: Tensor, mask: Tensor) -> Tensor:
            keep = (~mask).reshape(-1, *([1] * (value.ndim - 1))).to(value.dtype)
            return value * keep

        def zero_optional(value: Tensor | None, mask: Tensor) -> Tensor | None:
            return None if value is None else zero(value, mask)

        dropped = replace(
            cond,
            source=zero(cond.source, masks.source),
            audio=zero(cond.audio, masks.audio),
            emotion=zero(cond.emotion, masks.emotion),
            prev_motion=zero(cond.prev_motion, masks.context),
            prev_audio=zero(cond.prev_audio, masks.context),
            pose=zero_optional(cond.pose, masks.pose),
            prev_pose=zero_optional(cond.prev_pose, masks.pose),
        )
        return dropped, masks


def flow_matching_loss(
    model: nn.Module,
    motion: Tensor,
    cond: WindowConditions,
    *,
    config: LossConfig | None = None,
    generator: torch.Generator | None = None,
) -> LossBreakdown:
    """One training loss evaluation: sample t and noise, build x_t, drop conditions, regress the velocity.

    Args:
        model: a :class:`~float_flow.FlowMatchingTransformer` (any ``model(x, t, cond) -> v``); its
            ``motion_origin(source)`` is subtracted from ``motion`` and the context first, when it has one.
        motion: [B, N, d] ground-truth current latents x_1 (the clean context is ``cond.prev_motion``).
        cond: the window's conditions (clean, before dropout).
        config: lambda_vel and dropout probabilities (paper defaults).
        generator: source of t, noise and dropout draws (seed it for reproducible steps).
    """
    config = config or LossConfig()
    origin = getattr(model, "motion_origin", None)
    if origin is not None:
        # motion_reference "source": the model regresses motion measured from the source, context included
        offset = origin(cond.source)
        motion = motion - offset
        cond = replace(cond, prev_motion=cond.prev_motion - offset)
    B = motion.shape[0]
    t = sample_time(B, generator=generator, device=motion.device)
    x0 = sample_noise(tuple(motion.shape), generator=generator, device=motion.device, dtype=motion.dtype)
    xt = interpolate(x0, motion, t)
    dropped, _ = ConditionDropout(config)(cond, generator=generator)
    pred = model(xt, t, dropped)
    return velocity_loss(pred, target_velocity(x0, motion), config.lambda_vel)
