"""How each mouth meter's ceiling falls with blur, on the unseen portraits' true frames (no model involved).

    OMP_NUM_THREADS=1 uv run python docs/experiments/2026-12-06-meter-ceilings.py WORK

WORK is a ``python -m float_tools.proof.unseen --work WORK`` folder (its corpora). Each clip's true frames
are cut as the Pipeline cuts the portrait (frame 0's face box, bundle crop settings) at the demo bundle's
64 px, Gaussian-blurred with sigma 0, 1, 1.5 and 2 px, and measured by both meters; r against the clip's true
mouth track, averaged over the clips of each portrait, and the misses, are printed per sigma.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from float_data import read_video
from float_pipeline import crop_reflected, face_box, load_bundle
from float_tools.proof.lipsync import MouthMeter
from float_tools.proof.meters import MediaPipeMeter
from float_tools.proof.unseen import _r, blur

SIGMAS = (0.0, 1.0, 1.5, 2.0)


def main() -> None:
    work = Path(sys.argv[1])
    defaults = load_bundle(None).manifest.defaults
    dlib_meter, mp_meter = MouthMeter(256), MediaPipeMeter(256)
    rows = {}
    for corpus in sorted((work / "corpus").iterdir()):
        entries = json.loads((corpus / "manifest.json").read_text())["clips"]
        series, truths = {}, {}
        for entry in entries:
            frames = read_video(corpus / entry["video"])
            box = face_box(frames[0], scale=defaults.crop_scale, phases=defaults.crop_phases)
            crops = np.stack([crop_reflected(f, box, 64) for f in frames])
            truths[entry["video"]] = np.asarray(
                json.loads((corpus / entry["ground_truth"]).read_text())["tracks"]["mouth_open"]
            )
            for sigma in SIGMAS:
                series[f"{entry['video']}|{sigma}"] = blur(crops, sigma)
        measured = {"dlib": {k: dlib_meter.measure(list(v)) for k, v in series.items()}}
        measured["mediapipe"] = mp_meter.measure_many(series)
        rows[corpus.name] = {
            meter: {
                sigma: (
                    np.mean([_r(values[f"{v}|{sigma}"][0], t) or np.nan for v, t in truths.items()]),
                    sum(values[f"{v}|{sigma}"][1] for v in truths),
                )
                for sigma in SIGMAS
            }
            for meter, values in measured.items()
        }
    print(
        f"{'portrait':<18}"
        + "".join(f"{m + ' s=' + str(s):>16}" for m in ("dlib", "mediapipe") for s in SIGMAS)
    )
    for name, meters in [*rows.items(), ("mean", None)]:
        if meters is None:
            cells = [
                f"{np.nanmean([rows[n][m][s][0] for n in rows]):.2f} ({sum(rows[n][m][s][1] for n in rows)})"
                for m in ("dlib", "mediapipe")
                for s in SIGMAS
            ]
        else:
            cells = [
                f"{meters[m][s][0]:.2f} ({meters[m][s][1]})" for m in ("dlib", "mediapipe") for s in SIGMAS
            ]
        print(f"{name:<18}" + "".join(f"{c:>16}" for c in cells))


if __name__ == "__main__":
    main()
