"""``python -m float_tools.proof.crop_scale``: the portrait crop scale that matches a prepared training set's
crops.

    uv run python -m float_tools.proof.crop_scale --set PREPARED=CORPUS [--set ...] [--phases 4] [--every 1]

``float-data prepare --track-mode fixed`` crops each training clip with one square whose half-side is 1.6x
the median face half-size plus the head's largest excursion, while float-generate crops a portrait from its
own face box: ``half = crop_scale * r``. For every prepared clip this measures ``half / r`` with ``r`` from
frame 0 of the source clip, detected as float-generate detects a portrait (``float_data.stable_face_box``
with ``--phases``), and prints the median: the ``crop_scale`` a bundle trained on that set should declare
(``export.crop_scale`` of its float-train stage-2 config) so that portraits are cropped at the zoom it
learned.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from float_data import DlibDetector, iter_video_frames, stable_face_box


def clip_ratios(prepared: Path, corpus: Path, phases: int, every: int = 1) -> list[float]:
    """``crop half-side / face half-size`` of every ``every``-th clip of one prepared set."""
    manifest = prepared / "manifest.jsonl"
    if not manifest.is_file():
        raise FileNotFoundError(f"{manifest} is missing: {prepared} is not a `float-data prepare` output")
    entries = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    detector = DlibDetector(landmarks=False)
    ratios = []
    for entry in tqdm(entries[::every], desc=prepared.name, unit="clip"):
        source = corpus / entry["source_path"]
        if not source.is_file():
            raise FileNotFoundError(f"{source} is missing: pass the corpus {prepared.name} was prepared from")
        first = next(iter_video_frames(source, entry["fps"]))
        box = stable_face_box(detector, first, phases=phases)
        if box is None:
            continue
        radius = max(box[2] - box[0], box[3] - box[1]) / 2
        ratios.append(entry["crop_box"][2] / radius)
    return ratios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m float_tools.proof.crop_scale", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--set",
        action="append",
        required=True,
        metavar="PREPARED=CORPUS",
        help="a prepared set and its corpus",
    )
    parser.add_argument("--phases", type=int, default=4, help="stable_face_box phases (the bundle's, 4)")
    parser.add_argument("--every", type=int, default=1, help="measure every N-th clip (1)")
    args = parser.parse_args(argv)
    ratios: list[float] = []
    try:
        for item in args.set:
            prepared, sep, corpus = item.partition("=")
            if not sep:
                raise ValueError(f"--set {item!r}: expected PREPARED=CORPUS")
            ratios += clip_ratios(Path(prepared), Path(corpus), args.phases, args.every)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not ratios:
        print("error: no face found in any clip", file=sys.stderr)
        return 2
    values = np.asarray(ratios)
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    print(
        f"{len(values)} clips: crop half-side / face half-size median {median:.3f} "
        f"(quartiles {q1:.3f}, {q3:.3f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
