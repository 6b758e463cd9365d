"""Face detectors behind one protocol: face-alignment (official) and dlib (offline, ships its weights).

Every detector takes uint8 RGB [H, W, 3] and returns :class:`FaceDetection` boxes in that image's pixels,
best first. ``landmarks(image, box)`` gives 68 iBUG-order points [68, 2] for one face, or None when the
detector has no landmark model.

Which weights each one needs:

- ``face-alignment`` (official FLOAT choice, BSD-3 code): SFD detector ``s3fd-619a316812.pth`` and FAN
  landmarks ``2DFAN4-11f355bf06.pth.tar`` read from a local folder (never downloaded here).
- ``dlib`` (dlib-bin, Boost licence): the HOG frontal face detector is built into dlib (no file);
  landmarks use ``shape_predictor_68_face_landmarks.dat`` shipped by the ``face-recognition-models`` wheel.
  That model was trained on iBUG 300-W, whose licence excludes commercial use: research only.

OpenCV is not an option: opencv-python 5 no longer ships the Haar cascades, and its YuNet detector needs an
ONNX file that is not in the wheel. Any other detector can be used by implementing :class:`FaceDetector`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

SFD_FILE = "s3fd-619a316812.pth"
FAN_FILE = "2DFAN4-11f355bf06.pth.tar"
SFD_URL = "https://www.adrianbulat.com/downloads/python-fan/s3fd-619a316812.pth"
FAN_URL = "https://www.adrianbulat.com/downloads/python-fan/2DFAN4-11f355bf06.pth.tar"
DLIB_68_FILE = "shape_predictor_68_face_landmarks.dat"


@dataclass(frozen=True)
class FaceDetection:
    """One face: ``box`` (x0, y0, x1, y1) in pixels and a detector ``score`` (higher is surer)."""

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray | None = field(default=None, compare=False)

    @property
    def area(self) -> float:
        return max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1])


def _box4(values: Sequence[float]) -> tuple[float, float, float, float]:
    """The first four numbers of a detector's row as a float (x0, y0, x1, y1) box."""
    return (float(values[0]), float(values[1]), float(values[2]), float(values[3]))


