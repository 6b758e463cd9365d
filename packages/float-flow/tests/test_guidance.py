from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from float_flow import FlowMatchingTransformer, IncrementalGuidance, WindowConditions, guidance_weights


class CountingModel(torch.nn.Module):
    """Wraps a model and records the batch size of every forward."""

    def __init__(self, model: FlowMatchingTransformer) -> None:
        super().__init__()
        self.model = model
        self.batches: list[int] = []

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: WindowConditions) -> torch.Tensor:
        self.batches.append(int(x.shape[0]))
        return self.model(x, t, cond)


def test_weights_drop_zero_terms() -> None:
    assert guidance_weights(1.0, 1.0) == {"full": 1.0}
    assert guidance_weights(1.0, 3.0) == {"audio": -2.0, "full": 3.0}
    assert guidance_weights(2.0, 1.0) == {"null": -1.0, "audio": 1.0, "full": 1.0}
    assert guidance_weights(2.0, 2.0) == {"null": -1.0, "full": 2.0}
    for g_a, g_e in [(2.0, 1.0), (5.0, 7.0), (0.0, 0.0)]:
        assert sum(guidance_weights(g_a, g_e).values()) == pytest.approx(1.0)


def test_unit_scales_are_the_plain_conditional_field_in_one_forward(
    tiny_model: FlowMatchingTransformer, make_cond: Callable[..., WindowConditions]
) -> None:
    cond = make_cond(batch=2)
    x, t = torch.randn(2, 12, 8), torch.rand(2)
    spy = CountingModel(tiny_model)
    v = IncrementalGuidance(spy)(x, t, cond, audio_scale=1.0, emotion_scale=1.0)
    assert spy.batches == [2]  # no extra batch entries
    assert torch.equal(v, tiny_model(x, t, cond))


def test_guided_field_equals_the_formula_from_three_forwards(
    tiny_model: FlowMatchingTransformer, make_cond: Callable[..., WindowConditions]
) -> None:
    cond = make_cond(batch=2)
    x, t = torch.randn(2, 12, 8), torch.rand(2)
    g_a, g_e = 2.0, 1.5
    v00 = tiny_model(x, t, cond.null_audio().null_emotion())
    va0 = tiny_model(x, t, cond.null_emotion())
    vae = tiny_model(x, t, cond)
    formula = v00 + g_a * (va0 - v00) + g_e * (vae - va0)
    spy = CountingModel(tiny_model)
    batched = IncrementalGuidance(spy)(x, t, cond, audio_scale=g_a, emotion_scale=g_e)
    assert spy.batches == [6]  # ONE forward on a 3x batch
    assert torch.allclose(batched, formula, atol=1e-5)
    separate = IncrementalGuidance(tiny_model, batched=False)(x, t, cond, audio_scale=g_a, emotion_scale=g_e)
    assert torch.allclose(separate, formula, atol=1e-5)
    # the guidance moves the field away from the conditional one
    assert (batched - vae).abs().max() > 1e-2


def test_audio_scale_one_needs_two_entries(
    tiny_model: FlowMatchingTransformer, make_cond: Callable[..., WindowConditions]
) -> None:
    cond = make_cond(batch=3)
    x, t = torch.randn(3, 12, 8), torch.rand(3)
    spy = CountingModel(tiny_model)
    v = IncrementalGuidance(spy)(x, t, cond, audio_scale=1.0, emotion_scale=4.0)
    assert spy.batches == [6]
    va0, vae = tiny_model(x, t, cond.null_emotion()), tiny_model(x, t, cond)
    assert torch.allclose(v, va0 + 4.0 * (vae - va0), atol=1e-5)


def test_null_conditions_keep_source_and_context(make_cond: Callable[..., WindowConditions]) -> None:
    cond = make_cond()
    null = cond.null_audio().null_emotion()
    assert torch.count_nonzero(null.audio) == 0 and torch.count_nonzero(null.emotion) == 0
    assert torch.equal(null.source, cond.source)
    assert torch.equal(null.prev_motion, cond.prev_motion) and torch.equal(null.prev_audio, cond.prev_audio)
