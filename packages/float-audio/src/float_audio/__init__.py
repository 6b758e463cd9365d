"""float-audio: audio loading and 25 fps frame-aligned speech features for FLOAT, with swappable encoders."""

from float_audio.cache import FeatureCache, file_sha256
from float_audio.chunking import blend_weights, encode_in_chunks, plan_chunks
from float_audio.convert import (
    OFFICIAL_LICENSE_NOTICE,
    OFFICIAL_PROJECTION_PREFIX,
    OfficialLicenseWarning,
    convert_official,
    load_official,
    official_shapes,
)
from float_audio.errors import (
    AudioDecodeError,
    AudioError,
    AudioFileNotFoundError,
    BackboneNotFoundError,
    EmptyAudioError,
    SilentAudioError,
    SilentAudioWarning,
)
from float_audio.features import encode_audio
from float_audio.frames import FPS, SAMPLE_RATE, SAMPLES_PER_FRAME, num_frames, num_frames_for_samples
from float_audio.io import SILENCE_THRESHOLD, LoadedAudio, audio_from_array, load_audio
from float_audio.logmel import LogMelFrameEncoder, LogMelFrameEncoderConfig, mel_filterbank
from float_audio.projection import AudioProjection
from float_audio.protocol import AudioEncoder
from float_audio.wav2vec import DEFAULT_BACKBONE, Wav2Vec2FrameEncoder, Wav2Vec2FrameEncoderConfig

__all__ = [
    "DEFAULT_BACKBONE",
    "FPS",
    "OFFICIAL_LICENSE_NOTICE",
    "OFFICIAL_PROJECTION_PREFIX",
    "SAMPLES_PER_FRAME",
    "SAMPLE_RATE",
    "SILENCE_THRESHOLD",
    "AudioDecodeError",
    "AudioEncoder",
    "AudioError",
    "AudioFileNotFoundError",
    "AudioProjection",
    "BackboneNotFoundError",
    "EmptyAudioError",
    "FeatureCache",
    "LoadedAudio",
    "LogMelFrameEncoder",
    "LogMelFrameEncoderConfig",
    "OfficialLicenseWarning",
    "SilentAudioError",
    "SilentAudioWarning",
    "Wav2Vec2FrameEncoder",
    "Wav2Vec2FrameEncoderConfig",
    "audio_from_array",
    "blend_weights",
    "convert_official",
    "encode_audio",
    "encode_in_chunks",
    "file_sha256",
    "load_audio",
    "load_official",
    "mel_filterbank",
    "num_frames",
    "num_frames_for_samples",
    "official_shapes",
    "plan_chunks",
]
