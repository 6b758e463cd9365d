"""The inference bundle: all that :class:`float_pipeline.Pipeline` needs, in one folder.

``float-train export`` and ``float-convert-official`` write it; ``float-generate``, ``float-demo`` and
``float-evaluate`` load it.

Layout (every model is ``config.json`` + ``model.safetensors``)::

    bundle.json                 BundleManifest: format, version, resolution, audio encoder, defaults, licence
    README.md                   model card: what it was trained on, licence, limits
    motion_ae/                  float_motion_ae.MotionAutoEncoder
    flow/                       float_flow.FlowMatchingTransformer
    audio_projection/           float_audio.AudioProjection (raw encoder features -> flow's audio width)
    audio_backbone/             optional: a wav2vec2-style backbone stored inside the bundle

The audio encoder itself is described in the manifest (a weight-free log-mel encoder, or a wav2vec2-style
backbone given as a folder inside the bundle, a local path or a Hugging Face id), so large third-party
backbones are referenced, not copied. Features flow as ``waveform -> encoder (raw) -> projection -> flow``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from float_audio import (
    AudioProjection,
    BackboneNotFoundError,
    LogMelFrameEncoder,
    LogMelFrameEncoderConfig,
    Wav2Vec2FrameEncoder,
)
from float_emotion import PredictorSpec, resolve_local_files_only
from float_flow import FlowMatchingTransformer
from float_motion_ae import MotionAutoEncoder
from float_pipeline.atomic import atomic_path
from float_pipeline.components import load_component
from float_pipeline.errors import BundleError

__all__ = [
    "BACKBONE_FOLDER",
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "MANIFEST_NAME",
    "AudioSpec",
    "Bundle",
    "BundleError",
    "BundleManifest",
    "GenerationDefaults",
    "LogMelAudioSpec",
    "Wav2Vec2AudioSpec",
    "build_audio_encoder",
    "check_bundle_target",
    "check_consistency",
    "default_bundle_path",
    "is_bundle",
    "load_bundle",
    "read_manifest",
    "save_bundle",
]

BUNDLE_FORMAT: Literal["float-kit-bundle"] = "float-kit-bundle"
BUNDLE_VERSION: Literal[1] = 1
MANIFEST_NAME = "bundle.json"
_MODEL_FILES = ("config.json", "model.safetensors")
_COMPONENTS = ("motion_ae", "flow", "audio_projection")
BACKBONE_FOLDER = "audio_backbone"


class LogMelAudioSpec(BaseModel):
    """Weight-free log-mel features (:class:`float_audio.LogMelFrameEncoder`)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["logmel"] = "logmel"
    settings: LogMelFrameEncoderConfig = Field(default_factory=LogMelFrameEncoderConfig)


class Wav2Vec2AudioSpec(BaseModel):
    """A wav2vec2-style backbone: ``audio_backbone`` in the bundle, a local folder, or a Hugging Face id."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["wav2vec2"] = "wav2vec2"
    backbone: str = Field(
        "facebook/wav2vec2-base-960h",
        description="folder relative to the bundle, absolute folder, or Hugging Face id",
    )
    layers: Literal["all", "last"] = "all"
    chunk_seconds: float = Field(
        30.0, ge=0, description="audio encoded in chunks of at most this long; 0: whole clip (official)"
    )
    overlap_seconds: float = Field(4.0, ge=0, description="cross-faded overlap between audio chunks")

    @model_validator(mode="after")
    def _check_chunking(self) -> Wav2Vec2AudioSpec:
        if self.chunk_seconds > 0 and 2 * round(self.overlap_seconds * 25) >= round(self.chunk_seconds * 25):
            raise ValueError(
                f"overlap_seconds ({self.overlap_seconds}) must be under half of chunk_seconds "
                f"({self.chunk_seconds}); chunk_seconds 0 encodes the whole clip at once"
            )
        return self


AudioSpec = Annotated[LogMelAudioSpec | Wav2Vec2AudioSpec, Field(discriminator="kind")]


class GenerationDefaults(BaseModel):
    """Sampling settings the bundle was validated with; every one can be overridden per call."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    steps: int = Field(10, ge=1, description="ODE steps (function evaluations per window)")
    method: Literal["euler", "midpoint"] = "euler"
    audio_scale: float = Field(2.0, ge=0)
    emotion_scale: float = Field(1.0, ge=0)
    emotion: str = Field("neutral", description="--emotion when none is given: an emotion name or 'auto'")
    crop_scale: float = Field(
        1.6,
        gt=0,
        description="portrait crop half-side / face half-size (official 1.6; match the training crops)",
    )
    crop_phases: int = Field(
        1, ge=1, description="detection heights the portrait's face box is averaged over (1: one detection)"
    )
    crop_rule: Literal["kit", "official"] = Field(
        "kit", description="'official': the official release's detection and resize filters step for step"
    )
    detector: Literal["dlib", "face-alignment", "auto"] = Field(
        "dlib", description="face detector for the crop (auto: face-alignment when its weights are found)"
    )
    detector_weights: str | None = Field(
        None, description="folder with face-alignment's weights (None: the torch hub cache)"
    )
    fix_noise_seed: bool = Field(
        False, description="the same noise in every window (the official --fix_noise_seed)"
    )


