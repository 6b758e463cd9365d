"""Emotion intensity: weaken a distribution toward neutral or sharpen it, and a wrapper that applies it.

With intensity ``s >= 0`` and a distribution ``p`` (rows sum to 1):

- ``0 <= s <= 1`` (weaken): ``p' = s * p + (1 - s) * e_neutral``, a linear blend toward the one-hot neutral
  vector. ``s = 0`` gives pure neutral, ``s = 1`` leaves ``p`` unchanged.
- ``s > 1`` (sharpen): ``p' = p ** s / sum(p ** s)``, i.e. ``softmax(log p / T)`` at temperature
  ``T = 1 / s``. The argmax keeps its label and gains mass; as ``s -> inf`` ``p'`` tends to the one-hot
  of the argmax. A one-hot input (a redirect) is unchanged by sharpening.

Both branches give ``p`` at ``s = 1``, so the map is continuous in ``s``. Rows of ``p'`` sum to 1.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from float_emotion.labels import NEUTRAL_INDEX, NUM_EMOTIONS
from float_emotion.protocol import EmotionPredictor


def apply_intensity(probs: Tensor, intensity: float) -> Tensor:
    """Weaken (``0 <= intensity < 1``) or sharpen (``intensity > 1``) emotion distributions ``[..., 7]``.

    See the module docstring for the exact formulas. Returns a tensor of the same shape and dtype.
    """
    if probs.shape[-1] != NUM_EMOTIONS:
        raise ValueError(
            f"probs must have {NUM_EMOTIONS} emotions in the last dim, got shape {tuple(probs.shape)}"
        )
    if not intensity >= 0 or intensity == float("inf"):
        raise ValueError(f"intensity must be a finite number >= 0, got {intensity}")
    if intensity == 1:
        return probs.clone()
    if intensity < 1:
        neutral = torch.zeros(NUM_EMOTIONS, dtype=probs.dtype, device=probs.device)
        neutral[NEUTRAL_INDEX] = 1.0
        return intensity * probs + (1.0 - intensity) * neutral
    # p**s computed in log space, normalised by the row max first so large s cannot underflow every entry.
    logp = torch.log(probs.clamp_min(0))
    scaled = intensity * (logp - logp.amax(dim=-1, keepdim=True))
    return torch.softmax(scaled, dim=-1)


class WithIntensity:
    """Wrap any predictor so its outputs go through :func:`apply_intensity` (same protocol and shapes)."""

    def __init__(self, predictor: EmotionPredictor, intensity: float) -> None:
        if not isinstance(predictor, EmotionPredictor):
            raise TypeError(f"predictor must implement EmotionPredictor, got {type(predictor).__name__}")
        apply_intensity(torch.full((NUM_EMOTIONS,), 1.0 / NUM_EMOTIONS), intensity)  # validate early
        self.predictor = predictor
        self.intensity = float(intensity)
        self.modality = predictor.modality

    def predict(self, inputs: Any = None, **kwargs: Any) -> Tensor:
        """``[B, 7]``: the wrapped predictor's output with the intensity applied."""
        return apply_intensity(self.predictor.predict(inputs, **kwargs), self.intensity)

    def predict_windows(self, waveform: Any, **kwargs: Any) -> Tensor:
        """``[B, W, 7]``: the wrapped predictor's windowed output with the intensity applied."""
        windowed = getattr(self.predictor, "predict_windows", None)
        if windowed is None:
            raise TypeError(f"{type(self.predictor).__name__} does not predict per window")
        return apply_intensity(windowed(waveform, **kwargs), self.intensity)

    def __repr__(self) -> str:
        return f"WithIntensity({self.predictor!r}, intensity={self.intensity})"
