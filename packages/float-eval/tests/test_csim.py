"""5-point alignment, ArcFace through ONNX Runtime, CSIM identity, SCRFD decoding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from float_eval.metrics import CSIM
from float_eval.nets import SCRFD, ArcFaceONNX, Face
from float_eval.ops import ARCFACE_TEMPLATE, decode_scrfd, norm_crop, similarity_transform, warp_affine
from float_eval.ops.detection import scrfd_input


def test_similarity_transform_recovers_rotation_scale_translation() -> None:
    angle, scale, shift = 0.3, 1.7, np.array([5.0, -3.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    src = ARCFACE_TEMPLATE
    dst = src @ (scale * rot).T + shift
    m = similarity_transform(src, dst)
    np.testing.assert_allclose(m[:, :2], scale * rot, atol=1e-10)
    np.testing.assert_allclose(m[:, 2], shift, atol=1e-9)


def test_warp_affine_translation_is_exact_and_template_crop_is_identity() -> None:
    torch.manual_seed(0)
    img = torch.rand(3, 20, 30)
    out = warp_affine(img, np.array([[1.0, 0, -2], [0, 1.0, -5]]), (10, 12))
    torch.testing.assert_close(out, img[:, 5:15, 2:14])
    face = torch.rand(3, 112, 112)
    torch.testing.assert_close(norm_crop(face, ARCFACE_TEMPLATE), face, atol=1e-5, rtol=0)
    # A face twice as large, landmarks scaled: the crop is the half-resolution image.
    big = face.repeat_interleave(2, 1).repeat_interleave(2, 2)
    crop = norm_crop(big, ARCFACE_TEMPLATE * 2 + 0.5)
    torch.testing.assert_close(crop, face, atol=1e-4, rtol=0)


class _TinyArcFace(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 8, stride=8)
        self.fc = torch.nn.Linear(4 * 14 * 14, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x)).flatten(1))


@pytest.fixture(scope="module")
def arcface_onnx(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    torch.manual_seed(0)
    model = _TinyArcFace().eval()
    path = tmp_path_factory.mktemp("arcface") / "w600k_r50.onnx"
    torch.onnx.export(
        model,
        (torch.zeros(1, 3, 112, 112),),
        str(path),
        input_names=["input.1"],
        dynamic_axes={"input.1": {0: "n"}},
        dynamo=False,
    )
    return path, model


class _FixedLandmarks:
    """Stand-in detector: template landmarks scaled to the frame, no face in dark frames."""

    name = "fixed"

    def detect(self, image: np.ndarray) -> list[Face]:
        if image.mean() < 10:
            return []
        h, w = image.shape[:2]
        kps = ARCFACE_TEMPLATE * np.array([w / 112, h / 112])
        return [Face(box=np.array([0, 0, w, h], float), score=1.0, kps=kps)]


def test_arcface_onnx_matches_torch_with_insightface_normalisation(
    arcface_onnx: tuple[Path, torch.nn.Module],
) -> None:
    path, model = arcface_onnx
    faces = torch.randint(0, 256, (3, 3, 112, 112)).float()
    ours = ArcFaceONNX(path)(faces)
    with torch.no_grad():
        ref = model((faces - 127.5) / 127.5)
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="112, 112"):
        ArcFaceONNX(path)(torch.zeros(1, 3, 64, 64))


def test_csim_of_source_video_is_one_and_faceless_frames_are_counted(
    arcface_onnx: tuple[Path, torch.nn.Module], portrait_png: Path
) -> None:
    from PIL import Image

    source = torch.from_numpy(np.array(Image.open(portrait_png).convert("RGB").resize((96, 96)))).permute(
        2, 0, 1
    )
    metric = CSIM(ArcFaceONNX(arcface_onnx[0]), _FixedLandmarks())
    same = metric.update(source, source[None].repeat(4, 1, 1, 1))
    assert same.csim == pytest.approx(1.0, abs=1e-6)
    assert same.frames_scored == 4 and same.frames_without_face == 0

    other = torch.flip(source, dims=[1])  # a different picture
    dark = torch.zeros_like(source)
    mixed = metric.update(source, torch.stack([source, other, dark]))
    assert mixed.frames_scored == 2 and mixed.frames_without_face == 1
    assert mixed.csim is not None and mixed.csim < 1.0 - 1e-4
    assert metric.compute() == pytest.approx((1.0 + mixed.csim) / 2, rel=1e-9)
    with pytest.raises(ValueError, match="source portrait"):
        metric.score(dark, source[None])


def _scrfd_outputs(size: int = 32) -> list[np.ndarray]:
    outs = []
    for stride in (8, 16, 32):
        n = (size // stride) ** 2 * 2
        outs.append(np.zeros((n, 1), np.float32))
    outs += [np.zeros(((size // s) ** 2 * 2, 4), np.float32) for s in (8, 16, 32)]
    outs += [np.zeros(((size // s) ** 2 * 2, 10), np.float32) for s in (8, 16, 32)]
    idx = (2 * 4 + 1) * 2  # stride 8, cell x=1, y=2, first anchor: centre (8, 16)
    outs[0][idx] = 0.9
    outs[0][idx + 2] = 0.3  # below threshold
    outs[3][idx] = [1, 1, 2, 2]
    outs[6][idx] = [0.5, 0.5, 1.0, 0.5, 0.75, 1.0, 0.5, 1.5, 1.0, 1.5]
    return outs


def test_decode_scrfd_distances_to_box_and_keypoints() -> None:
    boxes, scores, kps = decode_scrfd(_scrfd_outputs(), (32, 32))
    assert scores.tolist() == pytest.approx([0.9])
    np.testing.assert_allclose(boxes[0], [0, 8, 24, 32])
    np.testing.assert_allclose(kps[0, 0], [12, 20])
    np.testing.assert_allclose(kps[0, 4], [16, 28])


def test_scrfd_onnx_detector_maps_back_to_frame(tmp_path: Path) -> None:
    outs = [torch.from_numpy(o) for o in _scrfd_outputs()]

    class StandIn(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
            zero = x.mean() * 0
            return tuple(o + zero for o in outs)

    path = tmp_path / "det_10g.onnx"
    torch.onnx.export(StandIn(), (torch.zeros(1, 3, 32, 32),), str(path), dynamo=False)
    faces = SCRFD(path, input_size=(32, 32)).detect(np.zeros((64, 64, 3), np.uint8))
    assert len(faces) == 1
    np.testing.assert_allclose(faces[0].box, [0, 16, 48, 64], atol=1e-4)
    assert faces[0].kps is not None and faces[0].kps.shape == (5, 2)
    np.testing.assert_allclose(faces[0].kps[0], [24, 40], atol=1e-4)


@pytest.mark.parametrize(("height", "width"), [(576, 704), (704, 576), (480, 640), (300, 300)])
def test_scrfd_input_is_insightfaces(height: int, width: int) -> None:
    """insightface ``SCRFD.detect``: int() of the short side, uint8 resize, black (-0.996) padding."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    blob, det_scale = scrfd_input(image, (640, 640))
    # insightface, written out: im_ratio = h / w against model_ratio = 1.
    if height / width > 1.0:
        new_h, new_w = 640, int(640 / (height / width))
    else:
        new_w, new_h = 640, int(640 * (height / width))
    if (height, width) == (576, 704):
        assert new_h == 523  # not round(576 * 640 / 704) = 524
    assert blob.shape == (1, 3, 640, 640) and blob.dtype == np.float32
    assert det_scale == new_h / height
    pad = -127.5 / 128.0
    assert (blob[:, :, new_h:, :] == pad).all() and (blob[:, :, :, new_w:] == pad).all()
    content = blob[0, :, :new_h, :new_w] * 128.0 + 127.5
    np.testing.assert_array_equal(content, np.round(content))  # resized to uint8 values, as cv2.resize gives
    expected = torch.nn.functional.interpolate(
        torch.from_numpy(image).permute(2, 0, 1)[None].float(), size=(new_h, new_w), mode="bilinear"
    )[0]
    np.testing.assert_allclose(content, expected.numpy(), atol=0.5)


def test_scrfd_maps_boxes_back_through_det_scale_on_non_square_frames(tmp_path: Path) -> None:
    outs = [torch.from_numpy(o) for o in _scrfd_outputs()]

    class StandIn(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
            zero = x.mean() * 0
            return tuple(o + zero for o in outs)

    path = tmp_path / "det_10g.onnx"
    torch.onnx.export(StandIn(), (torch.zeros(1, 3, 32, 32),), str(path), dynamo=False)
    faces = SCRFD(path, input_size=(32, 32)).detect(np.zeros((60, 70, 3), np.uint8))
    det_scale = int(32 * 60 / 70) / 60  # 27 / 60
    np.testing.assert_allclose(faces[0].box, np.array([0, 8, 24, 32]) / det_scale, atol=1e-4)
