"""Test helpers for anything built on float-pipeline: seeded random bundles, wav writing, mp4 reading.

Every app's tests need a bundle that loads and runs in milliseconds; one builder keeps them all on the same
shapes. The weights are random: numbers produced with them are never metrics. Like ``torch.testing``, this
module is public but not imported by ``float_pipeline`` itself.
"""

from __future__ import annotations

import wave
from pathlib import Path

import av
import numpy as np
import torch

from float_audio import AudioProjection, LogMelFrameEncoderConfig
from float_flow import FlowMatchingTransformer
from float_motion_ae import MotionAutoEncoder
from float_pipeline.bundle import BundleManifest, GenerationDefaults, LogMelAudioSpec, save_bundle

__all__ = ["TINY_SIZE", "build_random_bundle", "read_mp4", "wav_frames", "write_wav"]

TINY_SIZE = 32
"""Side (px) of the face crop a default random bundle renders."""


def build_random_bundle(
    out: str | Path,
    *,
    size: int = TINY_SIZE,
    dim_pose: int = 0,
    defaults: GenerationDefaults | None = None,
    randomize_zero_init: bool = False,
    seed: int = 0,
    description: str = "tiny random test bundle",
) -> Path:
    """Write a random bundle after ``torch.manual_seed(seed)``; returns its folder.

    ``size`` px auto-encoder (16 channels, latent 32, 4 directions), one 32-wide flow block over 10-frame
    windows (+2 context frames), 16-band log-mel audio; sampling defaults: 2 steps, neutral emotion.
    ``randomize_zero_init`` re-draws the parameters the DiT recipe initialises at zero (AdaLN, output
    layer), so that the conditions change the output; otherwise the flow ignores them until trained.
    """
    torch.manual_seed(seed)
    motion_ae = MotionAutoEncoder(size=size, latent_dim=32, motion_dim=4, channel_max=16, motion_layers=2)
    flow = FlowMatchingTransformer(
        dim_motion=32,
        dim_hidden=32,
        depth=1,
        num_heads=2,
        num_frames=10,
        num_prev_frames=2,
        dim_audio=16,
        dim_pose=dim_pose,
        freq_dim=16,
    )
    if randomize_zero_init:
        with torch.no_grad():
            for parameter in flow.parameters():
                if not parameter.any():
                    parameter.normal_(0.0, 0.2)
    manifest = BundleManifest(
        resolution=size,
        audio=LogMelAudioSpec(settings=LogMelFrameEncoderConfig(n_mels=16, n_fft=512)),
        defaults=defaults or GenerationDefaults(steps=2, emotion="neutral"),
        description=description,
    )
    return save_bundle(
        out,
        manifest=manifest,
        motion_ae=motion_ae,
        flow=flow,
        audio_projection=AudioProjection(in_dim=16, out_dim=16),
        model_card=f"# {description}\n\nRandom weights, for tests only: nothing it renders is a result.\n",
    )


def write_wav(path: str | Path, samples: np.ndarray, rate: int = 16000) -> Path:
    """Write float mono samples ``[N]`` in [-1, 1] as 16-bit PCM; returns ``path``."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as stream:
        stream.setnchannels(1)
        stream.setsampwidth(2)
        stream.setframerate(rate)
        stream.writeframes(pcm.tobytes())
    return Path(path)


def wav_frames(path: str | Path) -> int:
    """Video frames a wav file gives, ``ceil(seconds x 25)``, exactly (integer arithmetic on its header)."""
    with wave.open(str(path), "rb") as stream:
        samples, rate = stream.getnframes(), stream.getframerate()
    return -(-samples * 25 // rate)


def read_mp4(path: str | Path) -> tuple[np.ndarray, bool, float]:
    """All frames ``[T, H, W, 3]`` uint8 of an mp4, whether it has an audio stream, and its seconds."""
    with av.open(str(path)) as container:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
        has_audio = bool(container.streams.audio)
        seconds = 0.0
        if has_audio:
            stream = container.streams.audio[0]
            time_base = stream.time_base
            seconds = float(stream.duration * time_base) if stream.duration and time_base else 0.0
    return frames, has_audio, seconds
