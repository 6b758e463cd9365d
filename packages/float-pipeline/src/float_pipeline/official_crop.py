"""The official release's portrait crop, step for step (``crop_rule="official"``), for exact-parity bundles.

The official inference (see docs/float-generate.md, "Using the official weights") finds the face with
face-alignment's SFD detector on a copy of the image rescaled to 360 rows, keeps boxes scoring above 0.95
and takes the first (best) one; the crop is the square of half-side ``int(1.6 x max(box_w, box_h) / 2)``
around the box centre, black past the border; it is resized to 512 with the area filter when the *original
image* is taller than 360 rows and bicubic otherwise (then, for a bundle that is not 512 px, area-resized to
its size).

FLOAT-kit's own rule (``crop_rule="kit"``, :func:`float_pipeline.face_box`) differs on purpose: it enlarges
the detection copy with a linear filter, picks the resize filter by the crop side against the output size
(area only when shrinking), and can average the box over several detection heights. Both give the same box
for the same detection; only the detector and the interpolation differ.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from float_data import CropBox, FaceDetector, crop_box_from_face
from float_data.crop import crop_region
from float_data.detectors import SFD_FILE

__all__ = [
    "OFFICIAL_CROP_SIZE",
    "OFFICIAL_DETECT_HEIGHT",
    "OFFICIAL_SCORE",
    "SFD_FILE",
    "default_detector_weights_dir",
    "detection_copy",
    "find_sfd_weights",
    "official_crop",
    "official_face_box",
    "official_resize",
]

OFFICIAL_DETECT_HEIGHT = 360
OFFICIAL_SCORE = 0.95
OFFICIAL_CROP_SIZE = 512


def default_detector_weights_dir() -> Path:
    """Where face-alignment keeps the weights it downloaded: ``<torch hub dir>/checkpoints``."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def find_sfd_weights(weights_dir: str | Path | None = None) -> Path | None:
    """The folder holding ``s3fd-619a316812.pth``: ``weights_dir`` if given, else the torch hub cache.

    Nothing is downloaded. None when the file is not there.
    """
    folder = Path(weights_dir).expanduser() if weights_dir is not None else default_detector_weights_dir()
    return folder if (folder / SFD_FILE).is_file() else None


def detection_copy(image: np.ndarray, height: int = OFFICIAL_DETECT_HEIGHT) -> tuple[np.ndarray, float]:
    """``image`` rescaled to ``height`` rows (area filter when shrinking, bicubic when enlarging), and the
    factor (copy pixels per original pixel) that maps boxes back."""
    if image.shape[0] == height:
        return image, 1.0
    factor = height / image.shape[0]
    width = max(1, round(image.shape[1] * factor))
    interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    return cv2.resize(image, (width, height), interpolation=interpolation), factor


def official_face_box(
    detector: FaceDetector, image: np.ndarray, *, min_score: float | None = OFFICIAL_SCORE, scale: float = 1.6
) -> CropBox | None:
    """The official crop box of ``image`` (uint8 RGB [H, W, 3]) from ``detector``'s first (best) face.

    ``min_score`` filters detections (official 0.95 on SFD scores; pass None for a detector whose scores
    are not probabilities, such as dlib's). None when no face passes.
    """
    work, factor = detection_copy(image)
    faces = [f for f in detector.detect(work) if min_score is None or f.score > min_score]
    if not faces:
        return None
    x0, y0, x1, y1 = (v / factor for v in faces[0].box)
    return crop_box_from_face((x0, y0, x1, y1), scale=scale)


def official_resize(region: np.ndarray, original_height: int, size: int) -> np.ndarray:
    """Resize a cut square to 512 with the filter the official code picks by the original image height
    (area above 360 rows, bicubic otherwise), then area-resize to ``size`` when the bundle is not 512 px."""
    interpolation = cv2.INTER_AREA if original_height > OFFICIAL_DETECT_HEIGHT else cv2.INTER_CUBIC
    out = region
    if region.shape[0] != OFFICIAL_CROP_SIZE or region.shape[1] != OFFICIAL_CROP_SIZE:
        out = cv2.resize(region, (OFFICIAL_CROP_SIZE, OFFICIAL_CROP_SIZE), interpolation=interpolation)
    if size != OFFICIAL_CROP_SIZE:
        out = cv2.resize(out, (size, size), interpolation=cv2.INTER_AREA)
    return out


def official_crop(image: np.ndarray, box: CropBox, size: int) -> np.ndarray:
    """The [size, size, 3] crop of ``box`` from ``image`` resized as the official code does."""
    return official_resize(crop_region(image, box), image.shape[0], size)
