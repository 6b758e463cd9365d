"""Frame-aligned speech features from a wav2vec2-style backbone (wav2vec2, HuBERT, ...), 25 fps, [B, T, 512].

The recipe (as the official FLOAT audio encoder): normalise each waveform to zero mean and unit variance,
right-pad it by repeating its last sample to ``T x 640`` samples, run the backbone's CNN feature extractor
(50 Hz), resample those features linearly (``align_corners=True``) to exactly ``T`` frames, run the feature
projection and the transformer, concatenate every transformer layer's output (or keep only the last one) and
project with :class:`AudioProjection` (Linear + LayerNorm + SiLU) to 512.

For a clip of exactly ``T x 640`` samples the CNN yields ``2T - 1`` frames and the resampling keeps every
other one, so frame ``t`` sits at ``t / 25`` s. The backbone is frozen and always in eval mode; only the
projection trains. Long clips are encoded in overlapping chunks (:mod:`float_audio.chunking`): attention never
spans more than ``chunk_seconds``; ``chunk_seconds=0`` encodes the whole clip in one pass, as the official
code does (memory then grows with the square of the clip length; see docs/float-generate.md for the measured
trade-off).
"""

from __future__ import annotations

import copy
import hashlib
import json
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

from float_audio.chunking import encode_in_chunks
from float_audio.errors import BackboneNotFoundError
from float_audio.frames import FPS, SAMPLE_RATE, SAMPLES_PER_FRAME, num_frames_for_samples
from float_audio.projection import AudioProjection

if TYPE_CHECKING:  # transformers takes seconds and ~1 GB to import: only bundles with a backbone need it
    from transformers import PretrainedConfig, PreTrainedModel

__all__ = ["DEFAULT_BACKBONE", "Wav2Vec2FrameEncoder", "Wav2Vec2FrameEncoderConfig"]

DEFAULT_BACKBONE = "facebook/wav2vec2-base-960h"

# Hugging Face's Wav2Vec2FeatureExtractor uses this epsilon in its zero-mean/unit-variance normalisation.
_NORM_EPS = 1e-7


