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
    save_bundle,
)

__all__ = [
    "Bundle",
    "BundleError",
    "BundleManifest",
    "GenerationDefaults",
    "LogMelAudioSpec",
    "Wav2Vec2AudioSpec",
    "default_bundle_path",
    "load_bundle",
    "save_bundle",
]
