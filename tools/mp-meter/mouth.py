"""Mouth opening per frame by MediaPipe FaceMesh; runs in tools/mp-meter/.venv (not the workspace).

    python mouth.py FRAMES.npz OUT.json [--size 256]

``FRAMES.npz`` holds one uint8 RGB array [T, H, W, 3] per key; ``OUT.json`` gets, per key, ``aperture``
(a list of T floats, null where no face was found) and ``missed`` (that count). Each frame is detected on
its own (``static_image_mode``: a miss never borrows a neighbour's face) after enlarging it to ``--size``
px (FaceMesh's detector wants faces over ~100 px). The aperture is the mean inner-lip gap of three
upper/lower point pairs over the mouth-corner distance, the same ratio float_data.mouth_aperture takes from
dlib's 68 points.
"""

from __future__ import annotations

import argparse
import json

import mediapipe as mp
import numpy as np
from PIL import Image

INNER_LIP_PAIRS = ((82, 87), (13, 14), (312, 317))  # upper inner lip -> lower inner lip
MOUTH_CORNERS = (61, 291)


def aperture(points: np.ndarray) -> float:
    """``points`` [468, 2] in pixels -> inner-lip gap / mouth width."""
    gap = np.mean([np.linalg.norm(points[a] - points[b]) for a, b in INNER_LIP_PAIRS])
    width = np.linalg.norm(points[MOUTH_CORNERS[0]] - points[MOUTH_CORNERS[1]])
    return float(gap / max(width, 1e-6))


def measure(mesh, frames: np.ndarray, size: int) -> tuple[list[float | None], int]:
    values: list[float | None] = []
    for frame in frames:
        image = (
            frame
            if frame.shape[0] >= size
            else np.asarray(Image.fromarray(frame).resize((size, size), Image.BICUBIC))
        )
        found = mesh.process(np.ascontiguousarray(image)).multi_face_landmarks
        if not found:
            values.append(None)
            continue
        h, w = image.shape[:2]
        points = np.array([(p.x * w, p.y * h) for p in found[0].landmark], dtype=np.float64)
        values.append(aperture(points))
    return values, sum(v is None for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("frames")
    parser.add_argument("out")
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    result = {}
    mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1)
    with mesh, np.load(args.frames) as arrays:
        for key in arrays.files:
            values, missed = measure(mesh, arrays[key], args.size)
            result[key] = {"aperture": values, "missed": missed}
    with open(args.out, "w") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main()
