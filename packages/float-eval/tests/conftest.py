"""Folders of tiny videos (mp4 at 25 and 30 fps, a frame folder, unpaired names), portraits and audio."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.io import wavfile

# The stand-ins module sits next to this file; --import-mode=importlib does not put it on sys.path.
sys.path.insert(0, str(Path(__file__).parent))

from fe_standins import write_mp4 as _write_mp4


def _frames(n: int, seed: int, dark: tuple[int, ...] = ()) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(60, 200, (1, 32, 32, 3))
    frames = np.clip(base + rng.integers(-30, 30, (n, 32, 32, 3)), 0, 255).astype(np.uint8)
    frames[list(dark)] = 0
    return frames


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path, Path]:
    gen, ref, src = tmp_path / "gen", tmp_path / "ref", tmp_path / "src"
    for d in (gen, ref, src):
        d.mkdir()
    _write_mp4(gen / "a.mp4", _frames(40, 1), 25)
    _write_mp4(ref / "a.mp4", _frames(40, 2), 25)
    (gen / "b").mkdir()  # a frame folder: 12 frames (too short for FVD), 2 without a face
    for i, f in enumerate(_frames(12, 3, dark=(4, 5))):
        Image.fromarray(f).save(gen / "b" / f"{i:04d}.png")
    _write_mp4(ref / "b.mp4", _frames(40, 4), 25)
    _write_mp4(gen / "c.mp4", _frames(36, 5), 30)
    _write_mp4(ref / "c.mp4", _frames(30, 6), 25)
    _write_mp4(ref / "d.mp4", _frames(20, 7), 25)
    Image.fromarray(_frames(1, 1)[0]).save(src / "a.png")
    rng = np.random.default_rng(0)
    for name in "abc":
        wavfile.write(src / f"{name}.wav", 16000, (rng.normal(size=16000 * 2) * 3000).astype(np.int16))
    return gen, ref, src
