"""The streaming mp4 writer: atomic output, even sizes for yuv420p, audio interleaved with the video."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from float_pipeline import VideoWriter


def test_an_error_leaves_no_file(tmp_path: Path, speech_wav: Path) -> None:
    out = tmp_path / "clip.mp4"
    with pytest.raises(RuntimeError, match="boom"), VideoWriter(out, speech_wav, size=(32, 32)) as writer:
        writer.write(np.zeros((32, 32, 3), dtype=np.uint8))
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_odd_sizes_are_padded_and_audio_is_interleaved(tmp_path: Path, speech_wav: Path) -> None:
    out = tmp_path / "odd.mp4"
    rng = np.random.default_rng(0)
    with VideoWriter(out, speech_wav, size=(31, 45)) as writer:
        for _ in range(75):  # 3 s of video
            writer.write(rng.integers(0, 255, (31, 45, 3), dtype=np.uint8))
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert (video.index, video.width, video.height) == (0, 46, 32)
        order = [packet.stream.type for packet in container.demux() if packet.size]
    assert order.count("video") == 75 and order.count("audio") > 0
    # audio packets are spread through the file, not all appended after the video
    first_audio, last_video = order.index("audio"), len(order) - 1 - order[::-1].index("video")
    assert first_audio < last_video


def test_audio_from_samples_is_muxed(tmp_path: Path) -> None:
    out = tmp_path / "samples.mp4"
    speech = 0.3 * np.sin(np.arange(16000, dtype=np.float32) * 0.05)  # 1 s at 16 kHz
    with VideoWriter(out, speech, size=(32, 32)) as writer:
        for _ in range(25):
            writer.write(np.full((32, 32, 3), 128, dtype=np.uint8))
    with av.open(str(out)) as container:
        audio = container.streams.audio[0]
        assert (audio.rate, audio.layout.nb_channels) == (16000, 1)
        decoded = sum(frame.samples for frame in container.decode(audio=0))
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 25
    assert abs(decoded - 16000) <= 2048  # AAC priming and padding: at most two frames
    with pytest.raises(ValueError, match="mono"):
        VideoWriter(tmp_path / "stereo.mp4", np.zeros((2, 100), dtype=np.float32))


def _decoded_mono_16k(path: Path) -> np.ndarray:
    """The written file's audio as players hear it: decoded (edit list applied), mono, 16 kHz."""
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
        pieces = [
            piece.to_ndarray()[0]
            for frame in container.decode(audio=0)
            for piece in resampler.resample(frame)
        ]
        pieces += [piece.to_ndarray()[0] for piece in resampler.resample(None)]
    return np.concatenate(pieces)


def _lag(heard: np.ndarray, said: np.ndarray, max_lag: int = 4000) -> int:
    """Samples by which ``heard`` trails ``said`` (the cross-correlation peak over +-``max_lag``)."""
    start, length = max_lag, said.size - 2 * max_lag
    segment = said[start : start + length]
    scores = [
        float(np.dot(heard[start + lag : start + lag + length], segment)) for lag in range(-max_lag, max_lag)
    ]
    return int(np.argmax(scores)) - max_lag


def _speech(speech_wav: Path) -> np.ndarray:
    with av.open(str(speech_wav)) as container:
        assert container.streams.audio[0].rate == 16000
        return np.concatenate([frame.to_ndarray()[0] for frame in container.decode(audio=0)]).astype(
            np.float32
        )


@pytest.mark.parametrize("given_as", ["file", "samples", "samples at 4 kHz"])
def test_audio_starts_at_zero(tmp_path: Path, speech_wav: Path, given_as: str) -> None:
    """The AAC encoder's 1024 priming samples are marked (edit list), so the audio players hear starts at
    0: unmarked, it started 1024 samples (64 ms, 1.6 frames) late, and lip sync scored our files that late."""
    said = _speech(speech_wav)
    out = tmp_path / "sync.mp4"
    if given_as == "file":
        audio: Path | np.ndarray = speech_wav
        rate = 16000
    elif given_as == "samples":
        audio, rate = said, 16000
    else:  # a rate AAC refuses: resampled to 16 kHz on the way in, compared at 4 kHz's resolution
        audio, rate = said[::4].copy(), 4000
    frames = int(said.size / 16000 * 25)
    with VideoWriter(out, audio, sample_rate=rate, size=(32, 32)) as writer:
        for _ in range(frames):
            writer.write(np.zeros((32, 32, 3), dtype=np.uint8))
    heard = _decoded_mono_16k(out)
    if rate == 16000:
        assert abs(_lag(heard, said)) <= 1
        assert abs(heard.size - said.size) < 1024  # the encoder's tail padding is trimmed too
    else:
        assert abs(_lag(heard[::4], said[::4], max_lag=1000)) <= 1  # +-1 sample at 4 kHz
