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
