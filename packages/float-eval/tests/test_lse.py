"""SyncNet architecture, MFCC, the +-15 offset search and LSE-D / LSE-C on a synthetic sync signal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import python_speech_features
import torch

from float_eval.nets import SyncNet, load_syncnet
from float_eval.ops import face_tracks, lse_from_distances, mfcc, offset_distances, syncnet_lse


def test_syncnet_state_dict_loads_strictly_and_shapes(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = SyncNet()
    state = net.state_dict()
    # Names and shapes of syncnet_python's S: conv 0 of each stream, the last conv and both fc heads.
    assert tuple(state["netcnnaud.0.weight"].shape) == (64, 1, 3, 3)
    assert tuple(state["netcnnaud.18.weight"].shape) == (512, 256, 5, 4)
    assert tuple(state["netcnnlip.0.weight"].shape) == (96, 3, 5, 7, 7)
    assert tuple(state["netcnnlip.18.weight"].shape) == (512, 256, 1, 6, 6)
    assert tuple(state["netfcaud.3.weight"].shape) == (1024, 512)
    assert tuple(state["netfclip.1.running_var"].shape) == (512,)
    torch.save(state, tmp_path / "syncnet_v2.model")
    loaded = load_syncnet(tmp_path / "syncnet_v2.model")
    assert not loaded.training
    with torch.no_grad():
        assert loaded.forward_aud(torch.randn(2, 1, 13, 20)).shape == (2, 1024)
        assert loaded.forward_lip(torch.rand(2, 3, 5, 224, 224) * 255).shape == (2, 1024)
    state.pop("netfclip.3.bias")
    torch.save(state, tmp_path / "broken.model")
    with pytest.raises(RuntimeError, match="Missing key"):
        load_syncnet(tmp_path / "broken.model")


def test_mfcc_is_python_speech_features_on_int16() -> None:
    rng = np.random.default_rng(0)
    audio = (rng.normal(size=16000) * 3000).astype(np.int16)
    ref = python_speech_features.mfcc(audio, 16000).T
    np.testing.assert_array_equal(mfcc(audio), ref)
    assert ref.shape == (13, 99)  # 100 Hz
    np.testing.assert_allclose(mfcc(audio.astype(np.float32) / 32768.0), ref, rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match="16 kHz"):
        mfcc(audio, 8000)


@pytest.mark.parametrize("k", [-4, 0, 3, 7])
def test_offset_search_finds_known_shift_on_embeddings(k: int) -> None:
    torch.manual_seed(k + 10)
    signal = torch.randn(140, 8)
    audio = signal[20:120]
    video = signal[20 - k : 120 - k]  # video frame i shows what audio frame i - k says: video delayed by k
    result = lse_from_distances(offset_distances(video, audio, vshift=15), vshift=15)
    assert result.offset == k
    assert result.frames == 100
    assert result.lse_c > 0


def test_distance_table_matches_reference_semantics() -> None:
    video = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    audio = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    d = offset_distances(video, audio, vshift=1)
    assert d.shape == (3, 3)
    # Column 1 (offset 0) pairs frame i with audio i; out-of-range audio is a zero vector, not skipped.
    torch.testing.assert_close(d[:, 1], torch.tensor([0.0, 0.0, 1.0]), atol=1e-5, rtol=0)
    torch.testing.assert_close(d[0, 0], torch.tensor(0.0), atol=1e-5, rtol=0)  # zero pad vs zero frame
    torch.testing.assert_close(d[2, 2], torch.tensor(2.0), atol=1e-5, rtol=0)  # zero pad vs [0, 2]
    result = lse_from_distances(torch.tensor([[3.0, 1.0, 2.0, 5.0, 4.0]]), vshift=2)
    assert (result.lse_d, result.lse_c, result.offset) == (1.0, 2.0, 1)


class _SyncStandIn(torch.nn.Module):
    """Lip stream: brightness of the middle frame of the 5-frame stack; audio: is the middle 40 ms loud."""

    def forward_lip(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, 2].mean(dim=(1, 2, 3))[:, None] / 255.0

    def forward_aud(self, x: torch.Tensor) -> torch.Tensor:
        return (x[:, 0, 0, 8:12].mean(dim=1) > 0).float()[:, None]


@pytest.mark.parametrize("k", [0, 2, 5])
def test_lse_pipeline_finds_video_delay_on_synthetic_talking_signal(k: int) -> None:
    rng = np.random.default_rng(k)
    frames_n = 80
    loud = rng.random(frames_n + 10) > 0.5
    t = np.arange(640) / 16000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    audio = np.concatenate([tone if on else np.zeros(640, np.float32) for on in loud[:frames_n]])
    # Mouth "open" (bright) when the audio is loud, shown k frames late.
    shown = np.concatenate([np.zeros(k, bool), loud[: frames_n - k]])
    faces = torch.from_numpy(np.where(shown, 255, 0).astype(np.uint8))[:, None, None, None].expand(
        frames_n, 3, 8, 8
    )
    result = syncnet_lse(_SyncStandIn(), faces, audio, vshift=15)
    assert result.offset == k
    assert result.lse_d < 0.25  # most frames agree at the right offset (edges meet zero padding)
    assert result.lse_c > 0.25


def test_face_tracks_interpolate_short_gaps_and_drop_short_tracks() -> None:
    box = np.array([10.0, 10.0, 50.0, 60.0])
    boxes: list[np.ndarray | None] = [box + i for i in range(120)]
    for i in (30, 31, 32):
        boxes[i] = None
    tracks = face_tracks(boxes, min_track=100)
    assert len(tracks) == 1
    first, filled = tracks[0]
    assert first == 0 and filled.shape == (120, 4)
    np.testing.assert_allclose(filled[31], box + 31)
    assert face_tracks(boxes[:90], min_track=100) == []
    boxes[40:70] = [None] * 30  # a gap longer than 25 frames splits the track; both halves are too short
    assert face_tracks(boxes, min_track=60) == []


def test_syncnet_crops_follow_reference_geometry() -> None:
    from float_eval.ops import syncnet_crops

    frames = torch.zeros(15, 3, 100, 100, dtype=torch.uint8)
    frames[:, :, 40:60, 40:60] = 200  # the "face"
    boxes = np.tile(np.array([40.0, 40.0, 60.0, 60.0]), (15, 1))
    crops = syncnet_crops(frames, boxes, crop_scale=0.4, size=224)
    assert crops.shape == (15, 3, 224, 224)
    # bs = 10: rows 40..68 (bs above, 1.8 bs below the centre), cols 36..64 (1.4 bs each side): 28x28 -> 224.
    mid = crops[7, 0]
    assert float(mid[0, 112]) == pytest.approx(200.0)  # top edge starts at the box top
    assert float(mid[-1, 112]) == pytest.approx(0.0)  # bottom reaches below the box
    assert float(mid[112, 0]) == pytest.approx(0.0) and float(mid[112, 40]) == pytest.approx(200.0)
    edge = syncnet_crops(frames[:3], np.tile(np.array([0.0, 0.0, 20.0, 20.0]), (3, 1)))
    assert float(edge[1, 0, 0, 0]) == pytest.approx(110.0)  # outside the frame: the reference's grey padding


def test_crops_cut_the_window_of_the_padded_frame_without_padding_it() -> None:
    """crop_frames builds only the window syncnet_python cuts from its grey-padded frame: same values."""
    import torch.nn.functional as F

    from float_eval.ops import crop_frames

    def padded_reference(frame: torch.Tensor, bs: float, cy: float, cx: float, crop_scale: float = 0.4):
        pad = int(bs * (1 + 2 * crop_scale))
        img = F.pad(frame.float(), (pad, pad, pad, pad), value=110.0)
        my, mx = cy + pad, cx + pad
        face = img[
            :,
            int(my - bs) : int(my + bs * (1 + 2 * crop_scale)),
            int(mx - bs * (1 + crop_scale)) : int(mx + bs * (1 + crop_scale)),
        ]
        return F.interpolate(face[None], size=(224, 224), mode="bilinear", align_corners=False)[0]

    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    frames = torch.randint(0, 256, (120, 3, 48, 64), dtype=torch.uint8)
    geometry = np.stack([rng.uniform(3, 40, 120), rng.uniform(-10, 60, 120), rng.uniform(-10, 75, 120)], 1)
    compared = 0
    for i in range(120):
        try:
            expected = padded_reference(frames[i], *geometry[i])
        except RuntimeError:  # an empty window (box far outside the frame) fails in both
            with pytest.raises(RuntimeError):
                crop_frames(frames[i : i + 1], geometry[i : i + 1])
            continue
        assert torch.equal(crop_frames(frames[i : i + 1], geometry[i : i + 1])[0], expected)
        compared += 1
    assert compared > 100
