"""The contract every audio encoder meets, so float-flow never depends on which one is used."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

__all__ = ["AudioEncoder"]


@runtime_checkable
class AudioEncoder(Protocol):
    """Anything that turns 16 kHz waveforms into 25 fps frame features.

    Implementations (wav2vec2, HuBERT, a Whisper encoder, a multilingual wav2vec2, ...) accept
    ``waveform`` ``[B, N]`` float32 mono samples at 16 kHz, full scale 1.0, and return ``[B, T, feature_dim]``
    with ``T = num_frames`` when given, else ``T = ceil(N / 16000 x 25)``
    (:func:`float_audio.num_frames_for_samples`).
    Frame ``t`` describes the audio around ``t / 25`` seconds.
    """

    @property
    def feature_dim(self) -> int:
        """Width ``D`` of each output frame."""
        ...

    def encode(self, waveform: torch.Tensor, num_frames: int | None = None) -> torch.Tensor:
        """``[B, N]`` (or ``[N]``) 16 kHz waveform -> ``[B, T, D]`` features at 25 fps, without gradients."""
        ...

    def fingerprint(self) -> str:
        """A stable hex string that changes whenever the features would change (config or weights)."""
        ...
