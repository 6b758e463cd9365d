"""Streaming mp4 writer: frames go to the H.264 encoder as they come, interleaved with the audio (AAC).

Audio packets are interleaved with the video as it grows (the muxer would otherwise buffer every video packet
until the first audio one arrives), so memory stays flat however long the clip is.
The file is written through :func:`float_pipeline.atomic_path` (a hidden temporary next to the destination,
renamed into place only when complete), so a crash or a bad input never leaves a partial video at the output.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np

from float_pipeline.atomic import atomic_path
from float_pipeline.errors import OutputError

FPS = 25
AUDIO_CHUNK = 1024  # samples per frame handed to the AAC encoder (its frame size)
# Rates every player decodes; a source rate the AAC encoder refuses (4 kHz, 192 kHz) is resampled to the
# smallest of these not below it (48 kHz above that): nothing audible is lost, nothing is stretched.
_COMMON_AAC_RATES = (16000, 22050, 24000, 32000, 44100, 48000)


def aac_rate(rate: int) -> int:
    """The sample rate (Hz) the muxed AAC track gets for a ``rate`` Hz source: ``rate`` itself when the
    encoder accepts it, else the smallest common rate not below it (48 kHz for higher rates)."""
    accepted = av.codec.Codec("aac", "w").audio_rates or _COMMON_AAC_RATES
    if rate in accepted:
        return rate
    return next((common for common in _COMMON_AAC_RATES if common >= rate), _COMMON_AAC_RATES[-1])


def check_not_an_input(out: str | Path, *inputs: object) -> None:
    """Refuse an output path that is one of the ``inputs`` (paths; other objects are ignored): writing the
    video there would destroy the file it is made from.

    Raises:
        OutputError: naming the input.
    """
    target = Path(out).expanduser()
    for item in inputs:
        if not isinstance(item, str | Path):
            continue
        source = Path(item).expanduser()
        same = source.resolve() == target.resolve()
        if not same and source.exists() and target.exists():
            same = os.path.samefile(source, target)  # hard links, bind mounts
        if same:
            raise OutputError(
                f"output {out} is the input file {item}: writing the video there would destroy it; "
                "choose another --out"
            )


def check_output_file(out: str | Path, *, what: str = "output", option: str = "--out") -> Path:
    """Validate where a file will be written, before the work that produces it: not a folder, in an
    existing folder this process can write to. ``what`` and ``option`` name it in the message.

    Raises:
        OutputError: the path is a folder, its folder is missing, or the folder is not writable.
    """
    path = Path(out).expanduser()
    if path.is_dir():
        raise OutputError(
            f"{what} {path} is a folder; pass a file name such as {path / ('out' + path.suffix)}"
        )
    folder = path.parent
    if not folder.is_dir():
        raise OutputError(f"{what} folder {folder} does not exist; create it first (mkdir -p {folder})")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{path.stem}.", suffix=".probe"):
            pass
    except OSError as error:
        raise OutputError(
            f"{what} folder {folder} is not writable ({error.strerror or error}); choose another {option}"
        ) from error
    return path


def check_output_path(out: str | Path) -> Path:
    """Validate the output path before any heavy work: an ``.mp4`` in an existing, writable folder.

    Raises:
        OutputError: wrong extension, missing folder, or a folder the process cannot write to.
    """
    path = Path(out).expanduser()
    if path.suffix.lower() != ".mp4":
        raise OutputError(f"output {path} must end in .mp4 (the video is H.264 + AAC in an MP4 container)")
    return check_output_file(path)


def _even(frame: np.ndarray) -> np.ndarray:
    # yuv420p stores chroma at half resolution in both axes: H.264 needs even sides. Odd sides get their
    # last row/column repeated.
    height, width = frame.shape[:2]
    if height % 2 or width % 2:
        frame = np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
    return frame


class VideoWriter:
    """Write uint8 RGB frames to an H.264 (yuv420p, 25 fps) mp4 and mux AAC audio.

    Use as a context manager; ``write`` frames in order; on a clean exit the audio is added and the file
    moved to ``out``; on an exception the temporary file is deleted and ``out`` is left untouched.

    Args:
        out: destination ``.mp4`` in an existing folder.
        audio: a file whose first audio stream is encoded to AAC and muxed, or float mono samples ``[N]`` in
            [-1, 1] at ``sample_rate`` Hz (all of them are muxed), or None (no audio).
        sample_rate: rate of ``audio`` samples given as an array (ignored for a file).
        crf: x264 constant rate factor (lower = better quality, larger file; 18 is visually lossless).
        size: (height, width) of the frames, if known: the video stream is then declared first (stream
            #0, as players expect); otherwise it is added at the first frame.
        preset: x264 speed preset.

    The same frames give the same file at 128 px and up. On frames of 64 px or less libx264's output
    varies from encode to encode once the process has decoded video (measured with PyAV 18 wheels).
    """

    def __init__(
        self,
        out: str | Path,
        audio: str | Path | np.ndarray | None,
        *,
        sample_rate: int = 16000,
        size: tuple[int, int] | None = None,
        crf: int = 18,
        preset: str = "medium",
    ) -> None:
        self.out = check_output_path(out)
        self.size = size
        if isinstance(audio, np.ndarray):
            if audio.ndim != 1:
                raise ValueError(f"audio samples must be mono [N], got shape {tuple(audio.shape)}")
            self.audio_path, self._samples = None, np.clip(audio, -1.0, 1.0).astype(np.float32)
        else:
            self.audio_path, self._samples = (None if audio is None else Path(audio)), None
            check_not_an_input(self.out, self.audio_path)
        self.sample_rate = sample_rate
        self.crf, self.preset = crf, preset
        self.frames_written = 0
        self._container: av.container.OutputContainer | None = None
        self._video: av.VideoStream | None = None
        self._audio: av.AudioStream | None = None
        self._stack = ExitStack()
        self._audio_packets: Iterator[tuple[float, list[av.Packet]]] | None = None
        self._audio_time = 0.0

    def __enter__(self) -> VideoWriter:
        temp = self._stack.enter_context(atomic_path(self.out))
        try:
            self._open(temp)
        except BaseException as failure:  # e.g. an unreadable audio file: leave no temporary behind
            if self._container is not None:
                self._container.close()
            self._stack.__exit__(type(failure), failure, failure.__traceback__)
            raise
        return self

    def _open(self, temp: Path) -> None:
        self._container = av.open(str(temp), mode="w", format="mp4")
        if self.size is not None:
            height, width = _even(np.zeros((*self.size, 3), dtype=np.uint8)).shape[:2]
            self._open_video(height, width)
        if self.audio_path is None and self._samples is None:
            return
        rate, channels = self.sample_rate, 1
        if self.audio_path is not None:
            with av.open(str(self.audio_path)) as source:
                rate = source.streams.audio[0].rate or 16000
                channels = source.streams.audio[0].layout.nb_channels
        self._audio = self._container.add_stream("aac", rate=aac_rate(rate))
        self._audio.layout = "mono" if channels == 1 else "stereo"
        self._audio_packets = self._encode_audio()

    def _open_video(self, height: int, width: int) -> None:
        assert self._container is not None
        stream = self._container.add_stream("libx264", rate=FPS)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, FPS)
        stream.options = {"crf": str(self.crf), "preset": self.preset}
        self._video = stream

    def write(self, frame: np.ndarray) -> None:
        """Encode one uint8 RGB [H, W, 3] frame (all frames must share one size)."""
        if self._container is None:
            raise RuntimeError("VideoWriter.write called outside its `with` block")
        frame = _even(np.ascontiguousarray(frame))
        if self._video is None:
            self._open_video(frame.shape[0], frame.shape[1])
        assert self._video is not None
        if (frame.shape[0], frame.shape[1]) != (self._video.height, self._video.width):
            raise ValueError(
                f"frame {self.frames_written} is {frame.shape[1]}x{frame.shape[0]}, the video is "
                f"{self._video.width}x{self._video.height}"
            )
        video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
        video_frame.pts = self.frames_written
        self._container.mux(self._video.encode(video_frame))
        self.frames_written += 1
        self._feed_audio(self.frames_written / FPS)

    def _source_audio(self) -> Iterator[av.AudioFrame]:
        """The audio to mux as decoded frames: the file's first audio stream, or the samples in chunks."""
        if self.audio_path is not None:
            with av.open(str(self.audio_path)) as source:
                yield from source.decode(source.streams.audio[0])
            return
        assert self._samples is not None
        for start in range(0, self._samples.size, AUDIO_CHUNK):
            frame = av.AudioFrame.from_ndarray(
                self._samples[None, start : start + AUDIO_CHUNK], format="fltp", layout="mono"
            )
            frame.sample_rate = self.sample_rate
            yield frame

    def _encode_audio(self) -> Iterator[tuple[float, list[av.Packet]]]:
        """(end time in seconds, AAC packets) pieces of the audio, in order."""
        assert self._audio is not None
        stream = self._audio
        resampler = av.AudioResampler(format="fltp", layout=stream.layout, rate=stream.rate)
        samples = 0
        for frame in self._source_audio():
            frame.pts = None
            for piece in resampler.resample(frame):
                samples = self._stamp(piece, samples)
                yield samples / stream.rate, stream.encode(piece)
        for piece in resampler.resample(None):
            samples = self._stamp(piece, samples)
            yield samples / stream.rate, stream.encode(piece)
        yield samples / stream.rate, stream.encode(None)

    @staticmethod
    def _stamp(piece: av.AudioFrame, samples: int) -> int:
        """Stamp ``piece`` with ``samples`` (samples since the start, the stream's time base) and return the
        count after it.

        Why: the AAC encoder delays its output by 1024 priming samples. Given stamped frames it stamps the
        first packet -1024, and the mp4 muxer writes an edit list that tells players to skip the priming, so
        the audio starts at 0. Unstamped frames got packets from 0 with the priming inside, and every player
        started the audio 1024 samples (64 ms at 16 kHz, 1.6 video frames) late.
        """
        piece.pts = samples
        piece.time_base = Fraction(1, piece.sample_rate)
        return samples + piece.samples

    def _feed_audio(self, until: float | None) -> None:
        """Mux audio packets up to ``until`` seconds of audio (None: all that is left)."""
        if self._audio_packets is None:
            return
        assert self._container is not None
        while until is None or self._audio_time < until:
            piece = next(self._audio_packets, None)
            if piece is None:
                self._audio_packets = None
                return
            self._audio_time, packets = piece
            self._container.mux(packets)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        assert self._container is not None
        try:
            try:
                if kind is None:
                    if self._video is None:
                        raise ValueError(f"no frames were written to {self.out}")
                    self._container.mux(self._video.encode(None))
                    self._feed_audio(None)
            finally:
                self._container.close()
        except BaseException as failure:
            self._stack.__exit__(type(failure), failure, failure.__traceback__)  # deletes the temporary
            raise
        # A clean block renames the file onto ``out``; after the caller's ``error`` it is deleted instead.
        self._stack.__exit__(kind, error, trace)
