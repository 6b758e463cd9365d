"""Real speech media made at test time (espeak-ng + ffmpeg) and a tiny random wav2vec2 encoder."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from float_audio import Wav2Vec2FrameEncoder

SENTENCE = (
    "The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs. "
    "How vexingly quick daft zebras jump."
)
DURATIONS = (0.2, 2.0, 7.3)


def tiny_wav2vec2_config(**overrides: object):
    """Hidden 32, 2 layers; a 7-layer 16-channel conv stack with the real strides (5,2,2,2,2,2,2) = 320x."""
    from transformers import Wav2Vec2Config

    kwargs: dict[str, object] = {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "conv_dim": (16,) * 7,
        "conv_stride": (5, 2, 2, 2, 2, 2, 2),
        "conv_kernel": (10, 3, 3, 3, 3, 2, 2),
        "num_conv_pos_embeddings": 16,
        "num_conv_pos_embedding_groups": 2,
    }
    kwargs.update(overrides)
    return Wav2Vec2Config(**kwargs)


def make_tiny_encoder(seed: int = 0, **config: object) -> Wav2Vec2FrameEncoder:
    """Seeded tiny encoder: 2 x 32 = 64-d layer features projected to 16 (unless overridden)."""
    torch.manual_seed(seed)
    settings: dict[str, object] = {"output_dim": 16}
    settings.update(config)
    return Wav2Vec2FrameEncoder.from_config(tiny_wav2vec2_config(), **settings)


@pytest.fixture
def tiny_encoder() -> Wav2Vec2FrameEncoder:
    return make_tiny_encoder()


@pytest.fixture
def make_encoder() -> Callable[..., Wav2Vec2FrameEncoder]:
    """``make_encoder(seed, **settings)``: a seeded tiny encoder (test modules cannot import conftest)."""
    return make_tiny_encoder


@pytest.fixture
def tiny_config() -> Callable[..., object]:
    """``tiny_config(**overrides)``: the tiny ``Wav2Vec2Config``."""
    return tiny_wav2vec2_config


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="session")
def speech_media(
    tmp_path_factory: pytest.TempPathFactory, require_tool: Callable[[str], str]
) -> dict[str, Path]:
    """Speech clips of exact durations and other formats, generated once per session.

    Keys: ``wav_0.2``, ``wav_2.0``, ``wav_7.3`` (16 kHz mono PCM, exactly that long), and for the 7.3 s clip
    ``mp3``, ``m4a``, ``flac``, ``ogg``, ``stereo48k`` (48 kHz stereo wav), ``mp4`` (video + AAC track).
    """
    require_tool("espeak-ng")
    require_tool("ffmpeg")
    folder = tmp_path_factory.mktemp("speech")
    raw = folder / "espeak.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(raw), SENTENCE], check=True)
    media: dict[str, Path] = {}
    for seconds in DURATIONS:
        target = folder / f"speech_{seconds}.wav"
        _ffmpeg("-i", str(raw), "-af", "apad", "-t", str(seconds), "-ar", "16000", "-ac", "1", str(target))
        media[f"wav_{seconds}"] = target
    source = str(media["wav_7.3"])
    for key, name, codec in (
        ("mp3", "speech.mp3", ["-c:a", "libmp3lame", "-b:a", "64k"]),
        ("m4a", "speech.m4a", ["-c:a", "aac", "-b:a", "64k"]),
        ("flac", "speech.flac", ["-c:a", "flac"]),
        ("ogg", "speech.ogg", ["-c:a", "libvorbis"]),
        ("stereo48k", "speech_stereo48k.wav", ["-ac", "2", "-ar", "48000"]),
    ):
        _ffmpeg("-i", source, *codec, str(folder / name))
        media[key] = folder / name
    _ffmpeg(
        "-f", "lavfi", "-i", "color=c=gray:s=32x32:r=25", "-i", source, "-shortest",
        "-c:v", "mpeg4", "-c:a", "aac", str(folder / "speech.mp4"),
    )  # fmt: skip
    media["mp4"] = folder / "speech.mp4"
    return media
