"""The weight-free log-mel encoder: 25 fps clock, frame counts, loudness tracking, protocol."""

from __future__ import annotations

import math

import pytest
import torch

from float_audio import AudioEncoder, LogMelFrameEncoder, load_audio, mel_filterbank


def test_frame_count_follows_the_25_fps_rule() -> None:
    encoder = LogMelFrameEncoder(n_mels=16)
    for samples, frames in [(640, 1), (641, 2), (16000, 25), (59_840, 94), (1, 1)]:
        assert encoder.encode(torch.randn(2, samples)).shape == (2, frames, 16)
    assert encoder.encode(torch.randn(1, 16000), num_frames=30).shape == (1, 30, 16)


def test_frame_t_describes_the_audio_at_t_over_25_seconds() -> None:
    # a 40 ms tone burst starting at 1.0 s: the loudest frames sit at t = 25 and 26
    wave = torch.zeros(32000)
    t = torch.arange(640) / 16000
    wave[16000 : 16000 + 640] = torch.sin(2 * math.pi * 440 * t)
    energy = LogMelFrameEncoder(n_mels=32, n_fft=512).encode(wave)[0].exp().sum(-1)
    assert int(energy.argmax()) in (25, 26)
    assert energy[25] > 1000 * energy[10]


def test_features_follow_loudness_on_real_speech(speech_wav) -> None:
    clip = load_audio(speech_wav)
    features = LogMelFrameEncoder().encode(clip.waveform, num_frames=clip.num_frames)[0]
    frame_energy = clip.waveform[: clip.num_frames * 640]
    frame_energy = torch.nn.functional.pad(frame_energy, (0, clip.num_frames * 640 - frame_energy.numel()))
    rms = frame_energy.view(-1, 640).square().mean(-1).sqrt()
    loudness = features.exp().sum(-1).log()
    r = torch.corrcoef(torch.stack([loudness, (rms + 1e-4).log()]))[0, 1]
    assert r > 0.8


def test_gain_invariance_and_protocol() -> None:
    encoder = LogMelFrameEncoder(n_mels=8)
    wave = torch.randn(1, 8000)
    assert torch.allclose(encoder.encode(wave), encoder.encode(0.1 * wave), atol=1e-4)
    assert isinstance(encoder, AudioEncoder)
    assert encoder.feature_dim == 8
    assert encoder.fingerprint() == LogMelFrameEncoder(n_mels=8).fingerprint()
    assert encoder.fingerprint() != LogMelFrameEncoder(n_mels=9).fingerprint()


def test_filterbank_is_a_partition_of_the_band() -> None:
    filters = mel_filterbank(1024, 40, 0.0, 8000.0, 16000)
    assert filters.shape == (513, 40)
    assert (filters >= 0).all() and filters.max() <= 1.0
    assert (filters.sum(0) > 0).all()


def test_bad_settings_and_input() -> None:
    with pytest.raises(ValueError, match="f_max"):
        LogMelFrameEncoder(f_min=100, f_max=9000)
    with pytest.raises(ValueError, match=r"\[B, N\]"):
        LogMelFrameEncoder().encode(torch.zeros(1, 0))


def test_loud_reference_removes_what_a_clip_holds_constant(speech_wav) -> None:
    """band_reference 'loud': a fixed spectral colouring (a speaker's envelope, a microphone) leaves the
    features as they were; silence maps to the floor; the old fingerprint is kept for the default."""
    clip = load_audio(speech_wav)
    wave = clip.waveform[None]
    # colour the clip by a fixed filter: a first-order high-pass boost (a brighter voice or microphone)
    coloured = torch.cat([wave[:, :1], wave[:, 1:] - 0.9 * wave[:, :-1]], dim=1)
    plain = LogMelFrameEncoder(n_mels=40)
    relative = LogMelFrameEncoder(n_mels=40, band_reference="loud")
    absolute_shift = (plain.encode(coloured) - plain.encode(wave)).abs()
    relative_shift = (relative.encode(coloured) - relative.encode(wave)).abs()
    loud_frames = plain.encode(wave)[0].exp().sum(-1) > 1e-2 * plain.encode(wave)[0].exp().sum(-1).max()
    assert absolute_shift[0][loud_frames].median() > 1.0  # nepers: the colouring moves absolute levels
    assert relative_shift[0][loud_frames].median() < 0.25 * absolute_shift[0][loud_frames].median()
    features = relative.encode(torch.cat([wave, torch.zeros(1, 16000)], dim=1))[0]
    assert (features > 1e-6).float().mean(0).max() <= 0.06  # each band is above its loud level 5% of the time
    assert torch.allclose(features[-20:], torch.full_like(features[-20:], -11.5))  # 1 s of digital silence
    assert plain.fingerprint() == LogMelFrameEncoder(n_mels=40, loud_quantile=0.5).fingerprint()
    assert relative.fingerprint() != plain.fingerprint()
    half = LogMelFrameEncoder(n_mels=40, band_reference="loud", loud_quantile=0.5)
    assert relative.fingerprint() != half.fingerprint()
