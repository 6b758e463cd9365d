"""The core package: what importing it pulls in, where the config defaults live, how renderers are swapped."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from float_motion_ae import (
    ChannelsLastRenderer,
    FusedRenderer,
    MotionAEConfig,
    MotionAutoEncoder,
    ReferenceRenderer,
    Renderer,
    default_renderer,
)
from float_motion_ae.decoder import RenderedModule

TINY = {"size": 32, "latent_dim": 32, "motion_dim": 8, "channel_base": 512, "channel_max": 32}

PROBE = """
import ctypes, ctypes.util, json, sys, tempfile
import torch
touched = []
find_library = ctypes.util.find_library
ctypes.util.find_library = lambda name: touched.append(name) or find_library(name)
import float_motion_ae
model = float_motion_ae.MotionAutoEncoder(size=16, latent_dim=8, motion_dim=2, channel_base=64, channel_max=8)
with tempfile.TemporaryDirectory() as folder:
    model.save_pretrained(folder)
    loaded = float_motion_ae.MotionAutoEncoder.from_pretrained(folder).eval()
with torch.no_grad():
    enc = loaded.encode(torch.zeros(1, 3, 16, 16))
    loaded.decode(enc.identity, loaded.motion(enc.coeffs), enc.features)
print(json.dumps({"modules": sorted(sys.modules), "libc": touched}))
"""


def test_import_and_from_pretrained_leave_the_process_alone() -> None:
    """``import float_motion_ae`` imports neither the training parts nor lpips, and loading and decoding a
    model never reach for libc (the malloc tuning is the caller's explicit ``tune_cpu_allocator()``)."""
    probe = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=False)
    assert probe.returncode == 0, probe.stderr
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    assert "lpips" not in report["modules"]
    assert not [m for m in report["modules"] if m.startswith("float_motion_ae.training")]
    assert report["libc"] == []


def test_config_defaults_live_in_the_config() -> None:
    assert MotionAutoEncoder.__init__.__kwdefaults__ is None  # no second copy of the defaults
    assert MotionAEConfig.build() == MotionAEConfig()  # the official model
    config = MotionAEConfig(**TINY)
    assert MotionAutoEncoder(config).config is config
    assert MotionAutoEncoder(**TINY).config == config
    assert MotionAutoEncoder(dict(TINY)).config == config  # a dict, as config.json holds
    narrow = MotionAutoEncoder(config, motion_layers=2).config  # overrides win over the config
    assert narrow == MotionAEConfig(**{**TINY, "motion_layers": 2})
    with pytest.raises(ValueError, match="latent_dims"):
        MotionAutoEncoder(config, latent_dims=8)
    with pytest.raises(ValueError, match="size must be a power of two"):
        MotionAutoEncoder(config, size=48)


def test_config_json_is_the_flat_field_dict_and_old_files_load(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = MotionAutoEncoder(MotionAEConfig(**TINY), motion_layers=2)
    model.save_pretrained(tmp_path / "new")
    written = (tmp_path / "new" / "config.json").read_text()
    assert written == json.dumps({**TINY, "motion_layers": 2}, sort_keys=True, indent=2)
    # A folder written before the config argument existed: the same flat file, read back unchanged.
    old = tmp_path / "old"
    old.mkdir()
    (old / "config.json").write_text(written)
    (old / "model.safetensors").write_bytes((tmp_path / "new" / "model.safetensors").read_bytes())
    loaded = MotionAutoEncoder.from_pretrained(old)
    assert loaded.config == model.config
    state, saved = loaded.state_dict(), model.state_dict()
    assert all(torch.equal(state[k], saved[k]) for k in saved)


def test_set_renderer_reaches_every_rendered_layer_and_is_not_state(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = MotionAutoEncoder(**TINY)
    layers = [m for m in model.modules() if isinstance(m, RenderedModule)]
    # the decoder, conv1 and its conv, then per level (8, 16, 32): 2 styled convs and their convs, 1 flow conv
    assert len(layers) == 1 + 2 + 3 * (2 * 2 + 1)
    assert model.renderer == default_renderer()
    renderer = FusedRenderer(winograd=True, batch="activations")
    model.set_renderer(renderer)
    assert model.renderer is renderer and all(m.renderer is renderer for m in layers)
    before = set(model.state_dict())
    model.set_renderer(ReferenceRenderer())
    assert set(model.state_dict()) == before  # never saved
    model.save_pretrained(tmp_path)
    assert MotionAutoEncoder.from_pretrained(tmp_path).renderer == default_renderer()
    with pytest.raises(TypeError, match="renderer must be a"):
        model.set_renderer("channels_last")  # type: ignore[arg-type]


def test_renderers_are_small_frozen_values() -> None:
    assert default_renderer(batch="weights").batch == "weights"
    assert isinstance(default_renderer(), ChannelsLastRenderer | FusedRenderer)
    assert all(issubclass(r, Renderer) for r in (ReferenceRenderer, FusedRenderer, ChannelsLastRenderer))
    assert ChannelsLastRenderer() == ChannelsLastRenderer(batch="auto")
    with pytest.raises(ValueError, match="batch strategy"):
        ReferenceRenderer(batch="grouped")  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        ReferenceRenderer().batch = "weights"  # type: ignore[misc]
