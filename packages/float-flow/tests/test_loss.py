from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace

import pytest
import torch

from float_flow import (
    ConditionDropout,
    FlowMatchingTransformer,
    LossConfig,
    WindowConditions,
    flow_matching_loss,
    velocity_loss,
)


def test_loss_is_zero_for_the_exact_velocity_and_grows_with_error() -> None:
    torch.manual_seed(0)
    target = torch.randn(4, 12, 8)
    exact = velocity_loss(target.clone(), target)
    assert float(exact.total) == 0.0 and float(exact.ot) == 0.0 and float(exact.vel) == 0.0
    noise = torch.randn(4, 12, 8)
    totals = [float(velocity_loss(target + s * noise, target).total) for s in (0.01, 0.1, 0.5, 1.0, 2.0)]
    assert all(a < b for a, b in itertools.pairwise(totals))
    # L1 is linear in the error scale.
    assert totals[-1] == pytest.approx(2 * totals[-2], rel=1e-5)


def test_velocity_term_sees_frame_differences_only() -> None:
    target = torch.randn(2, 10, 4)
    offset = velocity_loss(target + 0.7, target, lambda_vel=1.0)  # same error on every frame
    assert float(offset.ot) == pytest.approx(0.7, rel=1e-5)
    assert float(offset.vel) == pytest.approx(0.0, abs=1e-6)
    jitter = torch.zeros_like(target)
    jitter[:, ::2] = 1.0  # alternating error: every difference is +-1
    loss = velocity_loss(target + jitter, target, lambda_vel=3.0)
    assert float(loss.ot) == pytest.approx(0.5)
    assert float(loss.vel) == pytest.approx(1.0)
    assert float(loss.total) == pytest.approx(0.5 + 3.0 * 1.0)
    single = velocity_loss(target[:, :1] + 1, target[:, :1])
    assert float(single.vel) == 0.0 and float(single.total) == pytest.approx(1.0)


def test_dropout_rates_are_honoured(make_cond: Callable[..., WindowConditions]) -> None:
    n = 20_000
    cond = make_cond(batch=n, frames=3, pose_dim=6)
    config = LossConfig(p_source=0.1, p_audio=0.2, p_emotion=0.3, p_context=0.5, p_pose=0.05)
    dropped, masks = ConditionDropout(config)(cond, generator=torch.Generator().manual_seed(0))
    for name, p in [("source", 0.1), ("audio", 0.2), ("emotion", 0.3), ("context", 0.5), ("pose", 0.05)]:
        rate = float(getattr(masks, name).float().mean())
        sigma = (p * (1 - p) / n) ** 0.5
        assert abs(rate - p) < 4 * sigma, f"{name}: measured {rate:.4f}, expected {p}"
    # the masks are independent: joint rate of audio and emotion drop ~ 0.2 * 0.3
    joint = float((masks.audio & masks.emotion).float().mean())
    assert abs(joint - 0.06) < 0.01
    # dropped samples are exactly zero, kept ones untouched
    zero_source = dropped.source.abs().sum(dim=1) == 0
    assert torch.equal(zero_source, masks.source)
    assert torch.equal(dropped.source[~masks.source], cond.source[~masks.source])
    assert torch.equal(dropped.audio.abs().sum(dim=(1, 2)) == 0, masks.audio)
    # context drop removes the context latents AND their audio; audio drop keeps the context audio
    ctx_zero = (dropped.prev_motion.abs().sum(dim=(1, 2)) == 0) & (
        dropped.prev_audio.abs().sum(dim=(1, 2)) == 0
    )
    assert torch.equal(ctx_zero, masks.context)
    kept_ctx_audio = ~masks.context
    assert torch.equal(dropped.prev_audio[kept_ctx_audio], cond.prev_audio[kept_ctx_audio])
    assert dropped.pose is not None and torch.equal(dropped.pose.abs().sum(dim=(1, 2)) == 0, masks.pose)


def test_zero_probabilities_change_nothing(make_cond: Callable[..., WindowConditions]) -> None:
    cond = make_cond(batch=64)
    none = LossConfig(p_source=0, p_audio=0, p_emotion=0, p_context=0, p_pose=0)
    dropped, masks = ConditionDropout(none)(cond)
    assert not masks.context.any()
    assert torch.equal(dropped.audio, cond.audio) and torch.equal(dropped.prev_motion, cond.prev_motion)


def test_flow_matching_loss_is_reproducible_and_trainable(
    tiny_model: FlowMatchingTransformer, make_cond: Callable[..., WindowConditions]
) -> None:
    cond = make_cond(batch=4)
    motion = torch.randn(4, 12, 8)
    a = flow_matching_loss(tiny_model, motion, cond, generator=torch.Generator().manual_seed(3))
    b = flow_matching_loss(tiny_model, motion, cond, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a.total, b.total)
    assert a.total.item() == pytest.approx((a.ot + a.vel).item())
    a.total.backward()
    grads = [p.grad for p in tiny_model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    lam = flow_matching_loss(
        tiny_model,
        motion,
        cond,
        config=LossConfig(lambda_vel=2.0),
        generator=torch.Generator().manual_seed(3),
    )
    assert lam.total.item() == pytest.approx((lam.ot + 2.0 * lam.vel).item(), rel=1e-6)


def test_a_source_referenced_model_regresses_motion_measured_from_the_source(
    randomize: Callable, tiny_config: dict, make_cond: Callable[..., WindowConditions], tmp_path
) -> None:
    """motion_reference 'source' = the absolute loss on (motion - source, context - source); saved with it."""
    absolute = randomize(FlowMatchingTransformer(**tiny_config))
    relative = FlowMatchingTransformer(**tiny_config, motion_reference="source")
    relative.load_state_dict(absolute.state_dict())
    cond = make_cond(batch=4)
    motion = torch.randn(4, 12, 8)
    offset = cond.source[:, None]
    moved = replace(cond, prev_motion=cond.prev_motion - offset)
    got = flow_matching_loss(relative, motion, cond, generator=torch.Generator().manual_seed(5))
    want = flow_matching_loss(absolute, motion - offset, moved, generator=torch.Generator().manual_seed(5))
    assert torch.equal(got.total, want.total)
    plain = flow_matching_loss(absolute, motion, cond, generator=torch.Generator().manual_seed(5))
    assert not torch.equal(plain.total, got.total)
    relative.save_pretrained(tmp_path / "fmt")
    assert FlowMatchingTransformer.from_pretrained(tmp_path / "fmt").config.motion_reference == "source"
    assert absolute.config.motion_reference == "absolute"  # the default: official checkpoints load as before
