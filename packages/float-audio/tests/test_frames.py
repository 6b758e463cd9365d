from __future__ import annotations

import math

import pytest

from float_audio import FPS, SAMPLES_PER_FRAME, num_frames, num_frames_for_samples


@pytest.mark.parametrize(
    ("seconds", "frames"),
    [(0.0, 0), (0.01, 1), (0.04, 1), (0.041, 2), (0.2, 5), (0.28, 7), (2.0, 50), (3.74, 94), (7.3, 183)],
)
def test_num_frames_is_ceil_of_seconds_times_25(seconds: float, frames: int) -> None:
    assert num_frames(seconds) == frames


def test_float_overshoot_does_not_add_a_frame() -> None:
    assert 0.28 * 25 > 7  # the float product overshoots; the rule must still say 7
    assert num_frames(0.28) == 7


@pytest.mark.parametrize("samples", [1, 639, 640, 641, 3200, 59_840, 116_800, 9_600_000])
def test_sample_rule_matches_exact_ceiling(samples: int) -> None:
    assert num_frames_for_samples(samples) == math.ceil(samples / SAMPLES_PER_FRAME)
    assert num_frames_for_samples(samples * 3, 48_000) == num_frames_for_samples(samples)


def test_constants() -> None:
    assert (FPS, SAMPLES_PER_FRAME) == (25, 640)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_bad_seconds_are_rejected(bad: float) -> None:
    with pytest.raises(ValueError, match="seconds"):
        num_frames(bad)


def test_bad_sample_counts_are_rejected() -> None:
    with pytest.raises(ValueError, match="num_samples"):
        num_frames_for_samples(-1)
    with pytest.raises(ValueError, match="sample_rate"):
        num_frames_for_samples(10, 0)
