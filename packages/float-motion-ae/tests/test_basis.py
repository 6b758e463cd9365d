"""Lambda-control editing and direction calibration."""

from __future__ import annotations

import pytest
import torch

from float_motion_ae import (
    MotionAutoEncoder,
    calibrate_directions,
    edit_motion,
    motion_coordinates,
    rank_directions,
)


def test_edit_scales_only_the_chosen_directions(tiny_model: MotionAutoEncoder) -> None:
    torch.manual_seed(0)
    q = tiny_model.basis()
    coeffs = torch.randn(4, 8)
    motion = tiny_model.motion(coeffs)
    assert torch.allclose(motion_coordinates(motion, q), coeffs, atol=1e-5)

    removed = edit_motion(motion, q, [1, 5], scale=0.0)
    new = motion_coordinates(removed, q)
    assert torch.allclose(new[:, [1, 5]], torch.zeros(4, 2), atol=1e-5)
    keep = [0, 2, 3, 4, 6, 7]
    assert torch.allclose(new[:, keep], coeffs[:, keep], atol=1e-5)

    doubled = edit_motion(motion, q, [3], scale=2.0)
    assert torch.allclose(motion_coordinates(doubled, q)[:, 3], 2 * coeffs[:, 3], atol=1e-5)

    fixed = edit_motion(motion, q, [0, 2], value=torch.tensor([0.5, -1.0]))
    assert torch.allclose(motion_coordinates(fixed, q)[:, [0, 2]], torch.tensor([[0.5, -1.0]] * 4), atol=1e-5)


def test_edit_keeps_the_component_outside_the_basis() -> None:
    torch.manual_seed(1)
    q = torch.linalg.qr(torch.randn(16, 4)).Q
    motion = torch.randn(2, 5, 16)  # a generated sequence [B, T, d], not in the basis span
    edited = edit_motion(motion, q, [2], scale=0.0)
    outside = motion - motion_coordinates(motion, q) @ q.T
    assert torch.allclose(edited - motion_coordinates(edited, q) @ q.T, outside, atol=1e-5)
    assert torch.equal(edit_motion(motion, q, []), motion)
    with pytest.raises(ValueError, match=r"directions must be in \[0, 4\)"):
        edit_motion(motion, q, [4])
    with pytest.raises(ValueError, match=r"motion must have shape \[\.\.\., 16\]"):
        edit_motion(torch.zeros(3, 8), q, [0])


def test_calibration_finds_planted_pose_and_mouth_directions() -> None:
    torch.manual_seed(2)
    coeffs = torch.randn(200, 10)
    yaw = 30.0 * coeffs[:, 4] - 10.0 * coeffs[:, 7] + 0.5 * torch.randn(200)  # degrees
    mouth = 0.2 * coeffs[:, 1] + 0.01 * torch.randn(200)  # opening ratio
    ranking = rank_directions(coeffs, yaw)
    assert ranking.top(2) == [4, 7]
    assert ranking.correlation[4] > 0.9 and ranking.correlation[7] < -0.2
    groups = calibrate_directions(coeffs, {"head_yaw": yaw, "mouth_open": mouth}, top_k=2)
    assert groups["head_yaw"] == [4, 7]
    assert groups["mouth_open"][0] == 1
    assert not set(groups["head_yaw"]) & set(groups["mouth_open"])
    with pytest.raises(ValueError, match=r"attribute must have shape \[N=200\]"):
        rank_directions(coeffs, yaw[:10])
