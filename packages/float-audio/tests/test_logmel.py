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
