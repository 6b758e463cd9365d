"""Write the proof's extra portraits and their dlib-measured face layouts (``NAME.png`` + ``NAME.json``).

Run: ``uv run python -m float_tools.proof.portraits --out DIR [--image NAME=PATH ...]``.

The training corpus shows each training identity in several images (mirrored astronaut, carphone frames 0,
60 and 90, mirrored frame 0); any ``--image`` adds another portrait (the unseen-identity set uses
``grace_hopper.jpg``, which ships inside matplotlib's wheel under ``mpl-data/sample_data``). Layouts (eye
centres, lip-gap centre, mouth width) come from dlib's 68 landmarks, so the corpus renderer moves the real
mouth; pass them to ``float_tools.corpus.build`` with ``--landmarks DIR/NAME.json``.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

from float_data import DlibDetector
from float_tools.corpus.packaged import face_layout
from float_tools.corpus.portrait import carphone_frame

__all__ = ["BUILT_IN_VARIANTS", "face_layout", "write_portraits"]

BUILT_IN_VARIANTS: dict[str, Callable[[], np.ndarray]] = {
    "astronaut_flip": lambda: np.ascontiguousarray(skimage.data.astronaut()[:, ::-1, :3]),
    "carphone0_flip": lambda: np.ascontiguousarray(carphone_frame(0)[:, ::-1]),
    "carphone60": lambda: carphone_frame(60),
    "carphone90": lambda: carphone_frame(90),
}
"""Extra views of the two training identities, built from media that ship with the dev dependencies."""


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    temporary = path.with_name(f".{path.name}.tmp{path.suffix}")
    write(temporary)
    os.replace(temporary, path)


def write_portraits(out: Path, extra: dict[str, Path] | None = None) -> list[str]:
    """Write every built-in variant and each ``extra`` image (name -> file) as PNG + layout JSON."""
    out.mkdir(parents=True, exist_ok=True)
    detector = DlibDetector(upsample=1)
    sources: dict[str, Callable[[], np.ndarray]] = dict(BUILT_IN_VARIANTS)
    for name, path in (extra or {}).items():
        if not path.is_file():
            raise FileNotFoundError(f"--image {name}={path}: no such file")
        sources[name] = lambda path=path: np.asarray(Image.open(path).convert("RGB"))
    written = []
    for name, load in sources.items():
        image = load()
        layout = face_layout(detector, image, name)
        _write_atomic(out / f"{name}.png", lambda p, image=image: Image.fromarray(image).save(p))
        _write_atomic(out / f"{name}.json", lambda p, layout=layout: p.write_text(json.dumps(layout) + "\n"))
        written.append(name)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for NAME.png + NAME.json")
    parser.add_argument(
        "--image", action="append", default=[], metavar="NAME=PATH", help="another portrait (repeatable)"
    )
    args = parser.parse_args(argv)
    extra = {}
    for item in args.image:
        name, sep, path = item.partition("=")
        if not sep or not name:
            parser.error(f"--image {item!r}: use NAME=PATH")
        extra[name] = Path(path)
    for name in write_portraits(args.out, extra):
        print(f"{args.out / name}.png + .json")


if __name__ == "__main__":
    main()
