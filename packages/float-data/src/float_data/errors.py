"""Named reasons why a video cannot become training data, and the error that carries one."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path


class FailureReason(StrEnum):
    """Why a video was skipped by ``prepare``; the value is what ``failures.jsonl`` records."""

    UNREADABLE = "unreadable"  # the container cannot be opened (corrupt, truncated, not a video)
    NO_VIDEO_STREAM = "no_video_stream"  # opens, but has no video stream (an audio-only file)
    ZERO_FRAMES = "zero_frames"  # a video stream without a single decodable frame
    DECODE_ERROR = "decode_error"  # frames start decoding, then the stream breaks
    NO_AUDIO = "no_audio"  # no audio stream, or one without samples
    NO_FACE = "no_face"  # the detector finds a face in too few sampled frames


class VideoError(RuntimeError):
    """A video that cannot be used, with a machine-readable :class:`FailureReason`.

    The message names the file and what to do about it.
    """

    def __init__(self, reason: FailureReason, path: str | Path, detail: str) -> None:
        self.reason = reason
        self.path = str(path)
        self.detail = detail
        super().__init__(f"{path}: {reason.value}: {detail}")