class BundleManifest(BaseModel):
    """``bundle.json``."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["float-kit-bundle"] = BUNDLE_FORMAT
    version: Literal[1] = BUNDLE_VERSION
    resolution: int = Field(gt=0, description="side of the square face crop the auto-encoder renders (px)")
    audio: AudioSpec = Field(default_factory=LogMelAudioSpec)
    emotion_predictor: PredictorSpec | None = Field(
        None, description="float-emotion predictor used by --emotion auto (None: auto unavailable)"
    )
    defaults: GenerationDefaults = Field(default_factory=GenerationDefaults)
    license: str = "apache-2.0"
    description: str = ""


@dataclass
class Bundle:
    """Loaded models of a bundle, ready for inference (eval mode, on one device and dtype)."""

    path: Path
    manifest: BundleManifest
    motion_ae: MotionAutoEncoder
    flow: FlowMatchingTransformer
    audio_encoder: LogMelFrameEncoder | Wav2Vec2FrameEncoder
    audio_projection: AudioProjection

    @property
    def resolution(self) -> int:
        return self.manifest.resolution

    @torch.no_grad()
    def audio_features(
        self, waveform: torch.Tensor, num_frames: int | None = None, *, chunk_seconds: float | None = None
    ) -> torch.Tensor:
        """``[B, N]`` 16 kHz waveform -> ``[B, T, flow.dim_audio]`` projected features at 25 fps.

        ``chunk_seconds`` overrides a wav2vec2 encoder's chunk length for this call (0: whole clip, as
        officially; None: the bundle's ``audio.chunk_seconds``); the log-mel encoder has no chunks.
        """
        encoder = self.audio_encoder
        if chunk_seconds is not None and isinstance(encoder, Wav2Vec2FrameEncoder):
            encoder = encoder.with_chunking(chunk_seconds)
        raw = encoder.encode(waveform, num_frames)
        weight = self.audio_projection.linear.weight
        return self.audio_projection(raw.to(weight.device, weight.dtype))


def default_bundle_path() -> Path:
    """The demo bundle shipped inside this package (``float_pipeline/bundles/demo``)."""
    return Path(__file__).resolve().parent / "bundles" / "demo"


def build_audio_encoder(
    spec: LogMelAudioSpec | Wav2Vec2AudioSpec,
    bundle_dir: Path | None = None,
    *,
    local_files_only: bool | None = None,
) -> LogMelFrameEncoder | Wav2Vec2FrameEncoder:
    """The raw (unprojected) encoder a manifest describes; a wav2vec2 ``backbone`` is resolved against the
    bundle folder first, then as a local path or Hugging Face id (``local_files_only`` None: no download
    unless ``FLOAT_ALLOW_DOWNLOADS=1``). Only a wav2vec2 spec imports ``transformers``."""
    if isinstance(spec, LogMelAudioSpec):
        return LogMelFrameEncoder(spec.settings)
    backbone: str | Path = spec.backbone
    if bundle_dir is not None and (bundle_dir / spec.backbone).is_dir():
        backbone = bundle_dir / spec.backbone
    return Wav2Vec2FrameEncoder.from_pretrained(
        backbone,
        local_files_only=resolve_local_files_only(local_files_only),
        layers=spec.layers,
        project=False,
        chunk_seconds=spec.chunk_seconds,
        overlap_seconds=spec.overlap_seconds,
    )


def _resolve(source: str | Path | None, local_files_only: bool | None) -> Path:
    if source is None:
        path = default_bundle_path()
        if not (path / MANIFEST_NAME).is_file():
            raise BundleError(
                f"the embedded demo bundle is missing ({path / MANIFEST_NAME}); reinstall float-pipeline "
                "or pass --checkpoint <bundle folder>"
            )
        return path
    path = Path(source).expanduser()
    if path.exists() or str(source).startswith((".", "/", "~")) or str(source).count("/") != 1:
        if not path.is_dir():
            raise BundleError(f"checkpoint {str(source)!r} is not a folder; pass a bundle folder or hub id")
        return path
    from huggingface_hub import snapshot_download  # hub ids only: keep the import off the local path

    try:
        return Path(
            snapshot_download(str(source), local_files_only=resolve_local_files_only(local_files_only))
        )
    except Exception as error:  # huggingface_hub raises several unrelated types here
        raise BundleError(
            f"checkpoint {str(source)!r} is neither a local folder nor a Hugging Face repo in the cache "
            f"({type(error).__name__}); download it with `hf download {source}` or pass a folder"
        ) from error


def read_manifest(path: Path) -> BundleManifest:
    """Parse and validate ``path/bundle.json``; errors name the file and the field."""
    file = path / MANIFEST_NAME
    if not file.is_file():
        raise BundleError(
            f"{path} is not a FLOAT-kit bundle: {MANIFEST_NAME} is missing (bundles are written by "
            "`float-train export RUN_DIR OUT_DIR` or `float-convert-official`)"
        )
    try:
        return BundleManifest.model_validate_json(file.read_text())
    except (ValidationError, json.JSONDecodeError, ValueError) as error:
        raise BundleError(f"{file} is not a valid bundle manifest: {error}") from error


def _check_files(path: Path) -> None:
    for component in _COMPONENTS:
        for name in _MODEL_FILES:
            if not (path / component / name).is_file():
                raise BundleError(
                    f"bundle {path} is incomplete: {component}/{name} is missing; re-export it with "
                    "`float-train export` (or copy the whole folder again)"
                )


def check_consistency(
    manifest: BundleManifest,
    motion_ae: MotionAutoEncoder,
    flow: FlowMatchingTransformer,
    audio_projection: AudioProjection,
    encoder_width: int | None,
) -> list[str]:
    """What does not fit together in a bundle's parts (empty: consistent); each problem names both sides.

    The chain is ``waveform -> encoder [T, encoder_width] -> projection [T, flow.dim_audio] -> flow ->
    motion [latent_dim] -> motion_ae`` rendering ``manifest.resolution`` px. ``encoder_width`` None skips the
    encoder link (a wav2vec2 backbone that is referenced, not at hand).
    """
    problems = []
    if motion_ae.config.size != manifest.resolution:
        problems.append(
            f"motion_ae renders {motion_ae.config.size} px but bundle.json says {manifest.resolution}"
        )
    if flow.config.dim_motion != motion_ae.config.latent_dim:
        problems.append(
            f"flow.dim_motion={flow.config.dim_motion} != motion_ae.latent_dim={motion_ae.config.latent_dim}"
        )
    if flow.config.dim_audio != audio_projection.out_dim:
        problems.append(
            f"flow.dim_audio={flow.config.dim_audio} != audio_projection.out_dim={audio_projection.out_dim}"
        )
    if encoder_width is not None and audio_projection.in_dim != encoder_width:
        problems.append(
            f"audio_projection.in_dim={audio_projection.in_dim} != audio encoder width {encoder_width}"
        )
    return problems


def load_bundle(
    source: str | Path | None = None,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    local_files_only: bool | None = None,
) -> Bundle:
    """Load a bundle folder (``None``: the embedded demo bundle) or a Hugging Face id, in eval mode.

    Nothing is downloaded unless ``local_files_only=False`` (None: unless ``FLOAT_ALLOW_DOWNLOADS=1``).
    Every file is checked before it is trusted (:func:`float_pipeline.components.load_component`): a
    damaged, edited or mismatched bundle is a :class:`BundleError`, never a half-loaded model.

    Raises:
        BundleError: missing folder or file, bad manifest or config, damaged weights, or components that do
            not fit together.
        float_audio.BackboneNotFoundError: a referenced wav2vec2 backbone is not on this machine.
    """
    path = _resolve(source, local_files_only)
    manifest = read_manifest(path)
    _check_files(path)
    motion_ae = load_component(MotionAutoEncoder, path / "motion_ae")
    flow = load_component(FlowMatchingTransformer, path / "flow")
    projection = load_component(AudioProjection, path / "audio_projection")
    try:
        encoder = build_audio_encoder(manifest.audio, path, local_files_only=local_files_only)
    except BackboneNotFoundError:
        raise
    except (OSError, ValueError, RuntimeError, TypeError) as error:  # a damaged backbone folder
        raise BundleError(
            f"the audio backbone {manifest.audio} of bundle {path} cannot be loaded: {error}"
        ) from None
    problems = check_consistency(manifest, motion_ae, flow, projection, encoder.feature_dim)
    if problems:
        raise BundleError(f"bundle {path} does not fit together: " + "; ".join(problems))
    for module in (motion_ae, flow, projection):
        module.to(device=device, dtype=dtype).eval().requires_grad_(False)
    encoder.to(device)
    encoder.eval()
    return Bundle(path, manifest, motion_ae, flow, encoder, projection)


def is_bundle(path: str | Path) -> bool:
    """Whether ``path`` is a folder holding a FLOAT-kit ``bundle.json`` (any version, valid or not)."""
    file = Path(path) / MANIFEST_NAME
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == BUNDLE_FORMAT


def check_bundle_target(out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Refuse a bundle destination whose replacement would lose anything but a bundle; returns the path.

    A missing path or an empty folder is fine. An existing bundle is replaced only with ``overwrite``; any
    other file or folder (a user's documents, a run dir, a mistyped path) is never replaced, ``overwrite``
    or not: ``--overwrite`` replaces bundles, it does not delete arbitrary folders. Call it before a long
    conversion or export, so a refusal costs nothing; :func:`save_bundle` calls it again.

    Raises:
        FileExistsError: the message names what is there and what to do.
    """
    out = Path(out_dir).expanduser()
    if not out.exists() and not out.is_symlink():
        return out
    if out.is_dir() and not out.is_symlink():
        if not any(out.iterdir()):
            return out
        if is_bundle(out):
            if overwrite:
                return out
            raise FileExistsError(
                f"{out} already holds a bundle; pass --overwrite (overwrite=True) to replace it"
            )
    kind = "a file" if out.is_file() else "a link" if out.is_symlink() else "a folder that is not a bundle"
    raise FileExistsError(
        f"{out} is {kind} (no FLOAT-kit {MANIFEST_NAME}); a bundle is only ever written to a new or empty "
        "folder or over another bundle, even with --overwrite: choose another output folder or move it away"
    )


