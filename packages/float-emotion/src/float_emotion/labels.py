"""The canonical emotion labels of FLOAT and the mapping from any classifier's own labels onto them.

The flow model is conditioned on a 7-d emotion distribution whose order is fixed by the official checkpoint:
``angry, disgust, fear, happy, neutral, sad, surprise`` (index 0..6). Third-party classifiers name and order
their classes differently ("ang", "hap", "neu", "sad"; "Anger"; "joy"), so every predictor goes through an
explicit :class:`LabelMapping` that says which canonical class each model class feeds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
"""Canonical label order used by the flow model (index 0..6)."""

NUM_EMOTIONS: int = len(EMOTIONS)
NEUTRAL_INDEX: int = EMOTIONS.index("neutral")

# Common spellings found in SER / FER datasets and model configs (IEMOCAP, RAVDESS, CREMA-D, MELD, FER2013,
# AffectNet, ...), all lower case. Deliberately absent: labels without a faithful canonical counterpart
# such as "calm", "excited", "frustrated", "contempt" or "other"; map (or drop) those explicitly.
LABEL_ALIASES: dict[str, str] = {
    "angry": "angry",
    "anger": "angry",
    "ang": "angry",
    "ange": "angry",
    "mad": "angry",
    "disgust": "disgust",
    "disgusted": "disgust",
    "dis": "disgust",
    "disg": "disgust",
    "fear": "fear",
    "fearful": "fear",
    "fea": "fear",
    "fear/anxiety": "fear",
    "afraid": "fear",
    "scared": "fear",
    "happy": "happy",
    "happiness": "happy",
    "hap": "happy",
    "joy": "happy",
    "neutral": "neutral",
    "neu": "neutral",
    "neut": "neutral",
    "sad": "sad",
    "sadness": "sad",
    "surprise": "surprise",
    "surprised": "surprise",
    "sur": "surprise",
    "surp": "surprise",
}


def _normalise(label: str) -> str:
    return label.strip().lower()


def emotion_index(name: str) -> int:
    """Index (0..6) of a canonical emotion name or one of its aliases (case-insensitive).

    Raises:
        ValueError: naming the unknown emotion and listing the valid names.
    """
    canonical = LABEL_ALIASES.get(_normalise(name)) if isinstance(name, str) else None
    if canonical is None:
        raise ValueError(f"unknown emotion {name!r}: valid emotions are {', '.join(EMOTIONS)}")
    return EMOTIONS.index(canonical)


def one_hot(name: str | int, batch_size: int = 1) -> Tensor:
    """One-hot emotion distribution ``[batch_size, 7]`` (float32) for a name/alias or a canonical index."""
    if isinstance(name, str):
        index = emotion_index(name)
    elif isinstance(name, int) and not isinstance(name, bool):
        if not 0 <= name < NUM_EMOTIONS:
            raise ValueError(f"emotion index {name} is out of range: valid indices are 0..{NUM_EMOTIONS - 1}")
        index = name
    else:
        raise ValueError(f"unknown emotion {name!r}: valid emotions are {', '.join(EMOTIONS)}")
    out = torch.zeros(batch_size, NUM_EMOTIONS)
    out[:, index] = 1.0
    return out


class LabelMapping:
    """How the K classes of a classifier feed the 7 canonical emotions.

    Each model class maps to one canonical emotion (several may share one: their probabilities add up) or to
    ``None``, meaning "drop this class and renormalise the rest". Canonical emotions no model class feeds get
    probability 0.

    Args:
        model_labels: the model's class names in index order (``config.id2label[0..K-1]``).
        overrides: model label -> canonical name/alias, or ``None`` to drop it. Looked up before the alias
            table, matching the model label exactly or case-insensitively.

    Raises:
        ValueError: listing every model label that neither ``overrides`` nor :data:`LABEL_ALIASES` maps,
            with the way to pass a mapping.
    """

    def __init__(
        self, model_labels: Sequence[str], overrides: Mapping[str, str | None] | None = None
    ) -> None:
        overrides = dict(overrides or {})
        normalised_overrides = {_normalise(k): v for k, v in overrides.items()}
        unknown_keys = sorted(
            k
            for k in overrides
            if k not in model_labels and _normalise(k) not in map(_normalise, model_labels)
        )
        if unknown_keys:
            raise ValueError(
                f"label mapping names labels the model does not have: {unknown_keys}; "
                f"the model's labels are {list(model_labels)}"
            )
        targets: list[int | None] = []
        unmapped: list[str] = []
        for label in model_labels:
            if label in overrides or _normalise(label) in normalised_overrides:
                target = overrides[label] if label in overrides else normalised_overrides[_normalise(label)]
                targets.append(None if target is None else emotion_index(target))
                continue
            canonical = LABEL_ALIASES.get(_normalise(label))
            if canonical is None:
                unmapped.append(label)
                targets.append(None)
            else:
                targets.append(EMOTIONS.index(canonical))
        if unmapped:
            example = ", ".join(f"{label!r}: <emotion or None>" for label in unmapped[:2])
            raise ValueError(
                f"model labels {unmapped} have no canonical emotion (canonical: {', '.join(EMOTIONS)}); "
                f"pass label_mapping={{{example}}} with a canonical emotion per label, or None to drop it"
            )
        if all(t is None for t in targets):
            raise ValueError(f"label mapping drops every model label {list(model_labels)}: keep at least one")
        self.model_labels: tuple[str, ...] = tuple(model_labels)
        self.targets: tuple[int | None, ...] = tuple(targets)

    @classmethod
    def from_id2label(
        cls, id2label: Mapping[int | str, str], overrides: Mapping[str, str | None] | None = None
    ) -> LabelMapping:
        """Build from a Hugging Face ``config.id2label`` (keys may be ints or digit strings)."""
        by_index = {int(k): v for k, v in id2label.items()}
        if sorted(by_index) != list(range(len(by_index))):
            raise ValueError(f"id2label keys must be 0..K-1, got {sorted(by_index)}")
        return cls([by_index[i] for i in range(len(by_index))], overrides)

    def matrix(self) -> Tensor:
        """``[K, 7]`` float32 0/1 matrix: row k one-hot at model class k's target (all zeros if dropped)."""
        out = torch.zeros(len(self.model_labels), NUM_EMOTIONS)
        for k, target in enumerate(self.targets):
            if target is not None:
                out[k, target] = 1.0
        return out

    def apply(self, model_probs: Tensor) -> Tensor:
        """Map model class probabilities ``[..., K]`` (rows sum to 1) to canonical ``[..., 7]`` (sum 1).

        Probability of dropped classes is removed and the remainder renormalised; a row whose whole mass sat
        on dropped classes becomes uniform over the mapped emotions.
        """
        if model_probs.shape[-1] != len(self.model_labels):
            raise ValueError(
                f"expected {len(self.model_labels)} class probabilities in the last dim, "
                f"got {tuple(model_probs.shape)}"
            )
        weights = self.matrix().to(device=model_probs.device, dtype=model_probs.dtype)
        mapped = model_probs @ weights
        total = mapped.sum(dim=-1, keepdim=True)
        fed = weights.sum(dim=0)  # which canonical emotions receive any class
        uniform = (fed / fed.sum()).expand_as(mapped)
        return torch.where(total > 0, mapped / total.clamp_min(torch.finfo(mapped.dtype).tiny), uniform)

    def as_dict(self) -> dict[str, str | None]:
        """Model label -> canonical name (``None`` for dropped classes)."""
        return {
            label: (None if t is None else EMOTIONS[t])
            for label, t in zip(self.model_labels, self.targets, strict=True)
        }

    def __repr__(self) -> str:
        return f"LabelMapping({self.as_dict()})"
