"""Helpers of the float-demo tests: a tiny seeded random bundle and an mp4 reader."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import torch

from float_audio import AudioProjection, LogMelFrameEncoderConfig
from float_flow import FlowMatchingTransformer
from float_generate import BundleManifest, GenerationDefaults, LogMelAudioSpec, save_bundle
from float_motion_ae import MotionAutoEncoder

SIZE = 32


def build_tiny_bundle(out: Path) -> Path:
    """Random weights after ``torch.manual_seed(0)``: 32 px auto-encoder (16 channels), one 32-wide flow block
    over 10-frame windows, 16-band log-mel audio; two sampling steps by default."""
    torch.manual_seed(0)
    motion_ae = MotionAutoEncoder(size=SIZE, latent_dim=32, motion_dim=4, channel_max=16, motion_layers=2)
    flow = FlowMatchingTransformer(
        dim_motion=32,
        dim_hidden=32,
        depth=1,
        num_heads=2,
        num_frames=10,
        num_prev_frames=2,
        dim_audio=16,
        freq_dim=16,
    )
    manifest = BundleManifest(
        resolution=SIZE,
        audio=LogMelAudioSpec(settings=LogMelFrameEncoderConfig(n_mels=16, n_fft=512)),
        defaults=GenerationDefaults(steps=2, emotion="happy", audio_scale=1.5, emotion_scale=0.5),
        description="tiny random float-demo test bundle",
    )
    return save_bundle(
        out,
        manifest=manifest,
        motion_ae=motion_ae,
        flow=flow,
        audio_projection=AudioProjection(in_dim=16, out_dim=16),
        model_card="# tiny random bundle\n\nRandom weights, for float-demo tests only.\n",
    )


def read_mp4(path: Path) -> tuple[np.ndarray, bool]:
    """All frames ``[T, H, W, 3]`` uint8 of an mp4 and whether it carries an audio stream."""
    with av.open(str(path)) as container:
        has_audio = bool(container.streams.audio)
        frames = np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])
    return frames, has_audio


def wav_frames(path: Path) -> int:
    """``ceil(seconds x 25)`` of a wav file, exactly (integer arithmetic on its header)."""
    import wave

    with wave.open(str(path), "rb") as stream:
        samples, rate = stream.getnframes(), stream.getframerate()
    return -(-samples * 25 // rate)