class Wav2Vec2FrameEncoderConfig(BaseModel):
    """Settings of :class:`Wav2Vec2FrameEncoder` (validated; every field is part of the cache fingerprint).

    Attributes:
        backbone: Hugging Face id or local folder of the wav2vec2-style model (recorded for provenance).
        layers: ``"all"`` concatenates every transformer layer output (official: 12 x 768 = 9216 dims);
            ``"last"`` keeps only the final hidden state.
        output_dim: width of the projected features (official 512).
        project: False returns the raw layer features (for caching before a trainable projection).
        normalize: zero-mean / unit-variance normalisation of each waveform (official: on).
        chunk_seconds: longest stretch encoded in one pass by :meth:`Wav2Vec2FrameEncoder.encode`; 0 encodes
            the whole clip in one pass (official; memory grows with the square of the clip length).
        overlap_seconds: minimum overlap between neighbouring chunks, cross-faded linearly.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    backbone: str = DEFAULT_BACKBONE
    layers: Literal["all", "last"] = "all"
    output_dim: int = Field(512, gt=0)
    project: bool = True
    normalize: bool = True
    chunk_seconds: float = Field(30.0, ge=0)
    overlap_seconds: float = Field(4.0, ge=0)

    @model_validator(mode="after")
    def _check_chunking(self) -> Self:
        if self.chunk_seconds == 0:
            return self
        if 2 * self.overlap_frames >= self.chunk_frames:
            raise ValueError(
                f"overlap_seconds ({self.overlap_seconds}) must be less than half of chunk_seconds "
                f"({self.chunk_seconds}), and chunk_seconds must cover at least one frame (0.04 s)"
            )
        return self

    @property
    def whole_clip(self) -> bool:
        """True when every clip is encoded in one pass (``chunk_seconds == 0``, official)."""
        return self.chunk_seconds == 0

    @property
    def chunk_frames(self) -> int:
        """Chunk length in 25 fps frames (0: whole clip)."""
        return round(self.chunk_seconds * FPS)

    @property
    def overlap_frames(self) -> int:
        """Overlap in 25 fps frames."""
        return round(self.overlap_seconds * FPS)


class _FixedStatsNorm(nn.Module):
    """Stand-in for a per-channel GroupNorm that uses given (whole-clip) statistics instead of the input's.

    Works in place on one new tensor, so a chunk's peak memory matches that of the GroupNorm it replaces.
    """

    def __init__(self, norm: nn.GroupNorm, mean: torch.Tensor, std: torch.Tensor) -> None:
        super().__init__()
        self.norm = norm
        self.mean = mean[:, :, None]  # [B, C, 1]
        self.std = std[:, :, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x.sub(self.mean).div_(self.std)
        return out.mul_(self.norm.weight[None, :, None]).add_(self.norm.bias[None, :, None])


class Wav2Vec2FrameEncoder(nn.Module):
    """A frozen wav2vec2-style backbone plus a trainable :class:`AudioProjection` (an ``AudioEncoder``).

    Args:
        backbone: a ``transformers`` model with ``feature_extractor`` (CNN), ``feature_projection`` and
            ``encoder.layers`` (``Wav2Vec2Model``, ``HubertModel``, ...), e.g.
            ``Wav2Vec2Model(Wav2Vec2Config())``.
        projection: the projection; a fresh one (to be trained) when None and ``config.project``.
        config: encoder settings (defaults: all layers, 512-d output, 30 s chunks with 4 s overlap).
    """

    def __init__(
        self,
        backbone: PreTrainedModel,
        projection: AudioProjection | None = None,
        config: Wav2Vec2FrameEncoderConfig | None = None,
    ) -> None:
        super().__init__()
        self.config = config or Wav2Vec2FrameEncoderConfig()
        for attribute in ("feature_extractor", "encoder"):
            if not hasattr(backbone, attribute):
                raise TypeError(
                    f"backbone {type(backbone).__name__} has no '{attribute}': pass a wav2vec2-style base "
                    "model (Wav2Vec2Model, HubertModel, ...), not a task head such as Wav2Vec2ForCTC"
                )
        self.backbone = backbone.eval().requires_grad_(False)
        hidden = int(backbone.config.hidden_size)
        count = int(backbone.config.num_hidden_layers)
        self.layer_dim = hidden * (count if self.config.layers == "all" else 1)
        if self.config.project:
            projection = projection or AudioProjection(self.layer_dim, self.config.output_dim)
            if projection.in_dim != self.layer_dim or projection.out_dim != self.config.output_dim:
                raise ValueError(
                    f"projection maps {projection.in_dim} -> {projection.out_dim} but the backbone gives "
                    f"{self.layer_dim} ({count} layers x {hidden}, layers={self.config.layers!r}) and "
                    f"output_dim is {self.config.output_dim}"
                )
            self.projection: AudioProjection | None = projection
        else:
            self.projection = None
        self._weights_digest: str | None = None

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_pretrained(
        cls,
        backbone: str | Path = DEFAULT_BACKBONE,
        projection: str | Path | AudioProjection | None = None,
        *,
        local_files_only: bool = True,
        **config: Any,
    ) -> Wav2Vec2FrameEncoder:
        """Load the backbone from a local folder or the Hugging Face cache, and the projection from a folder.

        Nothing is downloaded unless ``local_files_only=False``. ``config`` holds
        :class:`Wav2Vec2FrameEncoderConfig` fields (``layers``, ``chunk_seconds``, ...); ``output_dim``
        defaults to the projection's.

        Raises:
            BackboneNotFoundError: the backbone is neither a folder with ``config.json`` nor in the HF cache.
        """
        from transformers import AutoModel

        try:
            model = AutoModel.from_pretrained(str(backbone), local_files_only=local_files_only)
        except OSError as error:
            raise BackboneNotFoundError(
                f"wav2vec2 backbone {str(backbone)!r} not found (local folder or Hugging Face cache, "
                f"local_files_only={local_files_only}); download it once with "
                f"`hf download {DEFAULT_BACKBONE} --local-dir <folder>` and pass backbone=<folder>"
            ) from error
        if isinstance(projection, str | Path):
            projection = AudioProjection.from_pretrained(str(projection), local_files_only=local_files_only)
        if projection is not None:
            config.setdefault("output_dim", projection.out_dim)
        settings = Wav2Vec2FrameEncoderConfig(backbone=str(backbone), **config)
        return cls(model, projection, settings)

    @classmethod
    def from_config(
        cls, backbone_config: PretrainedConfig, projection: AudioProjection | None = None, **config: Any
    ) -> Wav2Vec2FrameEncoder:
        """Build a randomly initialised backbone from a ``transformers`` config (tests, benchmarks)."""
        from transformers import AutoModel

        model = AutoModel.from_config(backbone_config)
        if projection is not None:
            config.setdefault("output_dim", projection.out_dim)
        settings = Wav2Vec2FrameEncoderConfig(backbone=f"random:{backbone_config.model_type}", **config)
        return cls(model, projection, settings)

    def with_chunking(
        self, chunk_seconds: float, overlap_seconds: float | None = None
    ) -> Wav2Vec2FrameEncoder:
        """This encoder with other chunk settings, sharing the backbone and projection (no weight copy).

        ``chunk_seconds=0``: whole clip in one pass (official). ``overlap_seconds`` None keeps the current
        overlap, shortened to a quarter of the chunk when it would not fit (it must stay under half).

        Raises:
            ValueError: negative lengths, or an overlap of half the chunk or more.
        """
        if overlap_seconds is None:
            overlap_seconds = self.config.overlap_seconds
            if chunk_seconds > 0 and 2 * round(overlap_seconds * FPS) >= round(chunk_seconds * FPS):
                overlap_seconds = chunk_seconds / 4
        settings = {**self.config.model_dump(), "chunk_seconds": chunk_seconds}
        settings["overlap_seconds"] = overlap_seconds
        clone = copy.copy(self)  # shallow: the same backbone and projection modules
        clone.config = Wav2Vec2FrameEncoderConfig.model_validate(settings)
        return clone

    # ---------------------------------------------------------------- AudioEncoder protocol
    @property
    def feature_dim(self) -> int:
        """``output_dim`` when projecting, else the raw layer width (``layers x hidden``)."""
        return self.config.output_dim if self.projection is not None else self.layer_dim

    def fingerprint(self, refresh: bool = False) -> str:
        """sha256 over the settings, the backbone config and every weight (backbone and projection).

        The weight digest is computed once and memoised; pass ``refresh=True`` after changing weights.
        """
        if self._weights_digest is None or refresh:
            digest = hashlib.sha256()
            for name, tensor in self.state_dict().items():
                digest.update(name.encode())
                digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
            self._weights_digest = digest.hexdigest()
        payload = {
            "encoder": "Wav2Vec2FrameEncoder",
            "settings": self.config.model_dump(),
            "backbone_config": self.backbone.config.to_dict(),
            "weights": self._weights_digest,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    def train(self, mode: bool = True) -> Self:
        """Switch the projection's mode; the frozen backbone stays in eval mode (no dropout)."""
        super().train(mode)
        self.backbone.eval()
        return self

    # ---------------------------------------------------------------- encoding
    @property
    def _device(self) -> torch.device:
        return next(self.backbone.parameters()).device

    def prepare(self, waveform: torch.Tensor, num_frames: int | None = None) -> tuple[torch.Tensor, int]:
        """Check, normalise, pad ``[B, N]`` or ``[N]`` 16 kHz audio to ``[B, T x 640]``; also gives T."""
        if waveform.ndim == 1:
            waveform = waveform[None]
        if waveform.ndim != 2:
            raise ValueError(f"waveform must have shape [B, N] or [N], got {list(waveform.shape)}")
        if waveform.shape[1] == 0:
            raise ValueError("waveform has no samples (N = 0); load it with float_audio.load_audio first")
        if not torch.isfinite(waveform).all():
            raise ValueError("waveform contains NaN or infinite samples")
        frames = num_frames_for_samples(waveform.shape[1], SAMPLE_RATE) if num_frames is None else num_frames
        if frames <= 0:
            raise ValueError(f"num_frames must be > 0, got {frames}")
        target = frames * SAMPLES_PER_FRAME
        kept = min(target, waveform.shape[1])
        # one output buffer, filled and normalised in place: a 10-minute clip is copied once, not three times
        prepared = torch.empty(waveform.shape[0], target, device=self._device, dtype=torch.float32)
        prepared[:, :kept] = waveform[:, :kept]
        if self.config.normalize:
            # statistics of the real samples (before padding), like Wav2Vec2FeatureExtractor
            var, mean = torch.var_mean(prepared[:, :kept], dim=1, keepdim=True, correction=0)
            prepared[:, :kept].sub_(mean).div_(torch.sqrt(var + _NORM_EPS))
        if kept < target:
            prepared[:, kept:] = prepared[:, kept - 1 : kept]
        return prepared, frames

    @contextmanager
    def _hooks(self, frames: int, captured: list[torch.Tensor]):
        def to_frames(_module: nn.Module, _inputs: Any, output: torch.Tensor) -> torch.Tensor:
            # [B, C, ~2T-1] CNN features at 50 Hz -> [B, C, T] at 25 fps (as official: linear, align_corners)
            if output.shape[-1] < 1:
                raise ValueError("audio chunk shorter than the backbone's CNN receptive field")
            return F.interpolate(output, size=frames, mode="linear", align_corners=True)

        def keep(_module: nn.Module, _inputs: Any, output: Any) -> None:
            captured.append(output[0] if isinstance(output, tuple) else output)

        handles = [self.backbone.feature_extractor.register_forward_hook(to_frames)]
        if self.config.layers == "all":
            handles += [layer.register_forward_hook(keep) for layer in self.backbone.encoder.layers]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()

    def _layer_features(self, prepared: torch.Tensor, frames: int) -> torch.Tensor:
        """Prepared ``[B, frames x 640]`` waveform -> ``[B, frames, layer_dim]`` features (no grad)."""
        captured: list[torch.Tensor] = []
        with torch.no_grad(), self._hooks(frames, captured):
            output = self.backbone(prepared)
        last = output[0] if isinstance(output, tuple) else output.last_hidden_state
        if self.config.layers == "last":
            return last
        # The final layer is taken as the model's last hidden state: identical to the layer output for
        # post-norm models (wav2vec2-base) and the final-normalised state for pre-norm ones (large models).
        return torch.cat([*captured[:-1], last], dim=-1)

    def _features(self, prepared: torch.Tensor, frames: int) -> torch.Tensor:
        layer_features = self._layer_features(prepared, frames)
        return self.projection(layer_features) if self.projection is not None else layer_features

    def forward(self, waveform: torch.Tensor, num_frames: int | None = None) -> torch.Tensor:
        """Whole-clip features ``[B, T, feature_dim]`` in one pass; gradients flow into the projection only.

        Use this for training clips; :meth:`encode` is the bounded-memory inference path.
        """
        prepared, frames = self.prepare(waveform, num_frames)
        return self._features(prepared, frames)

    @torch.no_grad()
    def encode(self, waveform: torch.Tensor, num_frames: int | None = None) -> torch.Tensor:
        """``[B, N]`` 16 kHz waveform -> ``[B, T, feature_dim]`` at 25 fps, chunked when longer than a chunk.

        The normalisation statistics are those of the whole clip; each chunk of at most ``chunk_seconds`` is
        encoded separately and the overlaps are cross-faded (see :mod:`float_audio.chunking`). With
        ``chunk_seconds=0`` the whole clip goes through the backbone at once (official), like :meth:`forward`.
        """
        prepared, frames = self.prepare(waveform, num_frames)
        if self.config.whole_clip:
            return self._features(prepared, frames).float()

        def encode_span(start: int, end: int) -> torch.Tensor:
            piece = prepared[:, start * SAMPLES_PER_FRAME : end * SAMPLES_PER_FRAME]
            return self._features(piece, end - start).float()

        chunks = (encode_span, frames, self.config.chunk_frames, self.config.overlap_frames)
        norm = self._time_group_norm()
        if norm is None or frames <= self.config.chunk_frames:
            return encode_in_chunks(*chunks)
        # wav2vec2-base's first CNN layer normalises each channel over time: with statistics of the whole clip
        # (one streaming pass) every chunk's CNN features equal the whole-clip ones exactly, so the chunks
        # differ only in the transformer's context.
        mean, std = self._whole_clip_norm_stats(prepared, norm)
        first = self.backbone.feature_extractor.conv_layers[0]
        first.layer_norm = _FixedStatsNorm(norm, mean, std)
        try:
            return encode_in_chunks(*chunks)
        finally:
            first.layer_norm = norm

    def _time_group_norm(self) -> nn.GroupNorm | None:
        """The first CNN layer's per-channel GroupNorm over time (``feat_extract_norm="group"``), if any."""
        first = self.backbone.feature_extractor.conv_layers[0]
        norm = getattr(first, "layer_norm", None)
        conv = getattr(first, "conv", None)
        if not isinstance(norm, nn.GroupNorm) or not isinstance(conv, nn.Conv1d):
            return None
        if norm.num_groups != norm.num_channels or not norm.affine or SAMPLES_PER_FRAME % conv.stride[0]:
            return None
        return norm

    def _whole_clip_norm_stats(
        self, prepared: torch.Tensor, norm: nn.GroupNorm
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-channel mean and std ``[B, C]`` of the first conv's output over the whole clip, chunk by chunk.

        Pieces start on frame boundaries and run ``kernel - stride`` samples past the next one, so their conv
        outputs tile the whole-clip conv output exactly once.
        """
        conv = self.backbone.feature_extractor.conv_layers[0].conv
        overhang = conv.kernel_size[0] - conv.stride[0]
        step = self.config.chunk_frames * SAMPLES_PER_FRAME
        total = prepared.shape[1]
        shape = (prepared.shape[0], norm.num_channels)
        mean = torch.zeros(shape, dtype=torch.float64, device=prepared.device)
        spread = torch.zeros_like(mean)  # sum of squared deviations from the running mean
        count = 0
        for start in range(0, total, step):
            piece = prepared[:, start : min(total, start + step + overhang)]
            if piece.shape[1] < conv.kernel_size[0]:
                break
            out = conv(piece[:, None])
            piece_var, piece_mean = torch.var_mean(out, dim=2, correction=0)
            n = out.shape[2]
            del out
            # Chan et al.'s pairwise update: exact merge of (mean, variance) of two disjoint sets
            delta = piece_mean.double() - mean
            merged = count + n
            mean += delta * (n / merged)
            spread += piece_var.double() * n + delta.square() * (count * n / merged)
            count = merged
        var = spread / count
        return mean.float(), torch.sqrt(var + norm.eps).float()