@runtime_checkable
class FaceDetector(Protocol):
    """What ``prepare`` needs from a face detector (any object with these members works)."""

    name: str
    provides_landmarks: bool

    def detect(self, image: np.ndarray) -> list[FaceDetection]:
        """Faces in uint8 RGB [H, W, 3], best first, boxes in that image's pixels."""
        ...

    def landmarks(self, image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray | None:
        """68 points [68, 2] (pixels of ``image``) for the face in ``box``; None without landmark model."""
        ...


def _check_image(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be uint8 RGB [H, W, 3], got {image.dtype} {tuple(image.shape)}")
    return image


def dlib_landmark_model_path() -> Path:
    """Path of ``shape_predictor_68_face_landmarks.dat`` inside the installed face-recognition-models wheel.

    Found without importing ``face_recognition_models`` (its ``__init__`` needs the removed pkg_resources).
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"{DLIB_68_FILE} not found: `pip install 'float-data[datasets]'` (its face-recognition-models "
            "wheel ships the dlib models), or build the detector with landmarks=False"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / DLIB_68_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall face-recognition-models")
    return path


class DlibDetector:
    """dlib's HOG frontal face detector + 68-point shape predictor, fully offline.

    ``threshold`` is the SVM margin a detection must exceed (dlib's default 0.0); ``upsample`` doubles the
    image that many times before detecting (finds faces smaller than ~80 px).
    Licence: the 68-point model's training set (iBUG 300-W) excludes commercial use.
    """

    name = "dlib"

    def __init__(self, threshold: float = 0.0, upsample: int = 0, landmarks: bool = True) -> None:
        import dlib

        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(dlib_landmark_model_path())) if landmarks else None
        self.threshold, self.upsample = threshold, upsample
        self.provides_landmarks = landmarks

    def detect(self, image: np.ndarray) -> list[FaceDetection]:
        rects, scores, _ = self._detector.run(_check_image(image), self.upsample, self.threshold)
        found = [
            FaceDetection((float(r.left()), float(r.top()), float(r.right()), float(r.bottom())), float(s))
            for r, s in zip(rects, scores, strict=True)
        ]
        return sorted(found, key=lambda d: -d.score)

    def landmarks(self, image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray | None:
        if self._predictor is None:
            return None
        x0, y0, x1, y1 = (round(v) for v in box)
        shape = self._predictor(_check_image(image), self._dlib.rectangle(x0, y0, x1, y1))
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


def _missing_weights_error(weights_dir: Path, missing: list[str]) -> FileNotFoundError:
    urls = {SFD_FILE: SFD_URL, FAN_FILE: FAN_URL}
    lines = [f"  {name}  <- {urls[name]}" for name in missing]
    return FileNotFoundError(
        f"face-alignment weights missing in {weights_dir}:\n"
        + "\n".join(lines)
        + "\nDownload them on a machine with internet (or copy them from ~/.cache/torch/hub/checkpoints)"
        " into that folder and pass it as weights_dir / --weights-dir, or use --detector dlib (offline)."
    )


class FaceAlignmentDetector:
    """face-alignment's SFD detector (+ optional 2D FAN landmarks), weights read from ``weights_dir`` only.

    ``threshold = 0.95`` is the official FLOAT score filter. Nothing is ever downloaded: missing files raise
    FileNotFoundError naming each file and its source URL.
    """

    name = "face-alignment"

    def __init__(
        self, weights_dir: str | Path, device: str = "cpu", threshold: float = 0.95, landmarks: bool = True
    ) -> None:
        weights_dir = Path(weights_dir)
        needed = [SFD_FILE] + ([FAN_FILE] if landmarks else [])
        missing = [name for name in needed if not (weights_dir / name).is_file()]
        if missing:
            raise _missing_weights_error(weights_dir, missing)
        import torch

        if importlib.util.find_spec("face_alignment") is None:
            raise ModuleNotFoundError(
                "the face-alignment detector needs the face-alignment package: "
                "`pip install 'float-data[face-alignment]'`, or use the dlib detector",
                name="face_alignment",
            )
        from face_alignment import FaceAlignment, LandmarksType
        from face_alignment.detection.sfd.sfd_detector import SFDDetector
        from face_alignment.models import FAN

        self.threshold = threshold
        self.provides_landmarks = landmarks
        self._sfd = SFDDetector(
            device, path_to_detector=str(weights_dir / SFD_FILE), filter_threshold=threshold
        )
        self._aligner = None
        if landmarks:
            net = FAN(4)
            net.load_state_dict(torch.load(weights_dir / FAN_FILE, map_location=device, weights_only=True))
            net.to(device).eval()
            # Built without FaceAlignment.__init__, which would download the weights it does not find.
            aligner = FaceAlignment.__new__(FaceAlignment)
            aligner.device, aligner.dtype, aligner.flip_input = device, torch.float32, True
            aligner.landmarks_type, aligner.verbose, aligner.max_batch_size = LandmarksType.TWO_D, False, 1
            aligner.face_detector, aligner.face_alignment_net = self._sfd, net
            self._aligner = aligner

    def detect(self, image: np.ndarray) -> list[FaceDetection]:
        boxes = self._sfd.detect_from_image(_check_image(image).copy())
        found = [FaceDetection(_box4(b[:4]), float(b[4])) for b in boxes]
        return sorted([d for d in found if d.score > self.threshold], key=lambda d: -d.score)

    def landmarks(self, image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray | None:
        if self._aligner is None:
            return None
        result = self._aligner.get_landmarks_from_image(_check_image(image), detected_faces=[np.array(box)])
        return None if not result else np.asarray(result[0], dtype=np.float32)[:, :2]


def make_detector(
    name: str = "dlib", weights_dir: str | Path | None = None, device: str = "cpu", landmarks: bool = True
) -> FaceDetector:
    """Build a detector by name: ``face-alignment`` (needs ``weights_dir``), ``dlib``, or ``auto``.

    ``auto`` picks face-alignment when ``weights_dir`` holds its SFD weights, else dlib. ``landmarks=False``
    skips loading the landmark model.
    """
    if name == "auto":
        if weights_dir is not None and (Path(weights_dir) / SFD_FILE).is_file():
            has_fan = (Path(weights_dir) / FAN_FILE).is_file()
            return FaceAlignmentDetector(weights_dir, device=device, landmarks=landmarks and has_fan)
        return DlibDetector(landmarks=landmarks)
    if name == "face-alignment":
        if weights_dir is None:
            raise _missing_weights_error(Path("<weights_dir not set>"), [SFD_FILE, FAN_FILE])
        return FaceAlignmentDetector(weights_dir, device=device, landmarks=landmarks)
    if name == "dlib":
        return DlibDetector(landmarks=landmarks)
    raise ValueError(f"unknown detector {name!r}: use face-alignment, dlib or auto")


def detect_faces(
    detector: FaceDetector, image: np.ndarray, detect_height: int | None = 360
) -> list[FaceDetection]:
    """Run ``detector`` on a copy of ``image`` rescaled to ``detect_height`` rows (official: 360).

    Boxes are mapped back to ``image`` pixels; ``None`` detects at full resolution."""
    _check_image(image)
    factor = 1.0
    work = image
    if detect_height is not None and image.shape[0] != detect_height:
        factor = detect_height / image.shape[0]
        width = max(1, round(image.shape[1] * factor))
        interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
        work = cv2.resize(image, (width, detect_height), interpolation=interpolation)
    return [
        FaceDetection(
            _box4([v / factor for v in d.box]), d.score, None if d.landmarks is None else d.landmarks / factor
        )
        for d in detector.detect(work)
    ]
