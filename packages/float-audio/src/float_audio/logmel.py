"""A weight-free audio encoder: log-mel spectrogram frames at exactly 25 fps (an ``AudioEncoder``).

It needs no download, so it is what tiny demo models and offline tests train against when no wav2vec2
checkpoint is at hand. Log-mel energy still carries what drives the mouth (loudness, voicing, formants);
a trainable :class:`~float_audio.AudioProjection` on top maps it to the transformer's audio width, exactly as
the projection does over wav2vec2 layers.

Frame ``t`` is the spectrum of a Hann window centred on sample ``t x 640`` (``t / 25`` s), so features and
video frames share one clock. The output has ``T = ceil(N / 640)`` frames (the 25 fps rule).

``band_reference="loud"`` makes the features relative to the clip itself: each mel band's level minus that
band's loud level over the clip (its ``loud_quantile`` over frames), floored ``dynamic_range`` below it. It
takes out what stays constant over a clip (the speaker's long-term spectral envelope, the microphone's
colouring, the gain) and keeps what changes with articulation, as cepstral mean normalisation does in speech
recognition; a quantile rather than a mean, so a clip's share of silence does not move the reference.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

from float_audio.frames import SAMPLE_RATE, SAMPLES_PER_FRAME, num_frames_for_samples

__all__ = ["LogMelFrameEncoder", "LogMelFrameEncoderConfig", "mel_filterbank"]


class LogMelFrameEncoderConfig(BaseModel):
    """Settings of :class:`LogMelFrameEncoder` (all part of its fingerprint).

    Attributes:
        n_mels: number of mel bands (the feature width).
        n_fft: FFT size in samples (64 ms at 16 kHz by default).
        f_min, f_max: band edges in Hz.
        floor: power floor before the logarithm (silence maps to ``log(floor)``).
        normalize: scale each waveform to unit peak first, so features do not depend on recording gain.
        band_reference: ``"none"``: absolute log power; ``"loud"``: each band relative to its loud level over
            the clip (speaker and channel normalisation, see the module docstring).
        loud_quantile: with ``"loud"``, the quantile over a clip's frames that is a band's loud level.
        dynamic_range: with ``"loud"``, the floor below the loud level in nepers of power (11.5 = 50 dB):
            silence and a recording's noise floor map alike to ``-dynamic_range``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_mels: int = Field(80, gt=0)
    n_fft: int = Field(1024, gt=0)
    f_min: float = Field(0.0, ge=0)
    f_max: float = Field(8000.0, gt=0)
    floor: float = Field(1e-6, gt=0)
    normalize: bool = True
    band_reference: Literal["none", "loud"] = "none"
    loud_quantile: float = Field(0.95, gt=0, le=1)
    dynamic_range: float = Field(11.5, gt=0)

    @model_validator(mode="after")
    def _check_bands(self) -> LogMelFrameEncoderConfig:
        if self.f_max <= self.f_min or self.f_max > SAMPLE_RATE / 2:
            raise ValueError(
                f"need f_min < f_max <= {SAMPLE_RATE // 2} Hz, got f_min={self.f_min}, f_max={self.f_max}"
            )
        return self


def _hz_to_mel(hz: torch.Tensor) -> torch.Tensor:
    return 2595.0 * torch.log10(1.0 + hz / 700.0)


def _mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(n_fft: int, n_mels: int, f_min: float, f_max: float, sample_rate: int) -> torch.Tensor:
    """Triangular HTK-mel filters ``[n_fft // 2 + 1, n_mels]`` (float64 maths, float32 result)."""
    bins = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    edges = _mel_to_hz(
        torch.linspace(
            float(_hz_to_mel(torch.tensor(f_min))), float(_hz_to_mel(torch.tensor(f_max))), n_mels + 2
        ).double()
    )
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins[:, None] - lower[None]) / (centre - lower)[None]
    falling = (upper[None] - bins[:, None]) / (upper - centre)[None]
    return torch.clamp(torch.minimum(rising, falling), min=0.0).float()


