from __future__ import annotations

import hashlib
import shutil
import wave
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from float_audio import (
    AudioEncoder,
    FeatureCache,
    SilentAudioError,
    SilentAudioWarning,
    Wav2Vec2FrameEncoder,
    file_sha256,
)
from float_audio import cache as cache_module


class CountingEncoder:
    """An ``AudioEncoder`` that delegates to the tiny wav2vec2 encoder and counts its calls."""

    def __init__(self, inner: Wav2Vec2FrameEncoder) -> None:
        self.inner = inner
        self.calls = 0

    @property
    def feature_dim(self) -> int:
        return self.inner.feature_dim

    def encode(self, waveform: torch.Tensor, num_frames: int | None = None) -> torch.Tensor:
        self.calls += 1
        return self.inner.encode(waveform, num_frames)

    def fingerprint(self) -> str:
        return self.inner.fingerprint()


@pytest.fixture
def counting(tiny_encoder: Wav2Vec2FrameEncoder) -> CountingEncoder:
    encoder = CountingEncoder(tiny_encoder)
    assert isinstance(encoder, AudioEncoder)
    return encoder


def test_encodes_once_then_reads(tmp_path: Path, speech_wav: Path, counting: CountingEncoder) -> None:
    cache = FeatureCache(tmp_path / "cache")
    first = cache.get_or_compute(speech_wav, counting)
    second = cache.get_or_compute(speech_wav, counting)
    assert counting.calls == 1
    assert first.shape == (94, 16)
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    stored = cache.path_for(speech_wav, counting.fingerprint())
    assert stored.parent.parent == tmp_path / "cache" and stored.suffix == ".safetensors"
    assert not list(stored.parent.glob("*.tmp"))  # the temporary file was moved into place
    with safe_open(str(stored), "pt") as handle:
        assert handle.metadata()["fingerprint"] == counting.fingerprint()
        assert handle.metadata()["source"] == "speech_en.wav"


def test_key_follows_content_not_path(tmp_path: Path, speech_wav: Path, counting: CountingEncoder) -> None:
    cache = FeatureCache(tmp_path / "cache")
    copy = shutil.copy(speech_wav, tmp_path / "renamed.wav")
    fingerprint = counting.fingerprint()
    assert cache.key(copy, fingerprint) == cache.key(speech_wav, fingerprint)
    assert cache.key(speech_wav, fingerprint + "x") != cache.key(speech_wav, fingerprint)
    cache.get_or_compute(speech_wav, counting)
    cache.get_or_compute(copy, counting)
    assert counting.calls == 1
    data = bytearray(Path(copy).read_bytes())
    data[-2:] = b"\x10\x10"  # change the last sample: new content, new entry
    Path(copy).write_bytes(bytes(data))
    assert cache.key(copy, fingerprint) != cache.key(speech_wav, fingerprint)
    cache.get_or_compute(copy, counting)
    assert counting.calls == 2


def test_new_encoder_settings_miss_the_cache(
    tmp_path: Path, speech_wav: Path, make_encoder, counting: CountingEncoder
) -> None:
    cache = FeatureCache(tmp_path)
    cache.get_or_compute(speech_wav, counting)
    other = CountingEncoder(make_encoder(0, layers="last"))
    features = cache.get_or_compute(speech_wav, other)
    assert other.calls == 1 and features.shape == (94, 16)
    assert len(list(tmp_path.rglob("*.safetensors"))) == 2


def test_unreadable_entry_is_recomputed(tmp_path: Path, speech_wav: Path, counting: CountingEncoder) -> None:
    cache = FeatureCache(tmp_path)
    expected = cache.get_or_compute(speech_wav, counting)
    cache.path_for(speech_wav, counting.fingerprint()).write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="unreadable cache entry"):
        again = cache.get_or_compute(speech_wav, counting)
    assert counting.calls == 2
    torch.testing.assert_close(again, expected)


def test_failed_write_leaves_nothing(
    tmp_path: Path, speech_wav: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_save(*_args: object, **_kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(cache_module, "save_file", broken_save)
    cache = FeatureCache(tmp_path)
    with pytest.raises(OSError, match="disk full"):
        cache.save(speech_wav, "fp", torch.zeros(3, 2))
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_save_checks_shape_and_hash_helper(tmp_path: Path, speech_wav: Path) -> None:
    with pytest.raises(ValueError, match=r"\[T, D\]"):
        FeatureCache(tmp_path).save(speech_wav, "fp", torch.zeros(1, 3, 2))
    assert file_sha256(speech_wav) == hashlib.sha256(speech_wav.read_bytes()).hexdigest()


def test_silent_clip_follows_the_documented_choice(tmp_path: Path, counting: CountingEncoder) -> None:
    path = tmp_path / "zeros.wav"
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(16_000)
        handle.writeframes(b"\x00\x00" * 8_000)
    cache = FeatureCache(tmp_path / "cache")
    with pytest.raises(SilentAudioError, match=r"zeros\.wav"):
        cache.get_or_compute(path, counting)
    with pytest.warns(SilentAudioWarning):
        features = cache.get_or_compute(path, counting, allow_silent=True)
    assert features.shape == (13, 16) and torch.isfinite(features).all()
