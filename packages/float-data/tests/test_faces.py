"""Detectors on real faces: dlib (offline) on the astronaut and carphone; face-alignment's local weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from float_data import (
    DlibDetector,
    FaceAlignmentDetector,
    FaceDetector,
    component_boxes,
    detect_faces,
    make_detector,
    mouth_aperture,
    read_video,
    stable_face_box,
)
from float_data.detectors import FAN_FILE, SFD_FILE


@pytest.fixture(scope="module")
def dlib_detector() -> DlibDetector:
    return DlibDetector()


def test_dlib_finds_the_astronaut_face(dlib_detector: DlibDetector, portrait_png: Path) -> None:
    image = np.asarray(Image.open(portrait_png).convert("RGB"))
    assert isinstance(dlib_detector, FaceDetector)
    faces = detect_faces(dlib_detector, image, detect_height=360)
    assert len(faces) == 1
    x0, y0, x1, y1 = faces[0].box
    # the astronaut's face in the 256x256 portrait: centre near (110, 60), about 45 px wide
    assert abs((x0 + x1) / 2 - 110) < 12 and abs((y0 + y1) / 2 - 62) < 12
    assert 30 < x1 - x0 < 70
    points = dlib_detector.landmarks(image, faces[0].box)
    assert points.shape == (68, 2)
    assert (points[:, 0] > x0 - 10).all() and (points[:, 0] < x1 + 10).all()
    eyes_y = points[36:48, 1].mean()
    mouth_y = points[48:68, 1].mean()
    assert eyes_y < mouth_y  # eyes above the mouth
    boxes = component_boxes(points)
    assert boxes["left_eye"][0] > boxes["right_eye"][0]  # image-left is the subject's right eye
    assert 0.0 <= float(mouth_aperture(points)) < 0.3  # the astronaut smiles with closed lips


def test_detect_height_maps_boxes_back(dlib_detector: DlibDetector, portrait_png: Path) -> None:
    image = np.asarray(Image.open(portrait_png).convert("RGB"))
    full = detect_faces(dlib_detector, image, detect_height=512)[0].box
    small = detect_faces(dlib_detector, image, detect_height=360)[0].box
    assert np.abs(np.array(full) - np.array(small)).max() < 8


def test_no_face_in_noise(dlib_detector: DlibDetector, noise_png: Path) -> None:
    image = np.asarray(Image.open(noise_png).convert("RGB"))
    assert detect_faces(dlib_detector, image) == []


def test_carphone_mouth_moves_while_talking(dlib_detector: DlibDetector, carphone_mp4: Path) -> None:
    frames = read_video(carphone_mp4)[::4]
    apertures = []
    for frame in frames:
        faces = detect_faces(dlib_detector, frame)
        assert faces, "the carphone speaker's face should be found in every sampled frame"
        apertures.append(float(mouth_aperture(dlib_detector.landmarks(frame, faces[0].box))))
    apertures = np.array(apertures)
    assert apertures.max() - apertures.min() > 0.1  # he talks: the mouth opens and closes


def test_face_alignment_needs_local_weights(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as caught:
        FaceAlignmentDetector(tmp_path)
    message = str(caught.value)
    assert SFD_FILE in message and FAN_FILE in message and "adrianbulat.com" in message
    assert "--weights-dir" in message
    with pytest.raises(FileNotFoundError, match=SFD_FILE):
        make_detector("face-alignment")
    assert make_detector("auto", weights_dir=tmp_path).name == "dlib"  # no weights there: offline fallback
    with pytest.raises(ValueError, match="unknown detector"):
        make_detector("haar")


@pytest.mark.slow
def test_face_alignment_loads_weights_from_folder(tmp_path: Path, portrait_png: Path) -> None:
    """With (random) weights of the right architecture in the folder, the detector builds and runs offline."""
    from face_alignment.detection.sfd.net_s3fd import s3fd
    from face_alignment.models import FAN

    torch.manual_seed(0)
    torch.save(s3fd().state_dict(), tmp_path / SFD_FILE)
    torch.save(FAN(4).state_dict(), tmp_path / FAN_FILE)
    detector = make_detector("auto", weights_dir=tmp_path)
    assert detector.name == "face-alignment" and detector.provides_landmarks
    image = np.asarray(Image.open(portrait_png).convert("RGB").resize((64, 64)))
    faces = detector.detect(image)
    assert all(f.score > 0.95 for f in faces)
    points = detector.landmarks(image, (20.0, 8.0, 35.0, 24.0))
    assert points.shape == (68, 2) and np.isfinite(points).all()


def test_stable_face_box_does_not_jump_with_the_pyramid(
    dlib_detector: DlibDetector, portrait_png: Path
) -> None:
    """The same face framed a little wider or tighter: dlib's own box side jumps in ~1.2x pyramid steps,
    the box averaged over 4 detection heights follows the face size within a few percent."""
    image = Image.open(portrait_png).convert("RGB")
    single, stable = [], []
    for side in range(120, 184, 8):  # square windows around the face, each resized to 256 px
        x0, y0 = 110 - side // 2, 62 - side // 2
        view = np.asarray(
            image.crop((x0, y0, x0 + side, y0 + side)).resize((256, 256), Image.Resampling.BICUBIC)
        )
        to_original = side / 256  # a box side in the view, in portrait pixels
        plain = detect_faces(dlib_detector, view)[0].box
        averaged = stable_face_box(dlib_detector, view, phases=4)
        assert averaged is not None
        single.append((plain[2] - plain[0]) * to_original)
        stable.append((averaged[2] - averaged[0]) * to_original)
    assert max(single) / min(single) > 1.12  # the pyramid's jumps
    assert max(stable) / min(stable) < 1.08
    assert np.std(stable) < 0.6 * np.std(single)


def test_stable_face_box_edge_cases(dlib_detector: DlibDetector, portrait_png: Path, noise_png: Path) -> None:
    image = np.asarray(Image.open(portrait_png).convert("RGB"))
    assert stable_face_box(dlib_detector, image, phases=1) == detect_faces(dlib_detector, image)[0].box
    assert stable_face_box(dlib_detector, np.asarray(Image.open(noise_png).convert("RGB"))) is None
    with pytest.raises(ValueError, match="phases"):
        stable_face_box(dlib_detector, image, phases=0)
