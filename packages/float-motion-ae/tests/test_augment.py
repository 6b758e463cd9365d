"""Paired augmentation: one transform per pair, the same on both frames, seeded, off when zeroed."""

from __future__ import annotations

import pytest
import torch

from float_motion_ae import PairAugment, augment_pair

OFF = {"channel_mix": 0.0, "gain": 0.0, "offset": 0.0, "flip": False}


def _images(seed: int = 0) -> torch.Tensor:
    return torch.rand(6, 3, 16, 16, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_zero_strengths_leave_the_images_unchanged() -> None:
    x = _images()
    src, drv = augment_pair(x, x.flip(0), PairAugment(**OFF), torch.Generator().manual_seed(0))
    torch.testing.assert_close(src, x)
    torch.testing.assert_close(drv, x.flip(0))


def test_the_same_transform_reaches_source_and_driving() -> None:
    x = _images()
    settings = PairAugment(scale=0.1, roll_deg=8, shift=0.1)
    src, drv = augment_pair(x, x.clone(), settings, torch.Generator().manual_seed(3))
    torch.testing.assert_close(src, drv)  # equal inputs -> equal outputs: the motion between frames is kept
    assert src.shape == x.shape and src.min() >= -1 and src.max() <= 1
    assert (src - x).abs().mean() > 0.05  # and the transform did something


def test_flip_mirrors_whole_pairs_about_half_the_time() -> None:
    x, y = _images(0).repeat(8, 1, 1, 1), _images(1).repeat(8, 1, 1, 1)
    src, drv = augment_pair(x, y, PairAugment(**(OFF | {"flip": True})), torch.Generator().manual_seed(1))
    flipped_src = (src - x.flip(-1)).abs().flatten(1).amax(1) < 1e-6
    flipped_drv = (drv - y.flip(-1)).abs().flatten(1).amax(1) < 1e-6
    kept = (src - x).abs().flatten(1).amax(1) < 1e-6
    assert torch.equal(flipped_src, flipped_drv) and torch.all(flipped_src ^ kept)
    assert 12 <= int(flipped_src.sum()) <= 36  # 48 pairs, p = 0.5


def test_seeded_and_shape_checked() -> None:
    x = _images()
    settings = PairAugment(scale=0.05)
    a = augment_pair(x, x, settings, torch.Generator().manual_seed(7))[0]
    b = augment_pair(x, x, settings, torch.Generator().manual_seed(7))[0]
    torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="must match"):
        augment_pair(x, x[:2], settings, torch.Generator())
