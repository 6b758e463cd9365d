from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from float_flow import FlowMatchingTransformer, WindowConditions, band_mask, sinusoidal_positions


def test_band_mask_blocks_exactly_beyond_two_frames() -> None:
    mask = band_mask(60, 2)
    assert mask.shape == (60, 60) and mask.dtype == torch.bool
    for i in range(60):
        for j in range(60):
            assert bool(mask[i, j]) == (abs(i - j) > 2)
    # each interior frame sees exactly 5 frames, the ends 3
    visible = (~mask).sum(dim=1)
    assert visible[0] == 3 and visible[1] == 4 and visible[30] == 5 and visible[-1] == 3


def test_model_mask_is_a_non_persistent_buffer(tiny_model: FlowMatchingTransformer) -> None:
    assert torch.equal(tiny_model.alignment_mask, band_mask(16, 2))
    assert "alignment_mask" not in tiny_model.state_dict()


def test_sinusoidal_positions_formula() -> None:
    table = sinusoidal_positions(60, 16)
    pos, i = 7, 3
    angle = pos / 10000 ** (2 * i / 16)
    assert float(table[pos, 2 * i]) == pytest.approx(math.sin(angle), abs=1e-6)
    assert float(table[pos, 2 * i + 1]) == pytest.approx(math.cos(angle), abs=1e-6)


def test_attention_reaches_only_the_band(
    make_cond: Callable[..., WindowConditions], tiny_config: dict, randomize: Callable
) -> None:
    """With one block, output frame i depends on input frame j only when |i - j| <= 2."""
    torch.manual_seed(0)
    model = randomize(FlowMatchingTransformer(**{**tiny_config, "depth": 1}))
    cond = make_cond(batch=1)
    x = torch.randn(1, 12, 8, requires_grad=True)
    out = model(x, torch.tensor([0.3]), cond)
    for i in range(12):
        (grad,) = torch.autograd.grad(out[0, i].sum(), x, retain_graph=True)
        reached = grad[0].abs().sum(dim=-1) > 0
        expected = torch.tensor([abs(i - j) <= 2 for j in range(12)])
        assert torch.equal(reached, expected), f"frame {i}"


def test_forward_shapes_and_finite_gradients(
    tiny_model: FlowMatchingTransformer, make_cond: Callable[..., WindowConditions]
) -> None:
    cond = make_cond(batch=3, frames=12)
    x = torch.randn(3, 12, 8)
    v = tiny_model(x, torch.rand(3), cond)
    assert v.shape == (3, 12, 8)
    v.square().mean().backward()
    grads = [p.grad for p in tiny_model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads if g is not None) > 0
    assert tiny_model.pos_embed.grad is None  # fixed positions


def test_shorter_window_and_scalar_time(
    tiny_model: FlowMatchingTransformer, make_cond: Callable[..., WindowConditions]
) -> None:
    cond = make_cond(batch=2, frames=5)
    v = tiny_model(torch.randn(2, 5, 8), 0.5, cond)
    assert v.shape == (2, 5, 8)
    v_tensor = tiny_model(torch.randn(2, 5, 8), torch.full((2,), 0.5), cond)
    assert v_tensor.shape == (2, 5, 8)


def test_dit_init_gives_a_zero_field(make_cond: Callable[..., WindowConditions], tiny_config: dict) -> None:
    torch.manual_seed(0)
    model = FlowMatchingTransformer(**tiny_config)
    v = model(torch.randn(2, 12, 8), torch.rand(2), make_cond())
    assert torch.count_nonzero(v) == 0


def test_every_condition_changes_the_output(
    tiny_model: FlowMatchingTransformer, make_cond: Callable[..., WindowConditions]
) -> None:
    cond = make_cond()
    x, t = torch.randn(2, 12, 8), torch.rand(2)
    base = tiny_model(x, t, cond)
    for name in ("source", "audio", "emotion", "prev_motion", "prev_audio"):
        changed = WindowConditions(**{**cond.__dict__, name: getattr(cond, name) + 1.0})
        assert not torch.allclose(tiny_model(x, t, changed), base), name
    assert not torch.allclose(tiny_model(x, t + 0.2, cond), base)


def test_pose_branch(
    make_cond: Callable[..., WindowConditions], tiny_config: dict, randomize: Callable
) -> None:
    torch.manual_seed(0)
    model = randomize(FlowMatchingTransformer(**{**tiny_config, "dim_pose": 6}))
    assert model.c_embedder.in_features == 8 + 6 + 7 + 6
    assert isinstance(model.pose_embedder, torch.nn.Sequential)
    cond = make_cond(pose_dim=6)
    x, t = torch.randn(2, 12, 8), torch.rand(2)
    with_pose = model(x, t, cond)
    without = model(x, t, WindowConditions(**{**cond.__dict__, "pose": None, "prev_pose": None}))
    assert with_pose.shape == (2, 12, 8) and not torch.allclose(with_pose, without)
    plain = FlowMatchingTransformer(**tiny_config)
    with pytest.raises(ValueError, match="no pose branch"):
        plain(x, t, cond)


def test_bad_inputs_name_the_problem(
    tiny_model: FlowMatchingTransformer, make_cond: Callable[..., WindowConditions]
) -> None:
    cond = make_cond()
    with pytest.raises(ValueError, match=r"1\.\.12"):
        tiny_model(torch.randn(2, 13, 8), torch.rand(2), make_cond(frames=13))
    with pytest.raises(ValueError, match="audio has 12 frames but x has 11"):
        tiny_model(torch.randn(2, 11, 8), torch.rand(2), cond)
    with pytest.raises(ValueError, match=r"t must have shape \[batch=2\]"):
        tiny_model(torch.randn(2, 12, 8), torch.rand(3), cond)
    short_ctx = WindowConditions(
        **{**cond.__dict__, "prev_motion": torch.zeros(2, 3, 8), "prev_audio": torch.zeros(2, 3, 6)}
    )
    with pytest.raises(ValueError, match="L'=4"):
        tiny_model(torch.randn(2, 12, 8), torch.rand(2), short_ctx)
    with pytest.raises(ValueError, match="emotion must have shape"):
        WindowConditions(**{**cond.__dict__, "emotion": torch.zeros(2, 1, 7)})


def test_save_load_round_trip(
    tmp_path: Path,
    tiny_model: FlowMatchingTransformer,
    make_cond: Callable[..., WindowConditions],
    tiny_config: dict,
) -> None:
    tiny_model.save_pretrained(tmp_path / "fmt")
    assert (tmp_path / "fmt" / "model.safetensors").is_file()
    saved = json.loads((tmp_path / "fmt" / "config.json").read_text())
    assert saved == {**tiny_config, "dim_pose": 0, "motion_reference": "absolute"}
    loaded = FlowMatchingTransformer.from_pretrained(tmp_path / "fmt").eval()
    assert loaded.config == tiny_model.config
    cond = make_cond()
    x, t = torch.randn(2, 12, 8), torch.rand(2)
    assert torch.equal(loaded(x, t, cond), tiny_model(x, t, cond))
    assert torch.equal(loaded.alignment_mask, tiny_model.alignment_mask)