def save_bundle(
    out_dir: str | Path,
    *,
    manifest: BundleManifest,
    motion_ae: MotionAutoEncoder,
    flow: FlowMatchingTransformer,
    audio_projection: AudioProjection,
    model_card: str,
    audio_backbone: torch.nn.Module | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a bundle atomically (:func:`float_pipeline.atomic_path`): everything goes to a temporary sibling
    folder renamed into place at the end, so a crash never leaves a half-written bundle at ``out_dir``.

    ``audio_backbone`` (a ``transformers`` model) is saved under ``audio_backbone/``; the manifest's
    wav2vec2 ``backbone`` should then be ``"audio_backbone"``. Returns ``out_dir``.

    Raises:
        FileExistsError: ``out_dir`` exists and ``overwrite`` is False, or it is not a bundle
            (:func:`check_bundle_target`: ``overwrite`` replaces bundles only).
        BundleError: parts that do not fit together (checked before anything is written; a referenced
            wav2vec2 backbone's width is checked when the bundle is loaded).
    """
    out = check_bundle_target(out_dir, overwrite=overwrite)
    encoder_width = None
    if isinstance(manifest.audio, LogMelAudioSpec):
        encoder_width = build_audio_encoder(manifest.audio).feature_dim
    problems = check_consistency(manifest, motion_ae, flow, audio_projection, encoder_width)
    if problems:
        raise BundleError(f"bundle for {out} does not fit together: " + "; ".join(problems))
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out, folder=True) as staging:
        motion_ae.save_pretrained(staging / "motion_ae")
        flow.save_pretrained(staging / "flow")
        audio_projection.save_pretrained(staging / "audio_projection")
        if audio_backbone is not None:
            audio_backbone.save_pretrained(staging / BACKBONE_FOLDER)  # type: ignore[operator]
        for component in _COMPONENTS:  # the hub mixin also writes a README; the bundle has one card
            (staging / component / "README.md").unlink(missing_ok=True)
        (staging / "README.md").write_text(model_card)
        (staging / MANIFEST_NAME).write_text(manifest.model_dump_json(indent=2) + "\n")
        _check_files(staging)
    return out
