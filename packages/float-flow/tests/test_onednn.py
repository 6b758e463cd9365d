"""The oneDNN inference linears: same parameters, same maths within fp32 rounding, training untouched."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
import torch
from torch import nn

from float_flow import (
    FlowMatchingTransformer,
    OneDNNLinear,
    WindowConditions,
    onednn_available,
    use_onednn_linears,
)

pytestmark = pytest.mark.skipif(not onednn_available(), reason="this torch build has no oneDNN")


def linear_types(model: nn.Module) -> list[type]:
    return [type(m) for m in model.modules() if isinstance(m, nn.Linear)]


def test_switch_keeps_parameters_and_state_dict(tiny_model: FlowMatchingTransformer) -> None:
    before = {name: param for name, param in tiny_model.named_parameters()}
    state = {key: value.clone() for key, value in tiny_model.state_dict().items()}
    count = len(linear_types(tiny_model))

    assert use_onednn_linears(tiny_model, min_weights=0) == count
    assert set(linear_types(tiny_model)) == {OneDNNLinear}
    # The very same Parameter objects (an optimizer holding them keeps working) and the same saved state.
    assert all(param is before[name] for name, param in tiny_model.named_parameters())
    after = tiny_model.state_dict()
    assert after.keys() == state.keys() and all(torch.equal(after[k], state[k]) for k in state)

    assert use_onednn_linears(tiny_model, enabled=False) == count
    assert set(linear_types(tiny_model)) == {nn.Linear}


def test_only_large_layers_are_switched() -> None:
    torch.manual_seed(0)
    model = FlowMatchingTransformer(dim_motion=64, dim_hidden=512, depth=1, num_heads=4, dim_audio=64)
    switched = use_onednn_linears(model, min_weights=512 * 512)
    large = [
        m for m in model.modules() if isinstance(m, nn.Linear) and m.in_features * m.out_features >= 512**2
    ]
    assert switched == len(large) > 0
    assert all(type(m) is OneDNNLinear for m in large)
    small = model.x_embedder.proj  # 64 -> 512: below the threshold
    assert type(small) is nn.Linear


def test_inference_matches_f_linear_within_fp32_rounding(
    tiny_model: FlowMatchingTransformer, make_cond: Callable[..., WindowConditions]
) -> None:
    cond = make_cond(batch=3, frames=12)
    cond64 = cond.to("cpu", dtype=torch.float64)
    x, t = torch.randn(3, 12, 8, generator=torch.Generator().manual_seed(2)), torch.tensor([0.1, 0.5, 0.9])
    model64 = copy.deepcopy(tiny_model).double()
    with torch.inference_mode():
        reference = tiny_model(x, t, cond)
        reference64 = model64(x.double(), t.double(), cond64)
        use_onednn_linears(tiny_model, min_weights=0)
        use_onednn_linears(model64, min_weights=0)
        fast = tiny_model(x, t, cond)
        # float64 falls back to F.linear: bit-identical to never switching.
        fast64 = model64(x.double(), t.double(), cond64)
    scale = reference64.abs().max().item()
    assert not torch.equal(fast, reference)  # it did run another kernel
    assert (fast.double() - reference64).abs().max().item() <= 1e-5 * scale
    assert (fast.double() - reference64).abs().max() <= 4 * (
        reference.double() - reference64
    ).abs().max() + 1e-7
    assert torch.equal(fast64, reference64)


def test_training_through_a_switched_model_is_bit_identical(
    tiny_model: FlowMatchingTransformer, make_cond: Callable[..., WindowConditions]
) -> None:
    cond = make_cond(batch=2, frames=12)
    x, t = torch.randn(2, 12, 8, generator=torch.Generator().manual_seed(3)), torch.tensor([0.2, 0.7])

    def loss_and_grads() -> tuple[torch.Tensor, list[torch.Tensor]]:
        tiny_model.zero_grad()
        loss = tiny_model(x, t, cond).square().mean()
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in tiny_model.parameters() if p.grad is not None]

    loss, grads = loss_and_grads()
    use_onednn_linears(tiny_model, min_weights=0)
    switched_loss, switched_grads = loss_and_grads()
    assert torch.equal(loss, switched_loss)
    assert len(grads) == len(switched_grads) and all(map(torch.equal, grads, switched_grads))


def test_nothing_is_switched_without_onednn(
    tiny_model: FlowMatchingTransformer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: False)
    assert use_onednn_linears(tiny_model, min_weights=0) == 0
    assert set(linear_types(tiny_model)) == {nn.Linear}
