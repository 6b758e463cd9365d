"""Video and audio decoding with PyAV: frames resampled to a fixed rate (25 fps), audio to 16 kHz mono.

Frame-rate rule (works for constant and variable frame rate alike, because it reads timestamps, never counts):

- Let ``t_0`` be the first frame's presentation time and ``t_end`` the last frame's time plus its duration
  (the stream's frame duration, else the median frame interval). The output has
  ``N = max(1, round((t_end - t_0) * fps))`` frames.
- Output frame ``k`` shows the source frame on screen at the centre of its output interval,
  ``t_0 + (k + 0.5) / fps``: the last source frame whose timestamp is at or before that instant.
  A 25 fps source therefore maps 1:1; faster sources drop frames evenly, slower ones repeat them.
- Frames with equal or decreasing timestamps replace the pending frame (the later decoded one wins).

Phone footage with a display-rotation matrix is turned upright (as ffmpeg's autorotate does).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from float_data.errors import FailureReason, VideoError

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".mpg", ".mpeg", ".flv")
_EPS = 1e-6


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video, before decoding any frame.

    ``source_fps`` is the stream's average rate (frames/s); ``duration_s`` the container duration in seconds
    (0.0 when unknown); ``variable_frame_rate`` is True when the stream's guessed and average rates differ.
    """

    path: str
    width: int
    height: int
    source_fps: float
    duration_s: float
    has_audio: bool
    audio_sample_rate: int | None
    variable_frame_rate: bool


def _open(path: str | Path) -> av.container.InputContainer:
    if not Path(path).is_file():
        raise VideoError(FailureReason.UNREADABLE, path, "file does not exist")
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError, ValueError) as error:
        raise VideoError(
            FailureReason.UNREADABLE, path, f"cannot open the container ({error}); re-encode or remove it"
        ) from error


def probe_video(path: str | Path) -> VideoInfo:
    """Read stream metadata of ``path``; raises :class:`VideoError` (unreadable / no video stream)."""
    with _open(path) as container:
        if not container.streams.video:
            raise VideoError(FailureReason.NO_VIDEO_STREAM, path, "the file has no video stream")
        stream = container.streams.video[0]
        average = float(stream.average_rate) if stream.average_rate else 0.0
        guessed = float(stream.guessed_rate) if stream.guessed_rate else average
        duration = float(container.duration / av.time_base) if container.duration else 0.0
        audio = container.streams.audio[0] if container.streams.audio else None
        return VideoInfo(
            path=str(path),
            width=int(stream.codec_context.width),
            height=int(stream.codec_context.height),
            source_fps=average,
            duration_s=duration,
            has_audio=audio is not None,
            audio_sample_rate=int(audio.rate) if audio is not None else None,
            variable_frame_rate=bool(average and guessed and abs(average - guessed) > 0.01),
        )


