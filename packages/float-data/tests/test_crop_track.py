"""The official crop rule, black padding, paste-back, and the stable (smoothed / fixed) crop track."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from float_data import (
    CropBox,
    crop_box_from_face,
    crop_face,
    crop_track,
    paste_back,
    smooth_boxes,
    to_model_tensor,
)
from float_data.crop import crop_region
from float_data.detectors import FaceDetection
from float_data.track import follow_face, interpolate_boxes


def test_official_rule_numbers() -> None:
    box = crop_box_from_face((10, 20, 50, 80))  # w 40, h 60 -> half = int(1.6 * 30) = 48
    assert (box.cx, box.cy, box.half, box.side) == (30.0, 50.0, 48, 96)
    assert box.as_xyxy() == (-18, 2, 78, 98)
    assert crop_box_from_face((0, 0, 10, 10), scale=1.0).half == 5
    with pytest.raises(ValueError, match="x1 > x0"):
        crop_box_from_face((5, 5, 5, 10))


def test_crop_pads_black_and_resizes() -> None:
    image = np.full((40, 60, 3), 200, np.uint8)
    box = CropBox(cx=5.0, cy=20.0, half=10)  # columns -5..15: the first 5 leave the image
    region = crop_region(image, box)
    assert region.shape == (20, 20, 3)
    assert (region[:, :5] == 0).all() and (region[:, 5:] == 200).all()
    out = crop_face(image, box, size=64)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    assert out[:, :14].max() == 0 and out[:, 18:].min() >= 199


def test_paste_back_restores_the_frame() -> None:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (50, 70, 3), dtype=np.uint8)
    box = CropBox(cx=60.0, cy=25.0, half=16)  # partly outside on the right
    crop = crop_face(frame, box, size=box.side)
    np.testing.assert_array_equal(paste_back(frame, crop, box), frame)
    marked = paste_back(frame, np.zeros((64, 64, 3), np.uint8), box)
    assert (marked[9:41, 44:70] == 0).all() and (marked[:, :44] == frame[:, :44]).all()


def test_model_tensor_range() -> None:
    images = np.array([[[[0, 255, 127]]]], np.uint8)  # [1, 1, 1, 3]
    tensor = to_model_tensor(images)
    assert tensor.shape == (1, 3, 1, 1)
    torch.testing.assert_close(tensor.flatten(), torch.tensor([-1.0, 1.0, 127 / 127.5 - 1]))


def test_smooth_track_removes_jitter_and_keeps_constant_boxes() -> None:
    rng = np.random.default_rng(0)
    n = 100
    truth = np.stack([np.linspace(20, 40, n), np.full(n, 30), np.linspace(60, 80, n), np.full(n, 70)], axis=1)
    jittery = truth + rng.normal(0, 3, truth.shape)
    smoothed = smooth_boxes(jittery, 15)
    inner = slice(10, -10)
    assert np.abs(smoothed - truth)[inner].std() < 0.4 * np.abs(jittery - truth)[inner].std()
    step = np.abs(np.diff(smoothed[:, 0])).max()
    assert step < 0.3 * np.abs(np.diff(jittery[:, 0])).max()
    constant = np.tile([1.0, 2.0, 11.0, 12.0], (7, 1))
    np.testing.assert_allclose(smooth_boxes(constant, 5), constant)
    crops = crop_track(constant, mode="smooth", window=5)
    assert all(c == crop_box_from_face((1, 2, 11, 12)) for c in crops)


def test_fixed_track_contains_every_face() -> None:
    centres = np.array([[50, 50], [58, 47], [45, 53], [52, 50]], dtype=float)
    boxes = np.concatenate([centres - 10, centres + 10], axis=1)
    crops = crop_track(boxes, scale=1.6, mode="fixed")
    assert len(set(crops)) == 1
    x0, y0, x1, y1 = crops[0].as_xyxy()
    assert (boxes[:, 0] >= x0).all() and (boxes[:, 2] <= x1).all()
    assert (boxes[:, 1] >= y0).all() and (boxes[:, 3] <= y1).all()


def test_interpolation_and_face_following() -> None:
    boxes = interpolate_boxes({0: (0, 0, 10, 10), 4: (4, 0, 14, 10)}, 6)
    np.testing.assert_allclose(boxes[:, 0], [0, 1, 2, 3, 4, 4])
    a, b = FaceDetection((0, 0, 10, 10), 2.0), FaceDetection((50, 50, 60, 60), 1.0)
    moved = FaceDetection((1, 0, 11, 10), 0.5)
    # after starting on the best face, the track keeps the overlapping face even when another scores higher
    assert follow_face([[a, b], [], [b, moved]]) == [a.box, None, moved.box]
