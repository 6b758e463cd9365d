"""``python -m proof.train {ae,fmt,export}``: train the demo bundle from the recipes, then export it.

    python -m proof.train ae apps/float-train/recipes/demo-ae.yaml --run-dir RUNS/ae --workdir DATA
    python -m proof.train fmt apps/float-train/recipes/demo-fmt.yaml --motion-ae RUNS/ae
        --run-dir RUNS/fmt --workdir DATA
    python -m proof.train export --motion-ae RUNS/ae --fmt RUNS/fmt --out BUNDLE
        [--card README.md] [--overwrite]

Relative data paths in a recipe are resolved against ``--workdir`` (default: the current folder).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from proof.recipe import AERecipe, DataSection, FMTRecipe, RecipeError, load_recipe


def _resolve(data: DataSection, workdir: Path) -> DataSection:
    def fix(path: Path) -> Path:
        return path if path.is_absolute() else workdir / path

    return data.model_copy(
        update={
            "root": fix(data.root),
            "val_root": fix(data.val_root),
            "extra_roots": tuple(fix(p) for p in data.extra_roots),
        }
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m proof.train", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ae = sub.add_parser("ae", help="stage 1: the motion auto-encoder")
    fmt = sub.add_parser("fmt", help="stage 2: the flow-matching transformer and the audio projection")
    for p in (ae, fmt):
        p.add_argument("recipe", type=Path)
        p.add_argument("--run-dir", type=Path, required=True)
        p.add_argument("--workdir", type=Path, default=Path.cwd())
        p.add_argument("--steps", type=int, default=None, help="override train.steps")
        p.add_argument("--seed", type=int, default=None, help="override train.seed")
    fmt.add_argument("--motion-ae", type=Path, required=True, help="stage-1 run dir (holds motion_ae/)")
    export = sub.add_parser("export", help="write the inference bundle")
    export.add_argument("--motion-ae", type=Path, required=True)
    export.add_argument("--fmt", type=Path, required=True)
    export.add_argument("--out", type=Path, required=True)
    export.add_argument("--card", type=Path, default=None, help="model card (markdown) to store as README.md")
    export.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.command == "export":
            from proof.export import export_bundle

            out = export_bundle(args.motion_ae, args.fmt, args.out, card=args.card, overwrite=args.overwrite)
            print(f"bundle written to {out}")
            return 0
        recipe = load_recipe(args.recipe, args.command)
        workdir = args.workdir.resolve()
        update: dict = {"data": _resolve(recipe.data, workdir)}
        if isinstance(recipe, AERecipe) and recipe.init_from is not None:
            update["init_from"] = workdir / recipe.init_from
        if args.steps is not None or args.seed is not None:
            train = recipe.train.model_copy(
                update={k: v for k, v in {"steps": args.steps, "seed": args.seed}.items() if v is not None}
            )
            update["train"] = train
        recipe = recipe.model_copy(update=update)
        if isinstance(recipe, AERecipe):
            from proof.train_ae import train_ae

            summary = train_ae(recipe, args.run_dir)
        else:
            assert isinstance(recipe, FMTRecipe)
            from proof.train_fmt import train_fmt

            summary = train_fmt(recipe, args.motion_ae, args.run_dir)
        print(f"done in {summary['wall_seconds']:.0f} s: {summary['final']}")
        return 0
    except (RecipeError, FileNotFoundError, FileExistsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
