"""float-generate: portrait + speech -> talking video from a FLOAT-kit bundle (streaming, batch mode)."""

from float_generate.bundle import (
    Bundle,
    BundleError,
    BundleManifest,
    GenerationDefaults,
    LogMelAudioSpec,
    Wav2Vec2AudioSpec,
    default_bundle_path,
    load_bundle,
    read_manifest,
    save_bundle,
)
from float_generate.errors import GenerateError, ImageError, NoFaceError, OptionError, OutputError
from float_generate.options import GenerateOptions, GenerationResult
from float_generate.pipeline import Pipeline

__all__ = [
    "Bundle",
    "BundleError",
    "BundleManifest",
    "GenerateError",
    "GenerateOptions",
    "GenerationDefaults",
    "GenerationResult",
    "ImageError",
    "LogMelAudioSpec",
    "NoFaceError",
    "OptionError",
    "OutputError",
    "Pipeline",
    "Wav2Vec2AudioSpec",
    "default_bundle_path",
    "load_bundle",
    "read_manifest",
    "save_bundle",
]
