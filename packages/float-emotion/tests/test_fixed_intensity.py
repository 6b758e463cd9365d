from __future__ import annotations

import pytest
import torch

from float_emotion import (
    EmotionMix,
    EmotionPredictor,
    FixedEmotion,
    WindowedEmotionPredictor,
    WithIntensity,
    apply_intensity,
)


def test_fixed_emotion_is_an_exact_one_hot_for_any_batch() -> None:
    redirect = FixedEmotion("hap")
    assert isinstance(redirect, EmotionPredictor)
    assert isinstance(redirect, WindowedEmotionPredictor)
    assert redirect.emotion == "happy"
    assert torch.equal(redirect.predict(), torch.eye(7)[[3]])
    assert torch.equal(redirect.predict(torch.zeros(3, 16000)), torch.eye(7)[[3, 3, 3]])
    assert torch.equal(redirect.predict(torch.zeros(2, 3, 8, 8)), torch.eye(7)[[3, 3]])
    assert torch.equal(redirect.predict(batch_size=4), torch.eye(7)[[3] * 4])


def test_fixed_emotion_windows_follow_window_bounds() -> None:
    # 2.5 s with 1 s windows and 0.5 s hop: starts 0, 0.5, 1.0, 1.5 -> 4 windows
    out = FixedEmotion(5).predict_windows(torch.zeros(2, 40000), window_seconds=1.0, hop_seconds=0.5)
    assert out.shape == (2, 4, 7)
    assert torch.equal(out, torch.eye(7)[5].expand(2, 4, 7))


def test_unknown_redirect_lists_valid_emotions() -> None:
    with pytest.raises(
        ValueError, match="valid emotions are angry, disgust, fear, happy, neutral, sad, surprise"
    ):
        FixedEmotion("bored")


def test_emotion_mix_normalises_weights_exactly() -> None:
    mix = EmotionMix({"happy": 3, "surprised": 1})
    assert torch.equal(mix.predict(), torch.tensor([[0, 0, 0, 0.75, 0, 0, 0.25]]))
    assert mix.weights == {"happy": 0.75, "surprise": 0.25}
    # aliases of one label add up
    assert torch.equal(EmotionMix({"sad": 1, "sadness": 1}).vector, torch.eye(7)[5])


@pytest.mark.parametrize("weights", [{}, {"happy": 0}, {"happy": -1}, {"happy": float("nan")}])
def test_emotion_mix_rejects_bad_weights(weights: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        EmotionMix(weights)


P = torch.tensor([[0.1, 0.0, 0.0, 0.5, 0.2, 0.2, 0.0]])


def test_intensity_blends_toward_neutral_below_one() -> None:
    torch.testing.assert_close(apply_intensity(P, 0.0), torch.eye(7)[[4]])
    torch.testing.assert_close(apply_intensity(P, 0.25), torch.tensor([[0.025, 0, 0, 0.125, 0.8, 0.05, 0]]))
    torch.testing.assert_close(apply_intensity(P, 1.0), P)


def test_intensity_sharpens_by_temperature_above_one() -> None:
    squared = P**2 / (P**2).sum()
    torch.testing.assert_close(apply_intensity(P, 2.0), squared)
    # continuous at 1, argmax kept, one-hot (a redirect) unchanged, large s tends to one-hot
    torch.testing.assert_close(apply_intensity(P, 1.0 + 1e-6), P, atol=1e-5, rtol=0)
    assert int(apply_intensity(P, 3.0).argmax()) == 3
    torch.testing.assert_close(apply_intensity(torch.eye(7)[[2]], 5.0), torch.eye(7)[[2]])
    torch.testing.assert_close(apply_intensity(P, 200.0), torch.eye(7)[[3]])


def test_intensity_rejects_bad_values_and_shapes() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        apply_intensity(P, -0.5)
    with pytest.raises(ValueError, match="7 emotions"):
        apply_intensity(torch.ones(1, 4) / 4, 0.5)


def test_with_intensity_wraps_any_predictor() -> None:
    weak_mix = WithIntensity(EmotionMix({"angry": 1, "sad": 1}), 0.5)
    assert isinstance(weak_mix, WindowedEmotionPredictor)
    torch.testing.assert_close(
        weak_mix.predict(batch_size=2), torch.tensor([[0.25, 0, 0, 0, 0.5, 0.25, 0]] * 2)
    )
    windows = weak_mix.predict_windows(torch.zeros(1, 8000), window_seconds=0.25)
    assert windows.shape == (1, 2, 7)
    torch.testing.assert_close(windows[0, 1], torch.tensor([0.25, 0, 0, 0, 0.5, 0.25, 0]))