class LogMelFrameEncoder(nn.Module):
    """``[B, N]`` 16 kHz waveform -> ``[B, T, n_mels]`` natural-log mel power at 25 fps; no weights.

    Stateless apart from two constant buffers (window, filterbank), so it moves with ``.to(device)`` and
    needs nothing saved: its config (``config.model_dump()``) rebuilds it exactly.
    """

    window: torch.Tensor  # [n_fft] Hann window (buffer)
    filters: torch.Tensor  # mel filterbank (buffer)

    def __init__(self, config: LogMelFrameEncoderConfig | None = None, **settings: object) -> None:
        super().__init__()
        self.config = config or LogMelFrameEncoderConfig(**settings)
        cfg = self.config
        self.register_buffer("window", torch.hann_window(cfg.n_fft), persistent=False)
        self.register_buffer(
            "filters",
            mel_filterbank(cfg.n_fft, cfg.n_mels, cfg.f_min, cfg.f_max, SAMPLE_RATE),
            persistent=False,
        )

    @property
    def feature_dim(self) -> int:
        """``n_mels``."""
        return self.config.n_mels

    def fingerprint(self) -> str:
        """sha256 of the encoder name and its settings (there are no weights)."""
        settings = self.config.model_dump()
        if self.config.band_reference == "none":
            # settings that only "loud" reads stay out, so earlier fingerprints (bundles, caches) still hold
            for key in ("band_reference", "loud_quantile", "dynamic_range"):
                settings.pop(key)
        payload = {"encoder": "LogMelFrameEncoder", "settings": settings}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def forward(self, waveform: torch.Tensor, num_frames: int | None = None) -> torch.Tensor:
        """Same as :meth:`encode` (there is nothing to train)."""
        return self.encode(waveform, num_frames)

    @torch.no_grad()
    def encode(self, waveform: torch.Tensor, num_frames: int | None = None) -> torch.Tensor:
        """``[B, N]`` or ``[N]`` float waveform at 16 kHz -> ``[B, T, n_mels]`` (T from the 25 fps rule).

        When ``num_frames`` is given the features are cut or edge-padded to exactly that many frames.
        Memory is one STFT of the clip (about ``N / 640 x n_fft / 2`` complex values), fine for hours.
        """
        if waveform.ndim == 1:
            waveform = waveform[None]
        if waveform.ndim != 2 or waveform.shape[1] == 0:
            raise ValueError(f"waveform must have shape [B, N] with N > 0, got {list(waveform.shape)}")
        if not torch.isfinite(waveform).all():
            raise ValueError("waveform contains NaN or infinite samples")
        frames = num_frames_for_samples(waveform.shape[1]) if num_frames is None else num_frames
        if frames <= 0:
            raise ValueError(f"num_frames must be > 0, got {frames}")
        signal = waveform.to(self.window.device, torch.float32)
        if self.config.normalize:
            peak = signal.abs().amax(dim=1, keepdim=True)
            signal = signal / torch.where(peak > 0, peak, torch.ones_like(peak))
        # centre=True pads n_fft/2 each side, so STFT frame t is centred on sample t x 640
        spectrum = torch.stft(
            signal,
            n_fft=self.config.n_fft,
            hop_length=SAMPLES_PER_FRAME,
            window=self.window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        power = spectrum.real.square() + spectrum.imag.square()  # [B, F, frames']
        mel = torch.einsum("bft,fm->btm", power, self.filters)
        features = torch.log(mel + self.config.floor)  # [B, frames', n_mels]
        if self.config.band_reference == "loud":
            features = self._relative_to_loud_level(features)
        have = features.shape[1]
        if have >= frames:
            return features[:, :frames].contiguous()
        return torch.cat([features, features[:, -1:].expand(-1, frames - have, -1)], dim=1)

    def _relative_to_loud_level(self, features: torch.Tensor) -> torch.Tensor:
        """``[B, T, n_mels]`` log power -> the same minus each band's loud level, floored at -dynamic_range.

        The loud level is read over the whole clip, so the features of a frame depend on the clip it is in:
        encode a recording in one call (this encoder holds one STFT of the clip, fine for hours).
        """
        # the k-th smallest, not torch.quantile: that one refuses inputs over 2^24 values (a few hours)
        count = features.shape[1]
        k = min(count, max(1, math.ceil(self.config.loud_quantile * count)))
        loud = features.kthvalue(k, dim=1, keepdim=True).values  # [B, 1, n_mels]
        return torch.clamp(features - loud, min=-self.config.dynamic_range)
