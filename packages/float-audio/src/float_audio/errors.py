"""Typed errors and warnings for audio input: each names the file (or argument) and what to do about it."""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "AudioDecodeError",
    "AudioError",
    "AudioFileNotFoundError",
    "BackboneNotFoundError",
    "EmptyAudioError",
    "SilentAudioError",
    "SilentAudioWarning",
]


class AudioError(ValueError):
    """Base class of every float-audio input error; ``source`` is the file path or a short description."""

    def __init__(self, message: str, source: str | Path | None = None) -> None:
        super().__init__(message)
        self.source = str(source) if source is not None else None


class AudioFileNotFoundError(AudioError, FileNotFoundError):
    """The audio file does not exist (or is not a regular file)."""


class AudioDecodeError(AudioError):
    """The file is not audio ffmpeg can decode: not a media file, corrupt, or a media file without audio."""


class EmptyAudioError(AudioError):
    """The file or array decodes to zero samples."""


class SilentAudioError(AudioError):
    """Every sample is (near) zero; pass ``allow_silent=True`` to accept it with a warning instead."""


class SilentAudioWarning(UserWarning):
    """Emitted instead of :class:`SilentAudioError` when silent audio is explicitly allowed."""


class BackboneNotFoundError(FileNotFoundError):
    """The wav2vec2-style backbone weights are not in the given folder nor in the local Hugging Face cache."""
