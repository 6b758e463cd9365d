"""Identity augmentation: seeded, neutral when off, geometry that the ground truth follows to a pixel."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from float_tools.corpus import (
    CorpusConfig,
    FaceLayout,
    FaceRenderer,
    build_corpus,
    crop_portrait,
    load_portrait,
)
from float_tools.corpus.augment import AugmentParams, augment_portrait, clip_rng, draw_params
from float_tools.corpus.build import parse_args
from float_tools.corpus.config import AugmentConfig

# A synthetic face: three dark dots on grey at known eye and mouth positions, in a 400 px photo.
LAYOUT = FaceLayout(left_eye=(170.0, 160.0), right_eye=(230.0, 164.0), mouth=(202.0, 232.0), mouth_width=56.0)


def _dots(size: int = 400, radius: float = 3.0) -> np.ndarray:
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    image = np.full((size, size), 200.0)
    for x, y in (LAYOUT.left_eye, LAYOUT.right_eye, LAYOUT.mouth):
        image -= 180.0 * np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * radius**2))
    return np.repeat(np.clip(image, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def _dot_centre(image: np.ndarray, near: tuple[float, float], window: int = 7) -> tuple[float, float]:
    """Darkness-weighted centroid in a window around ``near``."""
    x0, y0 = round(near[0]) - window, round(near[1]) - window
    patch = 200.0 - image[y0 : y0 + 2 * window + 1, x0 : x0 + 2 * window + 1, 0].astype(np.float64)
    patch = np.clip(patch, 0.0, None)
    ys, xs = np.mgrid[0 : 2 * window + 1, 0 : 2 * window + 1]
    return (x0 + float((patch * xs).sum() / patch.sum()), y0 + float((patch * ys).sum() / patch.sum()))


@pytest.mark.parametrize(("scale", "rotation"), [(1.15, 10.0), (0.85, -8.0), (1.0, 15.0), (0.7, 0.0)])
def test_the_layout_follows_a_known_rotation_and_scale_within_a_pixel(scale: float, rotation: float) -> None:
    resolution = 128
    plain = crop_portrait(_dots(), LAYOUT, resolution)
    moved = augment_portrait(_dots(), LAYOUT, resolution, AugmentParams(scale=scale, rotation_deg=rotation))
    pairs = zip(
        (moved.layout.left_eye, moved.layout.right_eye, moved.layout.mouth),
        (plain.layout.left_eye, plain.layout.right_eye, plain.layout.mouth),
        strict=True,
    )
    centre = (resolution / 2, resolution / 2)
    theta = math.radians(rotation)
    for got, before in pairs:
        seen = _dot_centre(moved.image, got)
        assert math.dist(seen, got) < 1.0, (seen, got)
        # the expected map: zoom and counter-clockwise turn (on screen, y down) about the crop centre
        dx, dy = before[0] - centre[0], before[1] - centre[1]
        expected = (
            centre[0] + scale * (math.cos(theta) * dx + math.sin(theta) * dy),
            centre[1] + scale * (-math.sin(theta) * dx + math.cos(theta) * dy),
        )
        assert math.dist(got, expected) < 0.05
    assert moved.layout.mouth_width == pytest.approx(plain.layout.mouth_width * scale, rel=1e-6)
    # the renderer's face box is centred between the dots it sees and sized from their spacing
    marks = FaceRenderer(moved).landmarks(0.0, 0.0, (0.0, 0.0), 1.0)
    eyes = [_dot_centre(moved.image, p) for p in (moved.layout.left_eye, moved.layout.right_eye)]
    mouth = _dot_centre(moved.image, moved.layout.mouth)
    eye_mid = ((eyes[0][0] + eyes[1][0]) / 2, (eyes[0][1] + eyes[1][1]) / 2)
    face_centre = ((eye_mid[0] + mouth[0]) / 2, (eye_mid[1] + mouth[1]) / 2)
    x0, y0, x1, y1 = marks.face_box
    assert math.dist(((x0 + x1) / 2, (y0 + y1) / 2), face_centre) < 1.0
    assert abs((x1 - x0) - 2.3 * math.dist(eye_mid, mouth)) < 1.0  # axis-aligned, like a detector's box


def test_neutral_parameters_give_the_usual_crop_byte_for_byte() -> None:
    image, layout = load_portrait("astronaut")
    for resolution in (64, 128):
        plain = crop_portrait(image, layout, resolution, source="astronaut")
        same = augment_portrait(image, layout, resolution, AugmentParams(), source="astronaut")
        assert same.image.tobytes() == plain.image.tobytes() and same.layout == plain.layout


def test_the_same_seed_gives_the_same_bytes_and_clips_differ() -> None:
    image, layout = load_portrait("astronaut")
    config = AugmentConfig(glasses=0.5)

    def look(seed: int, index: int) -> bytes:
        return augment_portrait(image, layout, 64, draw_params(config, clip_rng(seed, index))).image.tobytes()

    assert look(3, 5) == look(3, 5)
    assert len({look(3, 5), look(3, 6), look(4, 5)}) == 3
    params = [draw_params(config, clip_rng(0, i)) for i in range(200)]
    assert all(0.85 <= p.scale <= 1.15 and abs(p.rotation_deg) <= 8.0 for p in params)
    assert all(0.0 <= p.blur_sigma <= 1.0 and 0.0 <= p.light_strength <= 0.35 for p in params)
    assert all(0.8 * 0.88 - 1e-9 <= g <= 1.2 * 1.12 + 1e-9 for p in params for g in p.gains)
    assert 0.35 < np.mean([p.glasses for p in params]) < 0.65
    # a strength of zero switches its part off without moving the other draws
    plain = draw_params(config.model_copy(update={"glasses": 0.0}), clip_rng(0, 1))
    assert not plain.glasses and plain.scale == params[1].scale and plain.gains == params[1].gains


def test_colour_light_blur_and_glasses_do_what_they_say() -> None:
    grey = np.full((400, 400, 3), 128, np.uint8)
    gains = augment_portrait(grey, LAYOUT, 64, AugmentParams(gains=(1.2, 1.0, 0.8))).image
    assert np.abs(gains.reshape(-1, 3).mean(0) - [153.6, 128.0, 102.4]).max() < 0.6
    lit = augment_portrait(grey, LAYOUT, 64, AugmentParams(light_strength=0.3)).image.astype(float)
    # angle 0: brighter to the right, 1 -+ 0.3 at the edges
    assert lit[:, :4].mean() == pytest.approx(128 * 0.72, abs=2) and lit[:, -4:].mean() == pytest.approx(
        128 * 1.28, abs=2
    )
    sharp = augment_portrait(_dots(), LAYOUT, 64, AugmentParams()).image.astype(float)
    soft = augment_portrait(_dots(), LAYOUT, 64, AugmentParams(blur_sigma=1.0)).image.astype(float)
    assert np.abs(np.diff(soft, axis=1)).sum() < 0.7 * np.abs(np.diff(sharp, axis=1)).sum()
    worn = augment_portrait(grey, LAYOUT, 128, AugmentParams(glasses=True, glasses_tint=0.7)).image
    plain = crop_portrait(grey, LAYOUT, 128)
    darker = worn[..., 0].astype(int) < 110
    mouth = plain.layout.mouth
    eye = plain.layout.left_eye
    assert darker[round(eye[1]), round(eye[0])]  # a dark lens over the eye
    assert not darker[round(mouth[1]) - 3 : round(mouth[1]) + 4, :].any()  # nothing near the mouth
    assert 0.01 < darker.mean() < 0.2  # two lenses and the frame, not the face


def test_augment_config_checks_its_ranges() -> None:
    with pytest.raises(ValidationError, match="scale"):
        AugmentConfig(scale=(1.2, 1.0))
    with pytest.raises(ValidationError, match="blur_sigma"):
        AugmentConfig(blur_sigma=(0.0, 5.0))
    with pytest.raises(ValidationError):
        AugmentConfig(rotation_deg=30.0)


def test_augmentation_off_leaves_every_dump_as_before() -> None:
    base = {"portraits": ["astronaut"], "voices": ["en-us"], "sentences": ["Hi."], "n_clips": 1, "seed": 0}
    off = CorpusConfig(**base)
    assert "augment" not in off.model_dump(mode="json") and "augment" not in off.identity()
    on = CorpusConfig(**base, augment=AugmentConfig())
    assert on.identity()["augment"]["rotation_deg"] == 8.0
    assert CorpusConfig.model_validate(on.model_dump(mode="json")) == on


def test_cli_augment_flags(tmp_path: Path) -> None:
    common = ["--n-clips", "1", "--out", str(tmp_path / "c")]
    assert parse_args(common)[0].augment is None
    assert parse_args([*common, "--augment"])[0].augment == AugmentConfig()
    strengths = tmp_path / "augment.json"
    strengths.write_text(json.dumps({"glasses": 0.0, "rotation_deg": 4.0}))
    config = parse_args([*common, "--augment-config", str(strengths)])[0]
    assert config.augment == AugmentConfig(glasses=0.0, rotation_deg=4.0)


@pytest.fixture(scope="module")
def augmented_dir(tmp_path_factory: pytest.TempPathFactory, require_tool) -> Path:  # type: ignore[no-untyped-def]
    require_tool("espeak-ng")
    out = tmp_path_factory.mktemp("augmented")
    config = CorpusConfig(
        portraits=["astronaut"],
        voices=["en-us"],
        sentences=["Hello there, how are you today?"],
        n_clips=2,
        seed=0,
        resolution=64,
        augment=AugmentConfig(),
    )
    build_corpus(config, out, log=lambda _: None)
    return out


def test_an_augmented_build_records_each_look_and_repeats_byte_for_byte(
    augmented_dir: Path, tmp_path: Path
) -> None:
    truths = [json.loads(p.read_text()) for p in sorted(augmented_dir.glob("clip_*.json"))]
    looks = [t["augment"] for t in truths]
    assert looks[0] != looks[1] and all(0.85 <= look["scale"] <= 1.15 for look in looks)
    manifest = json.loads((augmented_dir / "manifest.json").read_text())
    assert manifest["config"]["augment"]["scale"] == [0.85, 1.15]
    again = CorpusConfig.model_validate({**manifest["config"], "n_clips": 2})
    build_corpus(again, tmp_path, log=lambda _: None)
    for path in sorted(augmented_dir.glob("clip_*")):
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name
