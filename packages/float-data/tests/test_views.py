"""Training views: AutoEncoderPairs (stage 1); MotionWindows over caches built by caller callables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from float_data import (
    AutoEncoderPairs,
    AutoEncoderPairStream,
    MotionWindows,
    MotionWindowStream,
    PairSampling,
    PrepareConfig,
    PreparedDataset,
    build_motion_cache,
    prepare_dataset,
)

CONFIG = PrepareConfig(crop_size=32, detect_every=10, smooth_window=5, val_fraction=0.0, test_fraction=0.0)


@pytest.fixture(scope="module")
def data(tmp_path_factory, make_clip, espeak_wav: Path) -> PreparedDataset:
    src = tmp_path_factory.mktemp("views_src")
    make_clip(src / "one.mp4", seconds=3.0, fps=25, size=64)
    make_clip(src / "two.mp4", seconds=2.6, fps=30, size=64, audio=espeak_wav)
    out = tmp_path_factory.mktemp("views_out")
    report = prepare_dataset(src, out, CONFIG)
    assert [e.n_frames for e in report.entries] == [75, 65]
    return PreparedDataset(out)


def test_pair_sampling_rule() -> None:
    rng = np.random.default_rng(0)
    rule = PairSampling(min_gap=2, max_gap=5)
    draws = [rule.draw(10, 30, rng) for _ in range(300)]
    assert set(draws) == {5, 6, 7, 8, 12, 13, 14, 15}
    assert PairSampling().draw(0, 1, rng) == 0  # a one-frame video pairs a frame with itself
    with pytest.raises(ValueError, match="min_gap"):
        PairSampling(min_gap=4, max_gap=2)


def test_autoencoder_pairs_random_access(data: PreparedDataset) -> None:
    pairs = AutoEncoderPairs(data, "train", PairSampling(min_gap=1, max_gap=10), seed=3)
    assert len(pairs) == 140
    item = pairs[80]
    assert item["source"].shape == item["driving"].shape == (3, 32, 32)
    assert item["source"].min() >= -1 and item["driving"].max() <= 1
    assert item["video_id"] == "two" and item["driving_index"] == 5
    assert 1 <= abs(item["source_index"] - 5) <= 10
    assert item["driving_landmarks"].shape == (68, 2)
    again = AutoEncoderPairs(data, "train", PairSampling(min_gap=1, max_gap=10), seed=3)[80]
    assert again["source_index"] == item["source_index"]  # reproducible
    sources = set()
    for epoch in range(6):
        pairs.set_epoch(epoch)
        sources.add(pairs[80]["source_index"])
    assert len(sources) > 1  # each epoch draws again
    batch = next(iter(DataLoader(pairs, batch_size=4)))
    assert batch["source"].shape == (4, 3, 32, 32)
    with pytest.raises(IndexError):
        pairs[140]


def test_autoencoder_pair_stream_covers_each_frame_once(data: PreparedDataset) -> None:
    stream = AutoEncoderPairStream(data, "train", PairSampling(max_gap=3), seed=1)
    seen = [(item["video_id"], item["driving_index"]) for item in stream]
    assert len(seen) == 140 and len(set(seen)) == 140
    assert seen[:5] != [(seen[0][0], k) for k in range(5)]  # shuffled


def _toy_encoders():
    def encode_motion(crops: torch.Tensor) -> torch.Tensor:  # [B, 3, S, S] -> [B, 6]
        return torch.cat([crops.mean(dim=(2, 3)), crops.std(dim=(2, 3))], dim=1)

    def encode_audio(wav: torch.Tensor, frames: int) -> torch.Tensor:  # [N] -> [T, 1] RMS per 40 ms frame
        return wav[: frames * 640].reshape(frames, 640).pow(2).mean(dim=1, keepdim=True).sqrt()

    def predict_emotion(wav: torch.Tensor) -> torch.Tensor:
        return torch.softmax(torch.arange(7, dtype=torch.float32) * wav.abs().mean(), dim=0)

    def estimate_pose(crops: torch.Tensor) -> torch.Tensor:  # [B, 3, S, S] -> [B, 6]
        return crops[:, :, :2, :1].reshape(crops.shape[0], 6)

    return encode_motion, encode_audio, predict_emotion, estimate_pose


def test_motion_cache_and_windows(data: PreparedDataset, tmp_path: Path, capsys) -> None:
    motion_fn, audio_fn, emotion_fn, pose_fn = _toy_encoders()
    files = build_motion_cache(data, tmp_path, motion_fn, audio_fn, emotion_fn, pose_fn, batch_size=16)
    assert [f.name for f in files] == ["one.safetensors", "two.safetensors"]
    assert capsys.readouterr().err == ""  # quiet unless asked
    stamp = files[0].stat().st_mtime_ns
    build_motion_cache(data, tmp_path, motion_fn, audio_fn, emotion_fn, pose_fn, progress=True)
    assert files[0].stat().st_mtime_ns == stamp  # cached videos are not recomputed
    bar = capsys.readouterr().err
    assert f"caching {data.root.name}" in bar and "2/2" in bar

    windows = MotionWindows(data, tmp_path, "train", context=10, length=50, stride=5)
    # one: 75 frames -> starts 0..15 step 5 (4 windows); two: 65 frames -> starts 0, 5 (2 windows)
    assert windows.index == [("one", 0), ("one", 5), ("one", 10), ("one", 15), ("two", 0), ("two", 5)]
    item = windows[5]
    assert (
        item["motion"].shape == (60, 6) and item["audio"].shape == (60, 1) and item["pose"].shape == (60, 6)
    )
    assert item["emotion"].shape == (7,) and torch.isclose(item["emotion"].sum(), torch.tensor(1.0))
    # the window's audio feature k is the RMS of the 640 samples of frame start + k: alignment is exact
    videos = data.videos("train")
    wav = torch.tensor(videos[1]["audio"])
    expected = wav[(5 + 7) * 640 : (5 + 8) * 640].pow(2).mean().sqrt()
    torch.testing.assert_close(item["audio"][7, 0], expected)
    # the motion of frame start + k is the encoder's output on that frame's crop
    frames = data.frames("train")
    crop = torch.from_numpy(np.array(frames[75 + 5 + 3]["image"])).float().div(127.5).sub(1).permute(2, 0, 1)
    torch.testing.assert_close(item["motion"][3], motion_fn(crop[None])[0], atol=1e-5, rtol=0)

    stream = MotionWindowStream(data, tmp_path, "train", stride=5, seed=0, random_offset=False)
    streamed = sorted((w["video_id"], w["start"]) for w in stream)
    assert streamed == windows.index
    shifted = MotionWindowStream(data, tmp_path, "train", stride=50, seed=2)
    starts = [w["start"] for w in shifted]
    assert all(0 <= s <= 15 for s in starts) and len(starts) == 2


def test_cache_rejects_wrong_shapes(data: PreparedDataset, tmp_path: Path) -> None:
    motion_fn, audio_fn, emotion_fn, _ = _toy_encoders()
    with pytest.raises(ValueError, match=r"encode_audio output for video one must have shape \(75, None\)"):
        build_motion_cache(data, tmp_path, motion_fn, lambda wav, t: audio_fn(wav, t)[:-1], emotion_fn)
    with pytest.raises(FileNotFoundError, match="build_motion_cache"):
        MotionWindows(data, tmp_path / "empty", "train")
