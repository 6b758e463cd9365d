"""Shared fixtures of the proof tests: a tiny random bundle and a 2-clip corpus, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from float_audio import AudioProjection, LogMelFrameEncoder
from float_flow import FlowMatchingTransformer
from float_motion_ae import MotionAutoEncoder
from float_pipeline import BundleManifest, GenerationDefaults, LogMelAudioSpec, save_bundle


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 32 px bundle (2 ODE steps): exercises every code path, proves nothing."""
    torch.manual_seed(0)
    motion_ae = MotionAutoEncoder(
        size=32, latent_dim=16, motion_dim=4, channel_base=256, channel_max=16, motion_layers=1
    )
    flow = FlowMatchingTransformer(
        dim_motion=16, dim_hidden=32, depth=1, num_heads=2, dim_audio=8, num_frames=10, num_prev_frames=2
    )
    projection = AudioProjection(LogMelFrameEncoder().feature_dim, 8)
    manifest = BundleManifest(resolution=32, audio=LogMelAudioSpec(), defaults=GenerationDefaults(steps=2))
    out = tmp_path_factory.mktemp("bundle") / "tiny"
    return save_bundle(
        out,
        manifest=manifest,
        motion_ae=motion_ae,
        flow=flow,
        audio_projection=projection,
        model_card="# tiny\n",
    )


@pytest.fixture(scope="session")
def two_clip_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two 64 px held-out-style clips (astronaut, en-us), built with the corpus builder."""
    import shutil

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    from float_tools.corpus import CorpusConfig, build_corpus

    out = tmp_path_factory.mktemp("corpus")
    config = CorpusConfig(
        portraits=["astronaut"],
        voices=["en-us"],
        sentences=["The orange kite flew high.", "Remember to lock the garage."],
        n_clips=2,
        seed=0,
        resolution=64,
    )
    build_corpus(config, out, log=lambda _: None)
    return out
