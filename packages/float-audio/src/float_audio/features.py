"""One call from an audio file (or a decoded clip) to the ``[1, T, D]`` features float-flow consumes."""

from __future__ import annotations

from pathlib import Path

import torch

from float_audio.frames import SAMPLE_RATE
from float_audio.io import LoadedAudio, load_audio
from float_audio.protocol import AudioEncoder

__all__ = ["encode_audio"]


def encode_audio(
    audio: str | Path | LoadedAudio, encoder: AudioEncoder, *, allow_silent: bool = False
) -> torch.Tensor:
    """Decode (if given a path) and encode one clip: ``[1, T, encoder.feature_dim]`` at 25 fps.

    ``T = ceil(duration x 25)`` exactly (:attr:`LoadedAudio.num_frames`).
    """
    clip = audio if isinstance(audio, LoadedAudio) else load_audio(audio, allow_silent=allow_silent)
    if clip.sample_rate != SAMPLE_RATE:
        raise ValueError(
            f"{clip.source}: encoders take 16 kHz audio, got {clip.sample_rate} Hz; use load_audio()"
        )
    return encoder.encode(clip.waveform[None], num_frames=clip.num_frames)
