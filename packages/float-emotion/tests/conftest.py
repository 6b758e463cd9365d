"""Tiny random Hugging Face classifiers saved to disk, loaded back by folder like real ones."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import torch


def _tiny_wav2vec2_config(labels: Sequence[str], **overrides: object) -> Any:
    """A wav2vec2 config small enough for CPU tests: hidden 32, 2 layers, a 2-layer conv stack (stride 10)."""
    from transformers import Wav2Vec2Config

    kwargs: dict[str, object] = {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "conv_dim": (16, 16),
        "conv_kernel": (10, 3),
        "conv_stride": (5, 2),
        "num_conv_pos_embeddings": 16,
        "num_conv_pos_embedding_groups": 2,
        "classifier_proj_size": 16,
        "id2label": dict(enumerate(labels)),
        "label2id": {label: i for i, label in enumerate(labels)},
    }
    kwargs.update(overrides)
    return Wav2Vec2Config(**kwargs)


@pytest.fixture
def tiny_wav2vec2_config() -> Callable[..., Any]:
    """Factory of tiny wav2vec2 configs (see ``_tiny_wav2vec2_config``)."""
    return _tiny_wav2vec2_config


@pytest.fixture
def make_ser(tmp_path: Path) -> Callable[..., Path]:
    """Save a random ``Wav2Vec2ForSequenceClassification`` with the given labels; return its folder.

    The classifier bias is set to ``bias`` (default ``2, 1, 0, -1, ...``) so classes differ clearly.
    """

    def _make(labels: Sequence[str], name: str = "ser", bias: Sequence[float] | None = None) -> Path:
        from transformers import Wav2Vec2ForSequenceClassification

        torch.manual_seed(0)
        model = Wav2Vec2ForSequenceClassification(_tiny_wav2vec2_config(labels)).eval()
        values = bias if bias is not None else [2.0 - i for i in range(len(labels))]
        with torch.no_grad():
            model.classifier.bias.copy_(torch.tensor(values))
        folder = tmp_path / name
        model.save_pretrained(folder)
        return folder

    return _make
