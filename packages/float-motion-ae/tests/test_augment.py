"""Paired augmentation: one transform per pair, the same on both frames, seeded, off when zeroed."""

from __future__ import annotations

import pytest
import torch

from float_motion_ae.training import PairAugment, augment_pair

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


def _blob(batch: int, size: int = 32) -> torch.Tensor:
    """A bright Gaussian spot at the image centre on a dark field: its centroid tracks the warp."""
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    spot = torch.exp(-((xs - size / 2 + 0.5) ** 2 + (ys - size / 2 + 0.5) ** 2) / (2 * 2.0**2))
    return (spot * 2 - 1).expand(batch, 3, size, size).clone()


def _centroid(images: torch.Tensor) -> torch.Tensor:
    weight = (images[:, 0] + 1).clamp_min(0)
    size = images.shape[-1]
    coords = torch.arange(size, dtype=images.dtype)
    total = weight.sum((1, 2))
    return torch.stack([(weight.sum(1) * coords).sum(1) / total, (weight.sum(2) * coords).sum(1) / total], 1)


def test_shape_reshapes_each_pair_smoothly_and_alike_on_both_frames() -> None:
    x = _blob(16)
    settings = PairAugment(**(OFF | {"shape": 0.1}))
    src, drv = augment_pair(x, x.clone(), settings, torch.Generator().manual_seed(5))
    torch.testing.assert_close(src, drv)
    moved = (_centroid(src) - _centroid(x)).norm(dim=1)  # pixels, 32 px images (half-width 16 px)
    # The displacement at the centre has std 0.1 half-widths per axis (1.6 px): pairs get different shapes,
    # none is torn apart.
    assert moved.std() > 0.3 and 0.5 < moved.mean() < 4.0 and moved.max() < 8.0
    # Smooth: the spot stays one spot of about its size, no pixel noise (a Gaussian keeps most of its peak).
    assert src[:, 0].amax((1, 2)).min() > 0.6


def test_recipes_without_shape_keep_their_random_stream() -> None:
    x = _images()
    settings = PairAugment(scale=0.05, roll_deg=3, shift=0.02)
    used = torch.Generator().manual_seed(11)
    augment_pair(x, x, settings, used)
    # The draws of the colour + flip + layout transform, in order, and nothing for the (off) shape field.
    replay = torch.Generator().manual_seed(11)
    b = x.shape[0]
    for draw in ((b, 3, 3), (b, 1, 1), (b, 3, 1, 1)):
        torch.randn(*draw, generator=replay)
    for draw in ((b,), (b,), (b,), (b, 2)):
        torch.rand(*draw, generator=replay)
    assert torch.equal(torch.rand(4, generator=used), torch.rand(4, generator=replay))


def test_drive_pose_moves_the_driving_frame_only() -> None:
    x = _blob(16)
    settings = PairAugment(**(OFF | {"drive_shift": 0.2, "drive_roll_deg": 5.0, "drive_scale": 0.05}))
    src, drv = augment_pair(x, x.clone(), settings, torch.Generator().manual_seed(2))
    torch.testing.assert_close(src, x)  # the source keeps its pose: the pair's motion grows
    moved = (_centroid(drv) - _centroid(x)).norm(dim=1)  # the spot is central: the shift moves it
    assert moved.mean() > 0.8 and moved.max() < 0.2 * 16 * 2**0.5 + 0.5  # <= the largest shift, 32 px
    # Composed with a shared layout change the driving frame is still sampled once: equal frames differ
    # only by the driving frame's own pose change.
    both = PairAugment(**(OFF | {"roll_deg": 10.0, "drive_shift": 0.2}))
    src, drv = augment_pair(x, x.clone(), both, torch.Generator().manual_seed(2))
    assert (src - drv).abs().amax() > 0.2
    assert src[:, 0].amax((1, 2)).min() > 0.6 and drv[:, 0].amax((1, 2)).min() > 0.6