def _to_rgb(frame: av.VideoFrame) -> np.ndarray:
    """uint8 RGB [H, W, 3], turned by the frame's display rotation (degrees counter-clockwise)."""
    rgb = frame.to_ndarray(format="rgb24")
    turns = round(float(getattr(frame, "rotation", 0) or 0) / 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def first_output_index(t: float, t0: float, fps: float) -> int:
    """Smallest output index ``k`` whose sampling instant ``t0 + (k + 0.5) / fps`` is at or after ``t``."""
    return max(0, math.ceil((t - t0) * fps - 0.5 - _EPS))


def output_frame_count(t0: float, t_end: float, fps: float) -> int:
    """Number of output frames for a stream shown from ``t0`` to ``t_end`` seconds: ``round(span * fps)``."""
    return max(1, round((t_end - t0) * fps))


def resample_indices(timestamps: np.ndarray, end_time: float, fps: float = 25.0) -> np.ndarray:
    """Source frame index shown by each output frame (the module's rule), for strictly increasing timestamps.

    ``timestamps``: [S] seconds; ``end_time``: when the last frame stops showing. Returns int64 [N].
    """
    times = np.asarray(timestamps, dtype=np.float64)
    if times.ndim != 1 or times.size == 0:
        raise ValueError("timestamps must be a non-empty 1-D array of seconds")
    if np.any(np.diff(times) <= 0):
        raise ValueError("timestamps must be strictly increasing")
    t0 = float(times[0])
    count = output_frame_count(t0, end_time, fps)
    starts = [first_output_index(float(t), t0, fps) for t in times[1:]] + [count]
    out = np.empty(count, dtype=np.int64)
    k = 0
    for index, stop in enumerate(starts):
        stop = min(stop, count)
        if stop > k:
            out[k:stop] = index
            k = stop
    return out


def iter_video_frames(path: str | Path, fps: float = 25.0) -> Iterator[np.ndarray]:
    """Yield the frames of ``path`` resampled to ``fps`` by the module's rule, one at a time.

    Each frame is uint8 RGB [H, W, 3]. Memory holds one decoded frame, never the whole video.
    Raises :class:`VideoError` with reason unreadable / no_video_stream / zero_frames / decode_error.
    """
    with _open(path) as container:
        if not container.streams.video:
            raise VideoError(FailureReason.NO_VIDEO_STREAM, path, "the file has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        nominal = 1.0 / float(stream.average_rate) if stream.average_rate else 1.0 / fps
        time_base = float(stream.time_base) if stream.time_base else None

        pending: av.VideoFrame | None = None
        pending_rgb: np.ndarray | None = None
        pending_t = t0 = 0.0
        pending_duration: float | None = None
        intervals: list[float] = []
        k = 0
        decoded = 0
        try:
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else pending_t + nominal * (decoded > 0)
                duration = (
                    float(frame.duration) * time_base if (frame.duration and time_base is not None) else None
                )
                decoded += 1
                if pending is None:
                    pending, pending_rgb, pending_t, pending_duration, t0 = frame, None, t, duration, t
                    continue
                if t <= pending_t + _EPS:
                    pending, pending_rgb, pending_duration = frame, None, duration
                    continue
                stop = first_output_index(t, t0, fps)
                while k < stop:
                    if pending_rgb is None:
                        pending_rgb = _to_rgb(pending)
                    yield pending_rgb
                    k += 1
                intervals.append(t - pending_t)
                pending, pending_rgb, pending_t, pending_duration = frame, None, t, duration
        except av.error.FFmpegError as error:
            raise VideoError(
                FailureReason.DECODE_ERROR, path, f"decoding failed after {decoded} frames ({error})"
            ) from error
        if pending is None:
            raise VideoError(FailureReason.ZERO_FRAMES, path, "the video stream has no decodable frame")
        last = pending_duration or (float(np.median(intervals)) if intervals else nominal)
        count = output_frame_count(t0, pending_t + last, fps)
        while k < count:
            if pending_rgb is None:
                pending_rgb = _to_rgb(pending)
            yield pending_rgb
            k += 1


def read_video(path: str | Path, fps: float = 25.0) -> np.ndarray:
    """All frames of ``path`` at ``fps`` as uint8 [T, H, W, 3] (convenience for short clips)."""
    return np.stack(list(iter_video_frames(path, fps)))


def video_start_time(path: str | Path) -> float:
    """Presentation time in seconds of the first decoded video frame (0.0 for most files)."""
    with _open(path) as container:
        if not container.streams.video:
            raise VideoError(FailureReason.NO_VIDEO_STREAM, path, "the file has no video stream")
        for packet in container.demux(container.streams.video[0]):
            for frame in packet.decode():
                return float(frame.time or 0.0)
    raise VideoError(FailureReason.ZERO_FRAMES, path, "the video stream has no decodable frame")


@dataclass(frozen=True)
class AudioTrack:
    """Mono audio: ``samples`` float32 [N] in [-1, 1] at ``sample_rate`` Hz, starting at ``start_s`` s."""

    samples: np.ndarray
    sample_rate: int
    start_s: float

    @property
    def duration_s(self) -> float:
        return self.samples.shape[0] / self.sample_rate


def read_audio(path: str | Path, sample_rate: int = 16000) -> AudioTrack:
    """Decode the first audio stream of ``path``, downmixed to mono and resampled to ``sample_rate`` Hz.

    Raises :class:`VideoError` (reason ``no_audio``) when there is no audio stream or it holds no samples.
    """
    with _open(path) as container:
        if not container.streams.audio:
            raise VideoError(
                FailureReason.NO_AUDIO, path, "the file has no audio track; mux the speech in with ffmpeg"
            )
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        chunks: list[np.ndarray] = []
        start: float | None = None
        try:
            for frame in container.decode(stream):
                if start is None and frame.time is not None:
                    start = float(frame.time)
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as error:
            raise VideoError(FailureReason.DECODE_ERROR, path, f"audio decoding failed ({error})") from error
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if samples.size == 0:
        raise VideoError(FailureReason.NO_AUDIO, path, "the audio track holds no samples")
    return AudioTrack(samples=np.clip(samples, -1.0, 1.0), sample_rate=sample_rate, start_s=start or 0.0)


def align_audio(track: AudioTrack, video_start_s: float, n_frames: int, fps: float = 25.0) -> np.ndarray:
    """Audio cut to the video: float32 [round(n_frames * sample_rate / fps)] (640 samples/frame at 25/16k).

    Audio that starts after the video is preceded by silence, audio before it is dropped; the end is
    zero-padded or cut so that frame ``k`` owns samples ``[k * sr / fps, (k + 1) * sr / fps)``.
    """
    sr = track.sample_rate
    length = round(n_frames * sr / fps)
    offset = round((track.start_s - video_start_s) * sr)
    samples = track.samples
    if offset > 0:
        samples = np.concatenate([np.zeros(offset, np.float32), samples])
    elif offset < 0:
        samples = samples[-offset:]
    if samples.shape[0] >= length:
        return np.ascontiguousarray(samples[:length])
    return np.concatenate([samples, np.zeros(length - samples.shape[0], np.float32)])
