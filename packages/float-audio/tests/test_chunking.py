from __future__ import annotations

import itertools

import pytest
import torch

from float_audio import blend_weights, encode_in_chunks, plan_chunks


@pytest.mark.parametrize(
    ("total", "chunk", "overlap"),
    [(1, 10, 2), (10, 10, 2), (11, 10, 2), (11, 10, 4), (183, 50, 15), (1000, 75, 25), (15_000, 750, 100)],
)
def test_plan_covers_everything_with_bounded_equal_chunks(total: int, chunk: int, overlap: int) -> None:
    spans = plan_chunks(total, chunk, overlap)
    assert spans[0][0] == 0 and spans[-1][1] == total
    lengths = {end - start for start, end in spans}
    assert len(lengths) == 1 and lengths.pop() <= chunk
    for (_, end), (next_start, _) in itertools.pairwise(spans):
        assert end - next_start >= overlap  # neighbours share at least the requested overlap


def test_ten_minutes_uses_the_fewest_30s_chunks() -> None:
    spans = plan_chunks(15_000, 750, 100)
    assert len(spans) == 23  # ceil((15000 - 100) / (750 - 100))


@pytest.mark.parametrize(("total", "chunk", "overlap"), [(183, 50, 15), (11, 10, 4), (500, 60, 0)])
def test_weights_sum_to_one_and_ramp(total: int, chunk: int, overlap: int) -> None:
    spans = plan_chunks(total, chunk, overlap)
    weights = blend_weights(spans)
    coverage = torch.zeros(total)
    for (start, end), weight in zip(spans, weights, strict=True):
        assert weight.shape == (end - start,) and (weight > 0).all() and (weight <= 1).all()
        coverage[start:end] += weight
    torch.testing.assert_close(coverage, torch.ones(total))


def test_blending_reproduces_a_chunk_independent_signal_exactly() -> None:
    torch.manual_seed(0)
    signal = torch.randn(2, 183, 8)
    calls: list[tuple[int, int]] = []

    def encode_span(start: int, end: int) -> torch.Tensor:
        calls.append((start, end))
        return signal[:, start:end]

    out = encode_in_chunks(encode_span, 183, chunk_frames=50, overlap_frames=15)
    torch.testing.assert_close(out, signal)
    assert max(end - start for start, end in calls) <= 50 and len(calls) == 5


def test_seams_are_cross_faded_not_cut() -> None:
    # two chunks that disagree by a constant offset: the output moves linearly from one to the other
    spans = plan_chunks(20, 12, 4)
    assert spans == [(0, 12), (8, 20)]

    def encode_span(start: int, end: int) -> torch.Tensor:
        return torch.full((1, end - start, 1), float(start > 0))

    out = encode_in_chunks(encode_span, 20, 12, 4)[0, :, 0]
    torch.testing.assert_close(out[:8], torch.zeros(8))
    torch.testing.assert_close(out[8:12], torch.tensor([0.2, 0.4, 0.6, 0.8]))
    torch.testing.assert_close(out[12:], torch.ones(8))


def test_bad_plans_are_rejected() -> None:
    with pytest.raises(ValueError, match="total_frames"):
        plan_chunks(0, 10, 2)
    with pytest.raises(ValueError, match="overlap_frames"):
        plan_chunks(100, 10, 5)
    with pytest.raises(RuntimeError, match="expected"):
        encode_in_chunks(lambda s, e: torch.zeros(1, 3, 2), 20, 10, 2)
