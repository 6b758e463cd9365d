"""The unseen-portrait proof's parts: blur matching, gates over portraits, the table, the set, both meters."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from float_pipeline import Pipeline, load_bundle
from float_pipeline.testing import build_random_bundle
from float_tools.proof.identity import FaceEmbedder
from float_tools.proof.meters import MediaPipeMeter, mp_meter_python
from float_tools.proof.unseen import (
    UnseenGates,
    blur,
    format_report,
    matched_sigma,
    sharpness,
    summarise,
    transferred,
)
from float_tools.proof.unseen_set import cut_face, load_set

FACE = Path(__file__).parent / "fixtures" / "grace_hopper_face.jpg"
ROOT = Path(__file__).resolve().parents[4]


def test_the_matched_blur_recovers_a_known_sigma() -> None:
    sharp = np.random.default_rng(0).integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
    assert sharpness(blur(sharp, 2.0)) < sharpness(blur(sharp, 1.0)) < sharpness(sharp)
    assert matched_sigma(blur(sharp, 1.0), sharp) == 1.0
    assert matched_sigma(sharp, sharp) == 0.0


def _portrait(r_dlib: float, r_mp: float, ceil_dlib: float, ceil_mp: float) -> dict:
    def meter(r: float, ceiling: float) -> dict:
        return {
            "r_true": r,
            "r_shuffled": 0.1,
            "gap": r - 0.1,
            "ceiling": ceiling,
            "ae_r": r + 0.25,
            "misses": 1,
            "frames": 100,
        }

    rendering = dict.fromkeys(
        ("ae_psnr_db", "ae_psnr_portrait_crop_db", "psnr_speech", "psnr_tail"), 20.0
    ) | dict.fromkeys(("id_speech", "id_tail", "id_truth_speech", "id_truth_tail"), 0.9)
    return {
        "clips": 4,
        "failed": [],
        "meters": {"dlib": meter(r_dlib, ceil_dlib), "mediapipe": meter(r_mp, ceil_mp)},
        **rendering,
    }


def test_gates_use_the_meter_with_the_higher_ceiling() -> None:
    portraits = {"a": _portrait(0.2, 0.7, 0.5, 0.9), "b": _portrait(0.3, 0.55, 0.6, 0.8)}
    overall = summarise(portraits, UnseenGates())
    assert overall["gate_meter"] == "mediapipe" and overall["worst_portrait"] == "b"
    assert overall["meters"]["mediapipe"]["r_true"] == pytest.approx(0.625)
    assert overall["meters"]["dlib"]["misses"] == 2
    assert overall["meters"]["dlib"]["ae_r"] == pytest.approx(0.5)
    assert overall["passed"] == {
        "mean r_true >= 0.6": True,
        "every portrait r_true >= 0.5": True,
        "mean gap >= 0.4": True,
        "every portrait gap >= 0.3": True,
    }
    flipped = summarise({"a": _portrait(0.2, 0.7, 0.95, 0.9)}, UnseenGates())
    assert flipped["gate_meter"] == "dlib" and not any(flipped["passed"].values())
    # a portrait with no generated clip fails the every-portrait gates
    failed = summarise(portraits | {"c": {"clips": 0, "failed": ["x: no face"]}}, UnseenGates())
    assert failed["passed"]["every portrait r_true >= 0.5"] is False


def test_the_report_table_shows_both_meters() -> None:
    portraits = {"a": _portrait(0.2, 0.7, 0.5, 0.9), "b": _portrait(0.3, 0.55, 0.6, 0.8)}
    report = {"portraits": portraits, "overall": summarise(portraits, UnseenGates())}
    table = format_report(report)
    assert "0.20/0.10/0.10" in table and "0.70/0.10/0.60" in table and "0.90" in table
    assert "mediapipe. worst portrait (mediapipe): b r 0.55" in table
    # the auto-encoder's r sits after each meter's ceiling: dlib 0.45 for a, mediapipe 0.80 for b
    assert re.search(r"0\.20/0\.10/0\.10\s+0\.50\s+0\.45\s+1 \|", table)
    assert re.search(r"0\.55/0\.10/0\.45\s+0\.80\s+0\.80\s+1 \|", table)
    assert "PASS  mean r_true >= 0.6" in table


def test_transferred_renders_each_frame_from_frame_0_with_that_frames_motion(tmp_path: Path) -> None:
    pipe = Pipeline(load_bundle(build_random_bundle(tmp_path / "bundle", randomize_zero_init=True)))
    size = pipe.bundle.resolution
    crops = np.random.default_rng(0).integers(0, 256, (5, size, size, 3), dtype=np.uint8)
    with torch.no_grad():
        rendered = transferred(pipe, crops)
        reordered = transferred(pipe, crops[[0, 3, 2, 1, 4]])
        changed = crops.copy()
        changed[2] = 255 - changed[2]
        one_changed = transferred(pipe, changed)
    assert rendered.shape == crops.shape and rendered.dtype == np.uint8
    # frame k's motion drives output k, frame 0 gives the appearance to all
    assert np.array_equal(reordered[1], rendered[3]) and np.array_equal(reordered[3], rendered[1])
    same = [k for k in range(5) if np.array_equal(one_changed[k], rendered[k])]
    assert same == [0, 1, 3, 4]


def test_the_unseen_set_is_documented_with_sources_and_licences() -> None:
    portraits = load_set().portraits
    assert len(portraits) >= 8 and len({p.name for p in portraits}) == len(portraits)
    docs = " ".join((ROOT / "docs" / "proof.md").read_text().split())
    for p in portraits:
        assert re.fullmatch(r"[0-9a-f]{64}", p.sha256) and p.licence and p.voice
        assert f"`{p.name}`" in docs and p.path in docs, p.name


def test_cut_face_mirrors_a_face_at_the_border() -> None:
    photo = np.random.default_rng(1).integers(0, 256, (100, 80, 3), dtype=np.uint8)
    square = cut_face(photo, (0, 10, 40, 50), size=60)  # 120 px square around a face at the left edge
    assert square.shape == (60, 60, 3) and square[:, :10].std() > 20


def test_identity_similarity_of_a_face_with_itself() -> None:
    embedder = FaceEmbedder()
    face = np.asarray(Image.open(FACE).convert("RGB"))
    reference = embedder.embed(face)
    assert reference is not None and np.linalg.norm(reference) == pytest.approx(1.0)
    assert embedder.similarity(reference, face) == pytest.approx(1.0, abs=1e-6)
    assert embedder.similarity(reference, np.zeros((64, 64, 3), np.uint8)) is None


def test_the_mediapipe_meter_measures_a_face_and_counts_a_miss() -> None:
    if mp_meter_python() is None:
        if os.environ.get("CI"):
            pytest.fail("CI must build the MediaPipe meter: bash tools/mp-meter/build.sh")
        pytest.skip("the MediaPipe meter's environment is not built (bash tools/mp-meter/build.sh)")
    face = np.asarray(Image.open(FACE).convert("RGB").resize((64, 64)))
    result = MediaPipeMeter().measure_many({"clip": np.stack([face, np.zeros_like(face), face])})
    values, missed = result["clip"]
    assert missed == 1 and np.isnan(values[1]) and np.isfinite(values[[0, 2]]).all()
    assert 0.0 <= values[0] < 0.3  # Grace Hopper's mouth is closed


# The demo bundle's training voices (docs/proof.md, "Commands (as run)"): the demo's first five, and six more
# for the identity pool's corpora, none of them the held-out sets' or the unseen portraits'.
TRAINING_VOICES = {"en-us", "en-gb", "en-gb-scotland", "en-us-nyc", "en-gb+f2"} | {
    "en-us+m1",
    "en-gb+f1",
    "en-gb-scotland+m6",
    "en-us+f5",
    "en-gb+m7",
    "en-us-nyc+m8",
}


def test_the_unseen_set_speaks_new_sentences_in_voices_the_demo_never_trained_on() -> None:
    from float_tools.corpus import DEFAULT_SENTENCES, HELDOUT_SENTENCES, read_sentences

    spec = load_set()
    unseen = set(read_sentences(ROOT / spec.sentences))
    assert len(unseen) >= 4
    assert not unseen & set(read_sentences(DEFAULT_SENTENCES))
    assert not unseen & set(read_sentences(HELDOUT_SENTENCES))
    assert not {p.voice for p in spec.portraits} & TRAINING_VOICES
    assert not {"en-us+f3", "en-gb-x-rp"} & TRAINING_VOICES  # the held-out sets of proof.run


def test_an_unfinished_corpus_is_finished_not_scored_short(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proof stopped while building a portrait's corpus left 3 of 4 clips: the next run must finish it
    (it once scored the 3 clips without a word, moving that portrait's r from 0.47 to 0.55)."""
    import json

    import float_tools.corpus as corpus
    from float_tools.proof import unseen

    built: list[int] = []
    monkeypatch.setattr(corpus, "build_corpus", lambda config, out, log: built.append(config.n_clips))
    sentences = tmp_path / "sentences.txt"
    sentences.write_text("One sentence here.\n")
    out = tmp_path / "corpus"
    out.mkdir()

    def build() -> None:
        unseen._build_corpus(tmp_path / "p.png", tmp_path / "p.json", "en-us", sentences, 4, 300, out)

    (out / "manifest.json").write_text(json.dumps({"clips": [{}, {}, {}]}))
    build()
    assert built == [4]  # resumed: the builder keeps the 3 finished clips and renders the 4th
    (out / "manifest.json").write_text(json.dumps({"clips": [{}, {}, {}, {}]}))
    build()
    assert built == [4]  # complete: reused as is
