from __future__ import annotations

import pytest
from pydantic import ValidationError

from float_flow import LossConfig, SamplerConfig, TransformerConfig


def test_transformer_defaults_are_the_paper_model() -> None:
    cfg = TransformerConfig()
    assert (cfg.dim_motion, cfg.dim_hidden, cfg.depth, cfg.num_heads, cfg.mlp_ratio) == (512, 1024, 8, 8, 4.0)
    assert (cfg.num_frames, cfg.num_prev_frames, cfg.attention_window) == (50, 10, 2)
    assert cfg.num_tokens == 60
    assert cfg.dim_condition == 512 + 512 + 7
    assert TransformerConfig(dim_pose=6).dim_condition == 512 + 512 + 7 + 6


def test_transformer_config_rejects_bad_heads() -> None:
    with pytest.raises(ValidationError, match="not divisible by num_heads"):
        TransformerConfig(dim_hidden=30, num_heads=4)


def test_loss_defaults_are_the_paper_values() -> None:
    cfg = LossConfig()
    assert cfg.lambda_vel == 1.0
    assert (cfg.p_source, cfg.p_audio, cfg.p_emotion, cfg.p_context) == (0.1, 0.1, 0.1, 0.5)
    with pytest.raises(ValidationError):
        LossConfig(p_audio=1.5)


def test_sampler_official_preset_is_nine_euler_steps() -> None:
    official = SamplerConfig.official()
    assert official.method == "euler"
    assert official.nfe == 9 and official.num_steps == 9
    assert SamplerConfig(method="midpoint", nfe=10).num_steps == 5
    with pytest.raises(ValidationError, match="nfe must be even"):
        SamplerConfig(method="midpoint", nfe=9)
