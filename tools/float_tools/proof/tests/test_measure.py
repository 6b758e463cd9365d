"""The proof's numbers on signals with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from float_tools.proof.measure import pearson, psnr, shuffled_pairs, speech_mask


def test_pearson_of_known_signals() -> None:
    t = np.linspace(0, 4 * np.pi, 200)
    assert pearson(np.sin(t), 3 * np.sin(t) + 1) == pytest.approx(1.0)
    assert pearson(np.sin(t), -np.sin(t)) == pytest.approx(-1.0)
    # sin and cos over whole periods are uncorrelated.
    assert abs(pearson(np.sin(t[:-1]), np.cos(t[:-1]))) < 0.02
    # x and x + noise of equal variance: r = 1 / sqrt(2).
    rng = np.random.default_rng(0)
    x = rng.standard_normal(200_000)
    assert pearson(x, x + rng.standard_normal(200_000)) == pytest.approx(1 / math.sqrt(2), abs=0.01)


def test_pearson_aligns_on_the_shorter_series_and_flags_undefined_cases() -> None:
    a = np.array([0.0, 1.0, 0.0, 1.0, 5.0, -9.0])
    assert pearson(a, a[:4]) == pytest.approx(1.0)  # only the common prefix counts
    assert math.isnan(pearson(np.ones(10), np.arange(10.0)))
    assert math.isnan(pearson(np.arange(2.0), np.arange(2.0)))


@pytest.mark.parametrize("n", [2, 3, 10, 12])
@pytest.mark.parametrize("seed", [0, 1])
def test_shuffled_pairs_is_a_seeded_derangement(n: int, seed: int) -> None:
    pairs = shuffled_pairs(n, seed)
    assert sorted(pairs) == list(range(n))  # every audio used once
    assert all(j != i for i, j in enumerate(pairs))  # nobody keeps their own audio
    assert shuffled_pairs(n, seed) == pairs
    with pytest.raises(ValueError, match="at least 2"):
        shuffled_pairs(1)


def test_speech_mask_marks_the_speech_frames() -> None:
    mask = speech_mask(10, (3, 7))
    assert mask.tolist() == [False] * 3 + [True] * 4 + [False] * 3
    assert speech_mask(5, (3, 9)).tolist() == [False, False, False, True, True]


def test_psnr_in_db_on_the_unit_scale() -> None:
    a = torch.zeros(2, 3, 8, 8)
    b = a.clone()
    b[1] += 0.2  # 0.1 on the [0, 1] scale: mse 0.01 -> 20 dB
    values = psnr(b, a)
    assert values[1].item() == pytest.approx(20.0, abs=1e-4)
    assert values[0].item() == pytest.approx(100.0)  # identical images hit the 1e-10 floor
