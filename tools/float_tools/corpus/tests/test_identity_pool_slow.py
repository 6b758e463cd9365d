"""The identity pool fetched for real (PyPI): every photo downloads, matches its sha256 and yields a face
layout the corpus builder accepts; no pool face is a copy of an unseen-set face."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from float_tools.corpus import CorpusConfig, FaceLayout, crop_portrait, load_portrait
from float_tools.corpus.identity_pool import ARGS_FILE, load_pool, write_pool
from float_tools.corpus.packaged import CROP_SIZE
from float_tools.proof.identity import FaceEmbedder
from float_tools.proof.unseen_set import default_cache as unseen_cache
from float_tools.proof.unseen_set import write_unseen

# dlib's embedding of the same picture, cut twice, scores ~1.0 and of one person in two photos ~0.97 here;
# different persons reach ~0.94, so this catches copies, not look-alikes (the persons were compared by eye).
COPY_SIMILARITY = 0.95


@pytest.fixture(scope="module")
def pool_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from float_tools.corpus.identity_pool import default_cache

    out = tmp_path_factory.mktemp("pool")
    write_pool(out, default_cache())
    return out


@pytest.mark.slow
def test_every_pool_face_is_fetched_cut_and_laid_out(pool_dir: Path) -> None:
    pool = load_pool().portraits
    args = (pool_dir / ARGS_FILE).read_text().split()
    assert len(args) == 4 * len(pool)
    for p in pool:
        image = np.asarray(Image.open(pool_dir / f"{p.name}.png"))
        assert image.shape == (CROP_SIZE, CROP_SIZE, 3), p.name
        layout = FaceLayout.model_validate(json.loads((pool_dir / f"{p.name}.json").read_text()))
        # the face the box picked sits in the middle of the square (not a neighbour in a group photo)
        ex, ey = layout.eye_centre
        assert abs(ex - CROP_SIZE / 2) < CROP_SIZE / 8 and abs(ey - CROP_SIZE / 2) < CROP_SIZE / 6, p.name
        image, layout = load_portrait(str(pool_dir / f"{p.name}.png"), str(pool_dir / f"{p.name}.json"))
        assert crop_portrait(image, layout, 128).image.shape == (128, 128, 3)
    CorpusConfig(
        portraits=args[1::4], landmarks=args[3::4], voices=["en-us"], sentences=["Hi."], n_clips=1, seed=0
    )


@pytest.mark.slow
def test_no_pool_face_is_a_copy_of_an_unseen_face(pool_dir: Path, tmp_path: Path) -> None:
    write_unseen(tmp_path, unseen_cache())
    embedder = FaceEmbedder()

    def embed(path: Path) -> np.ndarray:
        vector = embedder.embed(np.asarray(Image.open(path).convert("RGB")))
        assert vector is not None, path
        return vector

    unseen = np.stack([embed(p) for p in sorted(tmp_path.glob("*.png"))])
    for p in load_pool().portraits:
        worst = float((unseen @ embed(pool_dir / f"{p.name}.png")).max())
        assert worst < COPY_SIMILARITY, (p.name, worst)
