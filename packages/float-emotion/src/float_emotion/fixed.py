"""Predictors that ignore their input: a one-hot redirect (``--emotion happy``) and a fixed mixture."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from float_emotion.labels import EMOTIONS, NUM_EMOTIONS, emotion_index, one_hot
from float_emotion.protocol import SAMPLE_RATE
from float_emotion.windows import as_clips, batch_size_of, seconds_to_samples, window_bounds


class _ConstantPredictor:
    """Shared behaviour: return one fixed ``[7]`` vector for every input, window and batch element."""

    modality = "none"
    _vector: Tensor

    @property
    def vector(self) -> Tensor:
        """The constant distribution ``[7]`` (float32, sums to 1)."""
        return self._vector.clone()

    def predict(self, inputs: Any = None, *, batch_size: int | None = None, **_: Any) -> Tensor:
        """``[B, 7]`` copies of :attr:`vector`; ``B`` is ``batch_size`` or read from ``inputs``."""
        size = batch_size_of(inputs) if batch_size is None else batch_size
        if size < 1:
            raise ValueError(f"batch_size must be >= 1, got {size}")
        return self._vector.expand(size, NUM_EMOTIONS).clone()

    def predict_windows(
        self, waveform: Any, *, window_seconds: float = 2.0, hop_seconds: float | None = None, **_: Any
    ) -> Tensor:
        """``[B, W, 7]`` copies of :attr:`vector`; ``W`` from the longest clip, as :func:`window_bounds`."""
        clips = as_clips(waveform)
        window = seconds_to_samples(window_seconds, "window_seconds", SAMPLE_RATE)
        hop = None if hop_seconds is None else seconds_to_samples(hop_seconds, "hop_seconds", SAMPLE_RATE)
        count = max(len(window_bounds(c.numel(), window, hop)) for c in clips)
        return self._vector.expand(len(clips), count, NUM_EMOTIONS).clone()


class FixedEmotion(_ConstantPredictor):
    """Emotion redirect: always the one-hot distribution of one emotion (official ``--emo happy``).

    Args:
        emotion: a canonical name (``"happy"``), an alias (``"hap"``) or an index 0..6.
    """

    def __init__(self, emotion: str | int) -> None:
        self._vector = one_hot(emotion)[0]
        self.emotion: str = EMOTIONS[int(self._vector.argmax())]

    def __repr__(self) -> str:
        return f"FixedEmotion({self.emotion!r})"


class EmotionMix(_ConstantPredictor):
    """A fixed mixture of emotions given as non-negative weights per label, normalised to sum to 1.

    Args:
        weights: emotion name/alias -> weight >= 0, e.g. ``{"happy": 3, "surprise": 1}`` gives
            ``happy 0.75, surprise 0.25``. Labels not named get 0. A name given twice via aliases adds up.
    """

    def __init__(self, weights: Mapping[str, float]) -> None:
        if not weights:
            raise ValueError(f"weights is empty: give at least one of {', '.join(EMOTIONS)}")
        vector = torch.zeros(NUM_EMOTIONS, dtype=torch.float64)
        for name, weight in weights.items():
            value = float(weight)
            if not value >= 0 or value == float("inf"):
                raise ValueError(f"weight of {name!r} must be a finite number >= 0, got {weight}")
            vector[emotion_index(name)] += value
        total = float(vector.sum())
        if total <= 0:
            raise ValueError(f"weights {dict(weights)} sum to 0: give at least one positive weight")
        self._vector = (vector / total).to(torch.float32)

    @property
    def weights(self) -> dict[str, float]:
        """Normalised weights of the emotions with non-zero mass."""
        return {name: float(w) for name, w in zip(EMOTIONS, self._vector, strict=True) if w > 0}

    def __repr__(self) -> str:
        return f"EmotionMix({self.weights})"
