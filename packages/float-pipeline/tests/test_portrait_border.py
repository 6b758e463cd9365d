"""A face crop that runs past the image is padded by mirroring the border, never with a black or flat band."""

from __future__ import annotations

import numpy as np
import pytest

from float_data import CropBox, crop_face
from float_pipeline.portrait import crop_reflected, face_box, prepare_portrait


def _flat_lines(crop: np.ndarray, tolerance: float = 2.0) -> tuple[int, int]:
    """(rows, columns) of a uint8 [S, S, 3] crop that are one flat colour (a black or grey bar)."""
    grey = crop.astype(np.float32).mean(axis=2)
    return int((grey.std(axis=1) < tolerance).sum()), int((grey.std(axis=0) < tolerance).sum())


def test_a_box_inside_the_image_crops_exactly_as_before() -> None:
    image = np.random.default_rng(0).integers(0, 256, (90, 120, 3), dtype=np.uint8)
    box = CropBox(cx=60, cy=45, half=30)
    assert np.array_equal(crop_reflected(image, box, 32), crop_face(image, box, 32))


def test_the_overhang_mirrors_the_border() -> None:
    image = np.arange(6 * 8 * 3, dtype=np.uint8).reshape(6, 8, 3)
    box = CropBox(cx=1, cy=1, half=3)  # rows and columns -2..3: two past the top and the left
    out = crop_reflected(image, box, 6)
    assert np.array_equal(out[2:, 2:], image[:4, :4])
    assert np.array_equal(out[:2, 2:], image[1::-1, :4])  # rows 1, 0 mirrored above row 0
    assert np.array_equal(out[2:, :2], image[:4, 1::-1])


def test_a_portrait_at_the_image_corner_gets_no_black_or_grey_band() -> None:
    skimage_data = pytest.importorskip("skimage.data")
    full = skimage_data.astronaut()
    x0, y0, _, _ = face_box(full).as_xyxy()
    # The astronaut cut so that her 1.6x square runs 20 px past the top and the left of the image.
    corner = np.ascontiguousarray(full[y0 + 28 :, x0 + 28 :])
    portrait = prepare_portrait(corner, 64)
    assert portrait.box.x0 < 0 and portrait.box.y0 < 0, portrait.box
    assert _flat_lines(portrait.crop) == (0, 0)
    overhang = portrait.crop[:6].astype(np.float32)
    assert overhang.mean() > 40 and overhang.std() > 10  # neither black nor one flat colour
    # the same box with the former black padding does have the band
    assert _flat_lines(crop_face(corner, portrait.box, 64))[0] > 0
