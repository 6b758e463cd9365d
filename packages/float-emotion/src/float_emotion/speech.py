"""Speech emotion recognition with any Hugging Face audio-classification model, mapped to the canonical 7.

Clip mode follows the official FLOAT release: the whole clip goes through the classifier once, its last hidden
states are mean-pooled over time, and the softmax of the logits is one distribution per clip. Window mode does
the same on fixed-length windows and gives one distribution per window.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from float_emotion.checkpoints import (
    MissingHeadError,
    describe_source,
    head_keys,
    load_classifier,
    read_checkpoint_tensors,
    resolve_local_files_only,
)
from float_emotion.labels import NUM_EMOTIONS, LabelMapping
from float_emotion.protocol import SAMPLE_RATE
from float_emotion.windows import as_clips, seconds_to_samples, window_bounds

# Head layout of speech-classification checkpoints trained with a custom class (the official FLOAT SER,
# r-f/wav2vec-english-speech-emotion-recognition): pooled hidden state -> dense -> tanh -> out_proj.
_DENSE_HEAD_KEYS = (
    "classifier.dense.weight",
    "classifier.dense.bias",
    "classifier.out_proj.weight",
    "classifier.out_proj.bias",
)


class DenseTanhHead(nn.Module):
    """``logits = out_proj(tanh(dense(pooled)))``: pooled ``[B, H]`` -> logits ``[B, K]``."""

    def __init__(self, hidden_size: int, num_labels: int) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.out_proj = nn.Linear(hidden_size, num_labels)

    def forward(self, pooled: Tensor) -> Tensor:
        return self.out_proj(torch.tanh(self.dense(pooled)))


def _pool(hidden: Tensor, mode: str) -> Tensor:
    """Pool hidden states ``[B, T, H]`` over time -> ``[B, H]``."""
    if mode == "mean":
        return hidden.mean(dim=1)
    if mode == "sum":
        return hidden.sum(dim=1)
    if mode == "max":
        return hidden.amax(dim=1)
    raise ValueError(f"unsupported pooling_mode {mode!r} in the model config: use 'mean', 'sum' or 'max'")


def _min_samples(config: Any) -> int:
    """Fewest input samples the conv feature encoder turns into one frame (1 without a conv encoder)."""
    kernels = getattr(config, "conv_kernel", None)
    strides = getattr(config, "conv_stride", None)
    if not kernels or not strides:
        return 1
    needed = 1
    for kernel, stride in zip(reversed(list(kernels)), reversed(list(strides)), strict=True):
        needed = (needed - 1) * stride + kernel
    return needed


def normalise_waveform(clip: Tensor) -> Tensor:
    """Zero-mean, unit-variance normalisation of one clip ``[N]`` (wav2vec2 feature-extractor convention:
    ``(x - mean) / sqrt(var + 1e-7)``, population variance)."""
    return (clip - clip.mean()) / torch.sqrt(clip.var(unbiased=False) + 1e-7)


class SpeechEmotionRecognizer:
    """Any Hugging Face audio-classification model as an emotion predictor (``modality = "audio"``).

    Args:
        model: local folder (``save_pretrained`` output) or hub id already in the HF cache. Standard
            ``AutoModelForAudioClassification`` checkpoints (e.g. ``Wav2Vec2ForSequenceClassification``) work,
            and so do checkpoints whose head is ``classifier.dense`` + ``classifier.out_proj`` over
            mean-pooled wav2vec2 states (the official FLOAT SER,
            ``r-f/wav2vec-english-speech-emotion-recognition``).
        label_mapping: model label -> canonical emotion (or ``None`` to drop the class), for labels the
            built-in alias table does not know. See :class:`float_emotion.LabelMapping`.
        device: where the model runs. Outputs are always returned as float32 on the CPU.
        normalize: zero-mean/unit-variance each clip before the model. ``None`` reads ``do_normalize``
            from the folder's ``preprocessor_config.json``, defaulting to ``True`` (as the official release).
        max_batch: most clips/windows per forward pass (memory bound).
        revision: hub revision, when ``model`` is a hub id.
        local_files_only: read ``model`` from disk only (a folder or the local HF cache). None (default):
            True unless the environment variable ``FLOAT_ALLOW_DOWNLOADS`` is 1; also accepts
            ``"true"``/``"false"`` (from ``--emotion speech:model=ID,local_files_only=false``).

    Raises:
        MissingHeadError: no trained audio-classification head in the checkpoint (e.g. a bare encoder).
        ValueError: model labels that cannot be mapped (listed, with the ``label_mapping`` fix).
    """

    modality = "audio"

    def __init__(
        self,
        model: str | Path,
        *,
        label_mapping: Mapping[str, str | None] | None = None,
        device: str | torch.device = "cpu",
        normalize: bool | None = None,
        max_batch: int = 8,
        revision: str | None = None,
        local_files_only: bool | str | None = None,
    ) -> None:
        from transformers import AutoModelForAudioClassification

        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self.source = str(model)
        self.device = torch.device(device)
        self.max_batch = max_batch
        offline = resolve_local_files_only(local_files_only)
        hf_model, missing, unexpected = load_classifier(
            AutoModelForAudioClassification,
            model,
            task="audio-classification",
            revision=revision,
            local_files_only=offline,
        )
        config = hf_model.config
        self.dense_head: DenseTanhHead | None = None
        missing_head = head_keys(missing, hf_model.base_model_prefix)
        if missing_head and set(_DENSE_HEAD_KEYS) <= unexpected:
            tensors = read_checkpoint_tensors(model, _DENSE_HEAD_KEYS, revision)
            head = DenseTanhHead(config.hidden_size, config.num_labels)
            head.load_state_dict({k.removeprefix("classifier."): v for k, v in tensors.items()})
            self.dense_head = head.eval().to(self.device)
            self.pooling_mode = str(getattr(config, "pooling_mode", "mean"))
            _pool(torch.zeros(1, 1, 1), self.pooling_mode)  # reject unknown modes at load time
        elif missing_head:
            raise MissingHeadError(
                f"{describe_source(model)} has no trained audio-classification head: weights "
                f"{missing_head} are missing from the checkpoint (architectures "
                f"{getattr(config, 'architectures', None)}). "
                "This looks like a bare encoder; give a model fine-tuned for speech emotion classification, "
                "e.g. a Wav2Vec2ForSequenceClassification folder or "
                "r-f/wav2vec-english-speech-emotion-recognition"
            )
        self.model = hf_model.to(self.device)
        self.mapping = LabelMapping.from_id2label(config.id2label, label_mapping)
        self.sample_rate, self.normalize = self._preprocessing(model, normalize, revision, offline)
        self.min_samples = _min_samples(config)

    @staticmethod
    def _preprocessing(
        model: str | Path, normalize: bool | None, revision: str | None, local_files_only: bool
    ) -> tuple[int, bool]:
        from transformers import AutoFeatureExtractor

        try:
            extractor = AutoFeatureExtractor.from_pretrained(
                str(model), revision=revision, local_files_only=local_files_only
            )
        except (OSError, ValueError):
            extractor = None
        rate = int(getattr(extractor, "sampling_rate", SAMPLE_RATE) or SAMPLE_RATE)
        if rate != SAMPLE_RATE:
            raise ValueError(
                f"{describe_source(model)} expects {rate} Hz audio but emotion predictors take "
                f"{SAMPLE_RATE} Hz: use a 16 kHz model"
            )
        if normalize is None:
            normalize = bool(getattr(extractor, "do_normalize", True))
        return rate, normalize

    @property
    def model_labels(self) -> tuple[str, ...]:
        """The model's own class names in index order."""
        return self.mapping.model_labels

    @torch.inference_mode()
    def model_probabilities(self, clips: list[Tensor]) -> Tensor:
        """Softmax over the model's own K classes for 1-D clips of any lengths -> ``[len(clips), K]``.

        Clips of equal length run together (``max_batch`` at a time); clips of different lengths run
        separately so that no padding enters the mean pooling.
        """
        for i, clip in enumerate(clips):
            if clip.numel() < self.min_samples:
                raise ValueError(
                    f"clip {i} has {clip.numel()} samples; this model needs at least {self.min_samples} "
                    f"({self.min_samples / SAMPLE_RATE * 1000:.1f} ms at {SAMPLE_RATE} Hz)"
                )
        out = torch.empty(len(clips), len(self.model_labels))
        by_length: dict[int, list[int]] = {}
        for i, clip in enumerate(clips):
            by_length.setdefault(clip.numel(), []).append(i)
        for indices in by_length.values():
            for start in range(0, len(indices), self.max_batch):
                chunk = indices[start : start + self.max_batch]
                batch = torch.stack([clips[i] for i in chunk])
                if self.normalize:
                    batch = torch.stack([normalise_waveform(c) for c in batch])
                logits = self._logits(batch.to(self.device))
                out[chunk] = torch.softmax(logits.float(), dim=-1).cpu()
        return out

    def _logits(self, batch: Tensor) -> Tensor:
        if self.dense_head is None:
            return self.model(batch).logits
        hidden = self.model.base_model(batch).last_hidden_state
        return self.dense_head(_pool(hidden, self.pooling_mode))

    def _check_rate(self, sample_rate: int) -> None:
        if sample_rate != self.sample_rate:
            raise ValueError(
                f"sample_rate is {sample_rate} Hz but {type(self).__name__} takes {self.sample_rate} Hz "
                "mono; "
                "resample the waveform first (e.g. float_audio's loader resamples to 16 kHz)"
            )

    def predict(self, inputs: Any, *, sample_rate: int = SAMPLE_RATE) -> Tensor:
        """Clip-level emotion: waveform ``[N]``, ``[B, N]`` or a list of 1-D clips at 16 kHz -> ``[B, 7]``.

        Each clip is classified whole (mean-pooled hidden states, as the official release); rows sum to 1;
        canonical emotions the model has no class for get 0.
        """
        self._check_rate(sample_rate)
        return self.mapping.apply(self.model_probabilities(as_clips(inputs)))

    def predict_windows(
        self,
        waveform: Any,
        *,
        window_seconds: float = 2.0,
        hop_seconds: float | None = None,
        sample_rate: int = SAMPLE_RATE,
    ) -> Tensor:
        """Per-window emotion ``[B, W, 7]`` over windows from :func:`float_emotion.window_bounds`.

        ``window_seconds`` long windows every ``hop_seconds`` (default: no overlap); the last window ends at
        the clip end. With clips of different lengths ``W`` is the largest count and shorter clips repeat
        their last window's distribution.
        """
        self._check_rate(sample_rate)
        clips = as_clips(waveform)
        window = seconds_to_samples(window_seconds, "window_seconds", sample_rate)
        hop = None if hop_seconds is None else seconds_to_samples(hop_seconds, "hop_seconds", sample_rate)
        bounds = [window_bounds(c.numel(), window, hop) for c in clips]
        pieces = [clip[s:e] for clip, spans in zip(clips, bounds, strict=True) for s, e in spans]
        probs = self.mapping.apply(self.model_probabilities(pieces))
        count = max(len(b) for b in bounds)
        out = torch.empty(len(clips), count, NUM_EMOTIONS)
        offset = 0
        for i, spans in enumerate(bounds):
            out[i, : len(spans)] = probs[offset : offset + len(spans)]
            out[i, len(spans) :] = probs[offset + len(spans) - 1]
            offset += len(spans)
        return out

    def __repr__(self) -> str:
        return f"SpeechEmotionRecognizer({self.source!r}, mapping={self.mapping.as_dict()})"
