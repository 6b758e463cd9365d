"""float-pipeline: the one package composing the FLOAT-kit packages into portrait + speech -> talking video.

As ``diffusers.pipelines`` composes models and schedulers, it is the only package that imports its siblings
(float-motion-ae, float-flow, float-audio, float-emotion, float-data); the apps are thin CLIs over it.

Public API: the bundle format (:class:`BundleManifest`, :func:`save_bundle`, :func:`load_bundle`,
:func:`read_manifest`, :func:`check_consistency`), :class:`Pipeline` (``prepare`` -> ``render``, or
``generate`` to an mp4), the portrait crop and paste-back (:func:`prepare_portrait`, :func:`face_box`,
:class:`PasteBack`), the streaming mp4 writer (:class:`VideoWriter`), complete-or-absent writes
(:func:`atomic_path`, :func:`write_text_atomic`) and the official-checkpoint conversion
(:func:`convert_official_checkpoint`, in memory :func:`convert_official_state`). Test helpers (random
bundles) live in ``float_pipeline.testing``.
"""

from float_pipeline.atomic import atomic_path, remove_stale_temporaries, write_text_atomic
from float_pipeline.bundle import (
    AudioSpec,
    Bundle,
    BundleError,
    BundleManifest,
    GenerationDefaults,
    LogMelAudioSpec,
    Wav2Vec2AudioSpec,
    build_audio_encoder,
    check_bundle_target,
    check_consistency,
    default_bundle_path,
    is_bundle,
    load_bundle,
    read_manifest,
    save_bundle,
)
from float_pipeline.conditions import parse_emotion
from float_pipeline.convert import (
    DEFAULT_AUDIO_CHUNK_SECONDS,
    DEFAULT_EMOTION_MODEL,
    OFFICIAL_NUM_TENSORS,
    ConversionError,
    ConvertedOfficial,
    OfficialCheckpointWarning,
    convert_official_checkpoint,
    convert_official_state,
)
from float_pipeline.errors import GenerateError, ImageError, NoFaceError, OptionError, OutputError
from float_pipeline.options import Device, DType, GenerateOptions, GenerationResult
from float_pipeline.pipeline import Pipeline, PreparedClip, to_uint8_frames
from float_pipeline.portrait import (
    ImageInput,
    PasteBack,
    Portrait,
    cached_detector,
    crop_reflected,
    face_box,
    load_image,
    prepare_portrait,
)
from float_pipeline.writer import (
    VideoWriter,
    aac_rate,
    check_not_an_input,
    check_output_file,
    check_output_path,
)

__all__ = [
    "DEFAULT_AUDIO_CHUNK_SECONDS",
    "DEFAULT_EMOTION_MODEL",
    "OFFICIAL_NUM_TENSORS",
    "AudioSpec",
    "Bundle",
    "BundleError",
    "BundleManifest",
    "ConversionError",
    "ConvertedOfficial",
    "DType",
    "Device",
    "GenerateError",
    "GenerateOptions",
    "GenerationDefaults",
    "GenerationResult",
    "ImageError",
    "ImageInput",
    "LogMelAudioSpec",
    "NoFaceError",
    "OfficialCheckpointWarning",
    "OptionError",
    "OutputError",
    "PasteBack",
    "Pipeline",
    "Portrait",
    "PreparedClip",
    "VideoWriter",
    "Wav2Vec2AudioSpec",
    "aac_rate",
    "atomic_path",
    "build_audio_encoder",
    "cached_detector",
    "check_bundle_target",
    "check_consistency",
    "check_not_an_input",
    "check_output_file",
    "check_output_path",
    "convert_official_checkpoint",
    "convert_official_state",
    "crop_reflected",
    "default_bundle_path",
    "face_box",
    "is_bundle",
    "load_bundle",
    "load_image",
    "parse_emotion",
    "prepare_portrait",
    "read_manifest",
    "remove_stale_temporaries",
    "save_bundle",
    "to_uint8_frames",
    "write_text_atomic",
]
