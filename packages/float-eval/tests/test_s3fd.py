"""S3FD (syncnet_python's LSE face detector): strict loading, decoding, thresholds, and IoU face tracks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from float_eval.nets import S3FD, S3FDNet, load_s3fd
from float_eval.ops import box_iou, decode_s3fd, iou_tracks, s3fd_priors


def test_s3fd_state_dict_has_reference_names_and_loads_strictly(tmp_path: Path) -> None:
    torch.manual_seed(0)
    state = S3FDNet().state_dict()
    # syncnet_python's S3FDNet: 15 VGG convs (+ dilated fc6, fc7), three L2Norm scales, 4 extras, 6 + 6 heads.
    assert len(state) == 65
    assert tuple(state["vgg.0.weight"].shape) == (64, 3, 3, 3)
    assert tuple(state["vgg.14.weight"].shape) == (256, 256, 3, 3)
    assert tuple(state["vgg.31.weight"].shape) == (1024, 512, 3, 3)
    assert tuple(state["vgg.33.weight"].shape) == (1024, 1024, 1, 1)
    assert tuple(state["L2Norm3_3.weight"].shape) == (256,) and float(state["L2Norm3_3.weight"][0]) == 10.0
    assert tuple(state["extras.3.weight"].shape) == (256, 128, 3, 3)
    assert tuple(state["loc.3.weight"].shape) == (4, 1024, 3, 3)
    assert tuple(state["conf.0.weight"].shape) == (4, 256, 3, 3)  # max-out background: 3 + 1 channels
    torch.save(state, tmp_path / "sfd_face.pth")
    net = load_s3fd(tmp_path / "sfd_face.pth")
    assert not net.training
    with torch.no_grad():
        loc, conf, sizes = net(torch.zeros(1, 3, 64, 64))
    # The third pooling rounds up: 64 -> 16 (stride 4) ... and both extras halve again.
    assert sizes == [(16, 16), (8, 8), (4, 4), (2, 2), (1, 1), (1, 1)]
    assert loc.shape == (1, 342, 4) and conf.shape == (1, 342, 2)
    assert s3fd_priors((64, 64), sizes).shape == (342, 4)
    state.pop("L2Norm5_3.weight")
    torch.save(state, tmp_path / "broken.pth")
    with pytest.raises(RuntimeError, match="Missing key"):
        load_s3fd(tmp_path / "broken.pth")


def test_priors_and_decoding_follow_ssd_conventions() -> None:
    priors = s3fd_priors((64, 128), [(16, 32), (8, 16), (4, 8), (2, 4), (1, 2), (1, 1)])
    # First cell of the stride-4 map: centre (2, 2) px, size 16 px; row-major order (x varies fastest).
    np.testing.assert_allclose(priors[0], [2 / 128, 2 / 64, 16 / 128, 16 / 64])
    np.testing.assert_allclose(priors[1, :2], [6 / 128, 2 / 64])
    loc = np.zeros((len(priors), 4))
    loc[1] = [1.0, 0.0, np.log(2.0) / 0.2, 0.0]  # shift by 0.1 * width, double the width
    scores = np.zeros(len(priors))
    scores[1] = 0.9
    boxes, kept = decode_s3fd(loc, scores, priors)
    assert kept.tolist() == [0.9]
    cx, w = 6 / 128 + 0.1 * 16 / 128, 32 / 128
    np.testing.assert_allclose(boxes[0], [cx - w / 2, 2 / 64 - 8 / 64, cx + w / 2, 2 / 64 + 8 / 64])


class _PlantedNet(torch.nn.Module):
    """Returns SSD outputs with chosen face logits at chosen priors (zero offsets: boxes are the priors)."""

    def __init__(self, logits: dict[int, float]) -> None:
        super().__init__()
        self.logits = logits
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[tuple[int, int]]]:
        self.seen.append(x)
        h, w = x.shape[2:]
        sizes = [(-(-h // s), -(-w // s)) for s in (4, 8, 16, 32, 64, 128)]
        n = sum(a * b for a, b in sizes)
        conf = torch.zeros(1, n, 2)
        conf[0, :, 0] = 10.0  # background everywhere ...
        for index, logit in self.logits.items():
            conf[0, index, 1] = logit  # ... and a face logit at the planted priors
        return torch.zeros(1, n, 4), conf, sizes


def test_s3fd_detect_scales_thresholds_and_suppresses() -> None:
    # 256x256 frame at scale 0.25 -> 64x64 input. Level 2 (stride 16, 4x4 cells, 64-px priors) starts at
    # 16*16 + 8*8 = 320; its cell (1, 1) is centred at (24, 24) input px = (96, 96) frame px, 256 px wide.
    level1, level2 = 16 * 16, 16 * 16 + 8 * 8
    strong = level2 + 5
    overlapping = level2 + 6  # IoU 0.6 with strong: removed by the first NMS (0.3)
    inner = level1 + 3 * 8 + 2  # 32-px prior inside strong, IoU 0.25: survives 0.3, removed by the final 0.1
    weak = level2 + 15  # softmax([10, 10]) = 0.5: a candidate (> 0.05) but below conf_th 0.9
    planted = {strong: 16.0, overlapping: 15.0, inner: 14.0, weak: 10.0}
    net = _PlantedNet(planted)
    image = np.full((256, 256, 3), 200, np.uint8)
    faces = S3FD(net, scale=0.25).detect(image)
    assert net.seen[0].shape == (1, 3, 64, 64)
    # Inputs are RGB minus (123, 117, 104): syncnet_python flips to BGR, subtracts, and flips back.
    np.testing.assert_allclose(net.seen[0][0, :, 0, 0].numpy(), [77.0, 83.0, 96.0])
    assert len(faces) == 1 and faces[0].kps is None
    assert faces[0].score == pytest.approx(float(torch.softmax(torch.tensor([10.0, 16.0]), 0)[1]), rel=1e-6)
    np.testing.assert_allclose(faces[0].box, [96 - 128, 96 - 128, 96 + 128, 96 + 128], atol=1e-4)
    assert len(S3FD(_PlantedNet(planted), scale=0.25, final_nms=1.0).detect(image)) == 2
    assert len(S3FD(_PlantedNet(planted), scale=0.25, final_nms=1.0, conf_threshold=0.4).detect(image)) == 3
    assert S3FD(_PlantedNet({}), scale=0.25).detect(image) == []
    with pytest.raises(ValueError, match="RGB"):
        S3FD(net).detect(image[..., 0])
    with pytest.raises(ValueError, match=r"at least 128 px at scale 0\.25"):
        S3FD(net).detect(image[:100])


def _face(x: float, y: float, size: float = 120.0) -> np.ndarray:
    return np.array([x, y, x + size, y + size])


def test_iou_tracks_follow_track_shot() -> None:
    n = 130
    detections: list[list[np.ndarray]] = []
    for t in range(n):
        frame = [_face(10 + t * 0.5, 20), _face(400, 20 + t * 0.2)]
        if 40 <= t < 60:
            frame = frame[1:]  # the first face is missed for 20 frames (< 25): one track, gap interpolated
        detections.append(frame)
    tracks = iou_tracks(detections, min_track=100)
    assert [first for first, _ in tracks] == [0, 0] and [len(b) for _, b in tracks] == [n, n]
    np.testing.assert_allclose(tracks[0][1][50], _face(10 + 25, 20))
    assert box_iou(tracks[1][1][0], _face(400, 20)) == pytest.approx(1.0)
    # More than min_track detections are needed (110 detections: kept at 100, dropped at 110).
    assert len(iou_tracks(detections, min_track=110)) == 1
    # Faces must be larger than min_face_size on average.
    assert iou_tracks(detections, min_track=100, min_face_size=120) == []
    # A jump (IoU <= 0.5) ends the track; a 30-frame gap (> 25) too.
    jump = [[_face(10, 20)] for _ in range(60)] + [[_face(200, 20)] for _ in range(60)]
    assert [len(b) for _, b in iou_tracks(jump, min_track=50)] == [60, 60]
    still = [[_face(10, 20)] for _ in range(60)]
    gap = still + [[] for _ in range(30)] + [[b.copy() for b in f] for f in still]
    assert [(first, len(b)) for first, b in iou_tracks(gap, min_track=50)] == [(0, 60), (90, 60)]
