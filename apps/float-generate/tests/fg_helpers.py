"""Helpers of the float-generate tests: a tiny random bundle, wav writing, mp4 reading."""

from __future__ import annotations

import wave
from pathlib import Path

import av
import numpy as np
import torch

from float_audio import AudioProjection, LogMelFrameEncoderConfig
from float_flow import FlowMatchingTransformer
from float_generate import BundleManifest, GenerationDefaults, LogMelAudioSpec, save_bundle
from float_motion_ae import MotionAutoEncoder

SIZE = 32


def build_tiny_bundle(out: Path, *, dim_pose: int = 0) -> Path:
    """A seeded random bundle: 32x32 auto-encoder (16 channels), 1-block 32-wide flow, 16-band log-mel."""
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
        dim_pose=dim_pose,
        freq_dim=16,
    )
    with torch.no_grad():  # DiT zero-inits AdaLN and the output layer: randomise them so conditions matter
        for parameter in flow.parameters():
            if not parameter.any():
                parameter.normal_(0.0, 0.2)
    settings = LogMelFrameEncoderConfig(n_mels=16, n_fft=512)
    projection = AudioProjection(in_dim=16, out_dim=16)
    manifest = BundleManifest(
        resolution=SIZE,
        audio=LogMelAudioSpec(settings=settings),
        defaults=GenerationDefaults(steps=2, emotion="neutral"),
        description="tiny random test bundle",
    )
    return save_bundle(
        out,
        manifest=manifest,
        motion_ae=motion_ae,
        flow=flow,
        audio_projection=projection,
        model_card="# tiny random bundle\n\nRandom weights, for tests only.\n",
    )


def write_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    """Write float samples in [-1, 1] as 16-bit mono PCM."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as stream:
        stream.setnchannels(1)
        stream.setsampwidth(2)
        stream.setframerate(rate)
        stream.writeframes(pcm.tobytes())
    return path


def wav_frames(path: Path) -> int:
    """ceil(duration x 25) from a wav header, exactly (integer arithmetic)."""
    with wave.open(str(path), "rb") as stream:
        samples, rate = stream.getnframes(), stream.getframerate()
    return -(-samples * 25 // rate)


def read_video(path: Path) -> tuple[np.ndarray, bool, float]:
    """All frames [T, H, W, 3] uint8 of an mp4, whether it has an audio stream, and that stream's seconds."""
    with av.open(str(path)) as container:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
        has_audio = bool(container.streams.audio)
        seconds = 0.0
        if has_audio:
            stream = container.streams.audio[0]
            seconds = float(stream.duration * stream.time_base) if stream.duration else 0.0
    return frames, has_audio, seconds
