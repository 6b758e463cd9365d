"""The official crop rule (crop_rule="official") with a stub detector: face-alignment's SFD weights cannot be
downloaded here, so the stub plays SFD (boxes with probabilities) and dlib (the fallback)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

import float_pipeline.portrait as portrait_module
from float_data import CropBox, FaceDetection
from float_data.crop import crop_region
from float_pipeline import GenerateOptions, Pipeline, prepare_portrait
from float_pipeline.official_crop import detection_copy, find_sfd_weights, official_face_box, official_resize


class StubDetector:
    """Returns fixed boxes (in the pixels of the image it is given) and records the images it saw."""

    provides_landmarks = False

    def __init__(self, name: str, faces: list[tuple[tuple[float, float, float, float], float]]) -> None:
        self.name = name
        self.faces = faces
        self.seen: list[np.ndarray] = []

    def detect(self, image: np.ndarray) -> list[FaceDetection]:
        self.seen.append(image)
        return [FaceDetection(box, score) for box, score in self.faces]

    def landmarks(self, image: np.ndarray, box: tuple[float, float, float, float]) -> None:
        return None


def _image(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_detection_copy_is_360_rows_area_down_cubic_up() -> None:
    tall, small = _image(720, 540), _image(200, 150)
    down, factor = detection_copy(tall)
    assert factor == 0.5 and np.array_equal(down, cv2.resize(tall, (270, 360), interpolation=cv2.INTER_AREA))
    up, factor = detection_copy(small)
    assert factor == 1.8 and np.array_equal(up, cv2.resize(small, (270, 360), interpolation=cv2.INTER_CUBIC))
    same, factor = detection_copy(_image(360, 100))
    assert factor == 1.0 and same.shape == (360, 100, 3)


def test_first_face_above_0_95_in_original_pixels_with_the_1_6_box() -> None:
    image = _image(720, 720)
    stub = StubDetector(
        "face-alignment",
        [((10, 10, 50, 50), 0.90), ((100, 80, 160, 170), 0.99), ((0, 0, 300, 300), 0.97)],
    )
    box = official_face_box(stub, image)
    assert stub.seen[0].shape == (360, 360, 3)
    # the first box scoring > 0.95, mapped back x2: (200, 160, 320, 340), 120 x 180 px
    assert box == CropBox(cx=260.0, cy=250.0, half=int(1.6 * 90))
    assert official_face_box(StubDetector("face-alignment", [((0, 0, 9, 9), 0.95)]), image) is None
    # dlib's scores are SVM margins, not probabilities: no 0.95 filter for them
    assert official_face_box(StubDetector("dlib", [((0, 0, 9, 9), 0.3)]), image, min_score=None) is not None


@pytest.mark.parametrize(("height", "filter_"), [(720, cv2.INTER_AREA), (300, cv2.INTER_CUBIC)])
def test_resize_filter_follows_the_original_height_not_the_crop_side(height: int, filter_: int) -> None:
    image = _image(height, 400)
    box = CropBox(cx=200, cy=height / 2, half=100)  # a 200-px crop: enlarged to 512 in both cases
    region = crop_region(image, box)
    expected = cv2.resize(region, (512, 512), interpolation=filter_)
    assert np.array_equal(official_resize(region, height, 512), expected)
    # a bundle that is not 512 px: the official 512 crop, then area-resized
    small = official_resize(region, height, 256)
    assert np.array_equal(small, cv2.resize(expected, (256, 256), interpolation=cv2.INTER_AREA))


def test_prepare_portrait_official_rule_says_which_detector_it_used(
    portrait_png: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    detectors = {
        "face-alignment": StubDetector("face-alignment", [((100, 90, 200, 230), 0.99)]),
        "dlib": StubDetector("dlib", [((100, 90, 200, 230), 1.2)]),
    }
    monkeypatch.setattr(portrait_module, "cached_detector", lambda name, weights: detectors[name])
    sfd = prepare_portrait(portrait_png, 64, detector="face-alignment", rule="official")
    assert sfd.detector == "face-alignment" and sfd.note is None
    # the portrait is 256 rows: detection on a 360-row copy, boxes mapped back (/1.40625)
    assert detectors["face-alignment"].seen[0].shape[0] == 360
    assert sfd.box == CropBox(cx=150 / 1.40625, cy=160 / 1.40625, half=int(1.6 * 70 / 1.40625))
    fallback = prepare_portrait(portrait_png, 64, detector="dlib", rule="official")
    assert fallback.detector == "dlib" and fallback.box == sfd.box
    assert fallback.note is not None and "s3fd-619a316812.pth not found" in fallback.note
    kit = prepare_portrait(portrait_png, 64, detector="dlib")
    assert kit.detector == "dlib" and kit.note is None


def test_official_bundle_defaults_reach_the_crop_and_the_result(
    tiny_bundle: Path, portrait_png: Path, speech_wav: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bundle)
    manifest = json.loads((bundle / "bundle.json").read_text())
    manifest["defaults"] |= {"crop_rule": "official", "detector": "auto", "fix_noise_seed": True}
    (bundle / "bundle.json").write_text(json.dumps(manifest))
    asked: list[tuple[str, str | None]] = []

    def stub(name: str, weights: str | None) -> StubDetector:
        asked.append((name, weights))
        return StubDetector("dlib", [((100, 90, 200, 230), 1.2)])  # auto without SFD weights: dlib

    monkeypatch.setattr(portrait_module, "cached_detector", stub)
    pipe = Pipeline.from_pretrained(bundle, progress=False)
    result = pipe.generate(portrait_png, speech_wav, tmp_path / "out.mp4", steps=1)
    assert asked[0] == ("auto", None if find_sfd_weights() is None else str(find_sfd_weights()))
    assert result.detector == "dlib" and len(result.notes) == 1 and "official crop rule" in result.notes[0]
    clip = pipe.prepare(portrait_png, speech_wav, GenerateOptions(crop_rule="kit", detector="dlib"))
    assert clip.portrait.note is None and asked[-1] == ("dlib", None)
