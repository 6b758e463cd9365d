"""A face box for a single image that does not jump with the detector's image pyramid.

A sliding-window detector such as dlib's HOG scans an image pyramid (about 1.2x between levels), so its box
sides come in steps of that ratio: on the same face a tiny change of pose or scale can move the box by 20%.
A video track hides this (``crop_track`` takes the median over many frames); one portrait cannot. Detecting
again at a few image heights between two pyramid levels shifts where the levels fall, and the mean of the
matched boxes is close to a continuous estimate of the face size and position.
"""

from __future__ import annotations

import numpy as np

from float_data.detectors import FaceDetector, detect_faces
from float_data.track import box_iou

Box = tuple[float, float, float, float]


def stable_face_box(
    detector: FaceDetector,
    image: np.ndarray,
    *,
    detect_height: int = 360,
    phases: int = 4,
    pyramid_step: float = 1.2,
) -> Box | None:
    """The best face of ``image`` (uint8 RGB [H, W, 3]), averaged over ``phases`` detection heights.

    The heights are ``detect_height * pyramid_step ** (k / phases)`` for ``k = 0 .. phases - 1``; at each
    one the face overlapping the first height's best face most is taken (none overlapping: that height is
    skipped). ``phases=1`` is plain ``detect_faces``.

    Returns:
        (x0, y0, x1, y1) in ``image`` pixels, or None when no face is found at ``detect_height``.
    """
    if phases < 1:
        raise ValueError(f"phases must be >= 1, got {phases}")
    if pyramid_step <= 1.0:
        raise ValueError(f"pyramid_step must be > 1, got {pyramid_step}")
    found = detect_faces(detector, image, detect_height)
    if not found:
        return None
    first = found[0].box
    boxes = [first]
    for k in range(1, phases):
        height = round(detect_height * pyramid_step ** (k / phases))
        faces = detect_faces(detector, image, height)
        if not faces:
            continue
        best = max(faces, key=lambda face: box_iou(face.box, first))
        if box_iou(best.box, first) > 0:
            boxes.append(best.box)
    mean = np.mean(np.asarray(boxes, dtype=np.float64), axis=0)
    return (float(mean[0]), float(mean[1]), float(mean[2]), float(mean[3]))
