"""proof.portraits: dlib layouts of the extra training views, written atomically as PNG + JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import skimage.data

from float_data import DlibDetector
from float_tools.proof.portraits import face_layout, write_portraits


def test_mirrored_astronaut_layout_is_the_mirror_of_the_original(tmp_path: Path) -> None:
    names = write_portraits(tmp_path)
    assert names == ["astronaut_flip", "carphone0_flip", "carphone60", "carphone90"]
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind
    flipped = json.loads((tmp_path / "astronaut_flip.json").read_text())
    astronaut = np.ascontiguousarray(skimage.data.astronaut()[..., :3])
    original = face_layout(DlibDetector(upsample=1), astronaut, "astronaut")
    width = 512
    # mirroring swaps the eyes and reflects x; dlib is not exactly mirror-symmetric, hence 3 px
    assert flipped["left_eye"][0] == pytest.approx(width - 1 - original["right_eye"][0], abs=3)
    assert flipped["mouth"][0] == pytest.approx(width - 1 - original["mouth"][0], abs=3)
    assert flipped["mouth"][1] == pytest.approx(original["mouth"][1], abs=3)
    assert flipped["mouth_width"] == pytest.approx(original["mouth_width"], rel=0.1)


def test_extra_image_must_exist(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.png"):
        write_portraits(tmp_path, {"x": tmp_path / "nope.png"})
