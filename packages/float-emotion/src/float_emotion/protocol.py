"""The interfaces every emotion predictor implements, so that swapping one for another is a one-line change.

A predictor turns its input (a 16 kHz waveform, an image, or nothing at all for fixed emotions) into a
probability distribution over :data:`float_emotion.EMOTIONS`: a float32 tensor ``[B, 7]`` whose rows are
non-negative and sum to 1. Audio predictors may also give one distribution per time window, ``[B, W, 7]``.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from torch import Tensor

SAMPLE_RATE: int = 16_000
"""Sample rate (Hz) of every waveform given to a predictor."""


@runtime_checkable
class EmotionPredictor(Protocol):
    """Anything that maps inputs to a ``[B, 7]`` emotion distribution.

    ``modality`` says what ``predict`` reads: ``"audio"`` (waveforms at 16 kHz: ``[N]``, ``[B, N]`` or a list
    of 1-D clips), ``"image"`` (PIL images, paths, or ``[B, 3, H, W]`` tensors) or ``"none"`` (inputs only
    fix the batch size, e.g. :class:`float_emotion.FixedEmotion`).
    """

    modality: str

    def predict(self, inputs: Any) -> Tensor:
        """Emotion distribution ``[B, 7]`` float32, rows sum to 1, order :data:`float_emotion.EMOTIONS`."""
        ...


@runtime_checkable
class WindowedEmotionPredictor(EmotionPredictor, Protocol):
    """An :class:`EmotionPredictor` that can also predict one distribution per time window of a waveform."""

    def predict_windows(
        self, waveform: Any, *, window_seconds: float = 2.0, hop_seconds: float | None = None
    ) -> Tensor:
        """Per-window distributions ``[B, W, 7]``; windows as in :func:`float_emotion.window_bounds`."""
        ...
