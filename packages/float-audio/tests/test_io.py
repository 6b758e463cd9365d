from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
import torch

from float_audio import (
    AudioDecodeError,
    AudioError,
    AudioFileNotFoundError,
    EmptyAudioError,
    SilentAudioError,
    SilentAudioWarning,
    audio_from_array,
    load_audio,
    num_frames,
)

EXACT_SAMPLES = {0.2: 3_200, 2.0: 32_000, 7.3: 116_800}


def _write_wav(path: Path, samples: np.ndarray, rate: int = 16_000) -> Path:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(samples.astype("<i2").tobytes())
    return path


def _correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    n = min(a.shape[0], b.shape[0])
    return float(np.corrcoef(a[:n].numpy(), b[:n].numpy())[0, 1])


def test_committed_fixture(speech_wav: Path) -> None:
    audio = load_audio(speech_wav)
    assert audio.sample_rate == 16_000
    assert audio.waveform.dtype == torch.float32 and audio.waveform.ndim == 1
    assert audio.num_samples == 59_828
    assert audio.duration == pytest.approx(3.73925)
    assert audio.num_frames == 94 == num_frames(audio.duration)
    assert 0.1 < float(audio.waveform.abs().max()) <= 1.0


@pytest.mark.parametrize("seconds", [0.2, 2.0, 7.3])
def test_exact_durations(speech_media: dict[str, Path], seconds: float) -> None:
    audio = load_audio(speech_media[f"wav_{seconds}"])
    assert audio.num_samples == EXACT_SAMPLES[seconds]
    assert audio.num_frames == {0.2: 5, 2.0: 50, 7.3: 183}[seconds]
    assert torch.isfinite(audio.waveform).all()


@pytest.mark.parametrize("key", ["flac", "stereo48k"])
def test_lossless_formats_keep_exact_length(speech_media: dict[str, Path], key: str) -> None:
    audio = load_audio(speech_media[key])
    reference = load_audio(speech_media["wav_7.3"])
    assert audio.num_samples == 116_800 and audio.num_frames == 183
    # the stereo/48 kHz copy is mixed down and resampled back onto the 16 kHz mono signal
    assert _correlation(audio.waveform, reference.waveform) > 0.99


@pytest.mark.parametrize("key", ["mp3", "m4a", "ogg", "mp4"])
def test_lossy_and_video_containers(speech_media: dict[str, Path], key: str) -> None:
    audio = load_audio(speech_media[key])
    # codec padding/priming may add up to a few tens of ms; T always follows the decoded length exactly
    assert audio.duration == pytest.approx(7.3, abs=0.1)
    assert audio.num_frames == -(-audio.num_samples // 640)
    assert torch.isfinite(audio.waveform).all()
    assert float(audio.waveform.abs().max()) > 0.1


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.wav"
    with pytest.raises(AudioFileNotFoundError, match=r"not found: .*nope\.wav") as info:
        load_audio(missing)
    assert info.value.source == str(missing)
    assert isinstance(info.value, FileNotFoundError)


def test_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AudioFileNotFoundError, match="not a file"):
        load_audio(tmp_path)


def test_text_file_is_not_audio(tmp_path: Path) -> None:
    notes = tmp_path / "notes.wav"
    notes.write_text("this is not audio at all\n" * 20)
    with pytest.raises(AudioDecodeError, match=r"notes\.wav: not a readable audio"):
        load_audio(notes)


def test_image_file_has_no_audio_stream(portrait_png: Path) -> None:
    expected = r"portrait\.png: has no audio stream \(streams found: video\)"
    with pytest.raises(AudioDecodeError, match=expected):
        load_audio(portrait_png)


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp3"
    empty.touch()
    with pytest.raises(EmptyAudioError, match=r"empty\.mp3: the file is empty \(0 bytes\)"):
        load_audio(empty)


def test_wav_without_samples(tmp_path: Path) -> None:
    path = _write_wav(tmp_path / "header_only.wav", np.zeros(0))
    with pytest.raises(EmptyAudioError, match=r"header_only\.wav: contains no audio samples"):
        load_audio(path)


def test_all_zero_file_is_an_error_by_default(tmp_path: Path) -> None:
    path = _write_wav(tmp_path / "zeros.wav", np.zeros(16_000))
    with pytest.raises(SilentAudioError, match=r"zeros\.wav: audio is silent .*allow_silent=True"):
        load_audio(path)


def test_all_zero_file_allowed_with_warning(tmp_path: Path) -> None:
    path = _write_wav(tmp_path / "zeros.wav", np.zeros(16_000))
    with pytest.warns(SilentAudioWarning, match=r"zeros\.wav"):
        audio = load_audio(path, allow_silent=True)
    assert audio.num_samples == 16_000 and audio.num_frames == 25
    assert float(audio.waveform.abs().max()) == 0.0


def test_video_without_audio(tmp_path: Path, require_tool) -> None:
    require_tool("ffmpeg")
    video = tmp_path / "silent_video.mp4"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=red:s=32x32:r=25:d=0.4",
         "-c:v", "mpeg4", str(video)],
        check=True,
    )  # fmt: skip
    with pytest.raises(AudioDecodeError, match=r"silent_video\.mp4: has no audio stream"):
        load_audio(video)


def test_every_error_is_an_audio_error() -> None:
    for error in (AudioFileNotFoundError, AudioDecodeError, EmptyAudioError, SilentAudioError):
        assert issubclass(error, AudioError) and issubclass(error, ValueError)


def test_array_is_resampled_and_mixed() -> None:
    rate = 48_000
    t = np.arange(rate) / rate
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    audio = audio_from_array(np.stack([tone, tone]), rate)
    assert audio.sample_rate == 16_000 and audio.num_samples == 16_000 and audio.num_frames == 25
    reference = 0.5 * np.sin(2 * np.pi * 440 * np.arange(16_000) / 16_000)
    # band-limited resampling keeps a 440 Hz tone intact away from the edges
    middle = slice(1_000, 15_000)
    assert np.abs(audio.waveform.numpy()[middle] - reference[middle]).max() < 0.02


def test_array_int16_and_tensor_inputs() -> None:
    samples = (np.random.default_rng(0).standard_normal(8_000) * 3_000).astype(np.int16)
    from_int = audio_from_array(samples, 16_000)
    from_tensor = audio_from_array(torch.from_numpy(samples.astype(np.float32) / 32768.0), 16_000)
    assert torch.allclose(from_int.waveform, from_tensor.waveform)
    assert from_int.num_frames == 13


def test_array_errors() -> None:
    with pytest.raises(EmptyAudioError, match="my clip"):
        audio_from_array(np.zeros(0, dtype=np.float32), 16_000, source="my clip")
    with pytest.raises(SilentAudioError):
        audio_from_array(np.zeros(100, dtype=np.float32), 16_000)
    with pytest.raises(AudioDecodeError, match="NaN"):
        audio_from_array(np.full(100, np.nan, dtype=np.float32), 16_000)
    with pytest.raises(AudioDecodeError, match=r"shape \[N\] or \[channels, N\]"):
        audio_from_array(np.ones((1, 2, 3), dtype=np.float32), 16_000)
    with pytest.raises(AudioDecodeError, match="sample_rate"):
        audio_from_array(np.ones(10, dtype=np.float32), 0)
