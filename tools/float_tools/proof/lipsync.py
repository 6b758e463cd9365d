"""Mouth opening of frames, measured by an independent landmark detector (dlib's 68 points via float-data).

The corpus builder renders its mouth with its own warp and knows nothing of dlib; the generated frames are
measured here with dlib's HOG face detector and 68-point predictor (``float_data.DlibDetector``) and
``float_data.mouth_aperture`` (inner-lip gap / mouth width). Small frames are enlarged first: dlib's HOG
detector misses faces under ~80 px.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from PIL import Image

from float_data import DlibDetector, mouth_aperture


class MouthMeter:
    """``measure(frames) -> float32 [T]`` mouth aperture per frame; NaN where no face was found (and no
    earlier face box exists to reuse)."""

    def __init__(self, size: int = 256, detect_every: int = 5) -> None:
        self.size = size
        self.detect_every = detect_every
        self.detector = DlibDetector(upsample=0)

    def _prepare(self, frame: np.ndarray) -> np.ndarray:
        if frame.shape[0] >= self.size:
            return np.ascontiguousarray(frame)
        return np.asarray(Image.fromarray(frame).resize((self.size, self.size), Image.BICUBIC))

    def measure(self, frames: Iterable[np.ndarray]) -> tuple[np.ndarray, int]:
        """Apertures of ``frames`` (uint8 RGB [H, W, 3] each) and the number of frames with no detection.

        The face is detected on every ``detect_every``-th frame (the head moves a few pixels per second) and
        on every frame until one is found; frames in between, and frames where the detector finds nothing,
        reuse the latest box for the landmark fit. Only frames before any detection are NaN; ``missed``
        counts the detection attempts that found no face.
        """
        values: list[float] = []
        box = None
        missed = 0
        for index, frame in enumerate(frames):
            image = self._prepare(frame)
            if box is None or index % self.detect_every == 0:
                faces = self.detector.detect(image)
                if faces:
                    box = faces[0].box
                else:
                    missed += 1
            if box is None:
                values.append(float("nan"))
                continue
            landmarks = self.detector.landmarks(image, box)
            values.append(float(mouth_aperture(landmarks)) if landmarks is not None else float("nan"))
        return np.asarray(values, dtype=np.float32), missed
