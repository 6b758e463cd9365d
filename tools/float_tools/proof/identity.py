"""Identity similarity: cosine of dlib's face-recognition embeddings (ResNet, 128-D).

The model file ``dlib_face_recognition_resnet_model_v1.dat`` and the 5-point predictor it aligns with ship
in the ``face-recognition-models`` wheel the workspace already installs for dlib's 68 points (models by Davis
King, public domain / CC0 per that package). Embeddings are normalised here, so the similarity is 1 for
the same picture; dlib's usual same-person rule, a Euclidean distance under 0.6 between its (nearly unit)
descriptors, is a cosine over about 0.82.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import dlib
import numpy as np
from PIL import Image

__all__ = ["FaceEmbedder"]


def _model_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("face-recognition-models is not installed (it ships dlib's model files)")
    return Path(spec.origin).parent / "models"


class FaceEmbedder:
    """``embed(image) -> float64 [128] unit vector or None`` (no face); images under ``size`` px are
    enlarged to it first (dlib's HOG detector misses faces under ~80 px)."""

    def __init__(self, size: int = 256) -> None:
        models = _model_dir()
        self.size = size
        self.detector = dlib.get_frontal_face_detector()
        self.shape = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
        self.net = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))

    def embed(self, image: np.ndarray) -> np.ndarray | None:
        if image.shape[0] < self.size:
            image = np.asarray(Image.fromarray(image).resize((self.size, self.size), Image.BICUBIC))
        image = np.ascontiguousarray(image)
        faces = self.detector(image, 0)
        if not faces:
            return None
        face = max(faces, key=lambda r: r.width() * r.height())
        vector = np.asarray(
            self.net.compute_face_descriptor(image, self.shape(image, face)), dtype=np.float64
        )
        return vector / max(float(np.linalg.norm(vector)), 1e-12)

    def similarity(self, reference: np.ndarray | None, image: np.ndarray) -> float | None:
        """Cosine of ``image``'s embedding with a reference embedding (None when either has no face)."""
        if reference is None:
            return None
        found = self.embed(image)
        return None if found is None else float(found @ reference)
