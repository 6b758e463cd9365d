"""Command line of the corpus builder.

    python -m float_tools.corpus.build --portrait IMG --voice V --sentences FILE --n-clips N --seed S --out
    DIR [--augment | --augment-config JSON]

Writes ``clip_NNNNN.mp4`` (H.264 yuv420p 25 fps + AAC 16 kHz), ``clip_NNNNN.json`` (ground-truth tracks)
and ``manifest.json`` into DIR; reruns with the same settings skip finished clips. Bad input exits with
status 2 and a one-line ``error:`` message.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from float_tools.corpus.builder import build_corpus
from float_tools.corpus.config import AugmentConfig, CorpusConfig
from float_tools.corpus.plan import DEFAULT_SENTENCES, read_sentences


def parse_args(argv: Sequence[str] | None = None) -> tuple[CorpusConfig, Path]:
    """Parse the command line into a validated config and the output folder."""
    p = argparse.ArgumentParser(
        prog="python -m float_tools.corpus.build", description="Build an offline talking-face corpus."
    )
    p.add_argument(
        "--portrait",
        action="append",
        default=None,
        help="'astronaut', 'carphone[:FRAME]' or an image file; repeat for several (default astronaut)",
    )
    p.add_argument(
        "--landmarks",
        action="append",
        default=None,
        help="face layout JSON (or 'auto') for each --portrait, in the same order",
    )
    p.add_argument(
        "--voice",
        action="append",
        default=None,
        help="espeak-ng voice, e.g. en-us or en-gb+f3; repeat for several (default en-us)",
    )
    p.add_argument(
        "--sentences",
        type=Path,
        default=DEFAULT_SENTENCES,
        help="text file, one sentence per line (default: the packaged training sentences)",
    )
    p.add_argument("--n-clips", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument(
        "--resolution", type=int, default=256, help="frame size in pixels: 128 or 256 (multiple of 16)"
    )
    p.add_argument(
        "--rate", type=int, nargs=2, metavar=("MIN", "MAX"), default=(140, 190), help="words/minute"
    )
    p.add_argument(
        "--pitch", type=int, nargs=2, metavar=("MIN", "MAX"), default=(35, 65), help="espeak-ng 0-99"
    )
    p.add_argument(
        "--pad",
        type=float,
        nargs=2,
        metavar=("MIN", "MAX"),
        default=(0.3, 0.6),
        help="silence before and after the speech, seconds",
    )
    p.add_argument(
        "--gain-db",
        type=float,
        nargs=2,
        metavar=("MIN", "MAX"),
        default=(-6.0, 3.0),
        help="loudness change of the speech per clip, dB",
    )
    p.add_argument(
        "--noise-db", type=float, default=None, help="white noise level over the clip, dBFS (default none)"
    )
    p.add_argument("--max-opening", type=float, default=0.4, help="largest lip gap / mouth width")
    p.add_argument("--pose-roll", type=float, default=3.0, help="largest head roll, degrees (0 = none)")
    p.add_argument("--pose-shift", type=float, default=0.025, help="largest head shift / frame size")
    p.add_argument("--pose-scale", type=float, default=0.03, help="largest relative head size change")
    p.add_argument(
        "--blink-interval",
        type=float,
        nargs=2,
        metavar=("MIN", "MAX"),
        default=(2.0, 5.0),
        help="seconds between blinks",
    )
    p.add_argument("--crf", type=int, default=18, help="x264 quality (lower = better)")
    p.add_argument(
        "--augment",
        action="store_true",
        help="give each clip's portrait its own seeded look: colour, light, scale, rotation, blur, glasses",
    )
    p.add_argument(
        "--augment-config",
        type=Path,
        default=None,
        metavar="JSON",
        help="augmentation strengths (AugmentConfig fields, the rest default); implies --augment",
    )
    args = p.parse_args(argv)
    sentences = read_sentences(args.sentences)
    augment = None
    if args.augment_config is not None:
        if not args.augment_config.is_file():
            raise FileNotFoundError(f"augment config {args.augment_config} does not exist: pass a JSON file")
        augment = AugmentConfig.model_validate_json(args.augment_config.read_text(encoding="utf-8"))
    elif args.augment:
        augment = AugmentConfig()
    config = CorpusConfig(
        portraits=args.portrait or ["astronaut"],
        landmarks=args.landmarks or [],
        voices=args.voice or ["en-us"],
        sentences=sentences,
        n_clips=args.n_clips,
        seed=args.seed,
        resolution=args.resolution,
        rate_range=tuple(args.rate),
        pitch_range=tuple(args.pitch),
        pad_range_s=tuple(args.pad),
        gain_range_db=tuple(args.gain_db),
        noise_db=args.noise_db,
        max_opening=args.max_opening,
        pose_roll_deg=args.pose_roll,
        pose_shift=args.pose_shift,
        pose_scale=args.pose_scale,
        blink_interval_s=tuple(args.blink_interval),
        crf=args.crf,
        augment=augment,
    )
    return config, args.out


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2 for bad input)."""
    try:
        config, out = parse_args(argv)
        records = build_corpus(config, out)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc']) or 'config'}: {e['msg']}" for e in err.errors()
        )
        print(f"error: invalid corpus settings: {problems}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    total = sum(r.duration_s for r in records)
    print(f"corpus ready in {out}: {len(records)} clips, {total:.1f} s of speech video")
    return 0


if __name__ == "__main__":
    sys.exit(main())
