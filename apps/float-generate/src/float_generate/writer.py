"""Streaming mp4 writer: frames go to the H.264 encoder as they come, interleaved with the source audio (AAC).

Audio packets are interleaved with the video as it grows (the muxer would otherwise buffer every video packet
until the first audio one arrives), so memory stays flat however long the clip is.
The file is written next to the destination under a hidden temporary name and renamed into place only when
complete (``os.replace``), so a crash or a bad input never leaves a partial video at the output path.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np

from float_generate.errors import OutputError

FPS = 25


def check_output_path(out: str | Path) -> Path:
    """Validate the output path before any heavy work: an ``.mp4`` in an existing, writable folder.

    Raises:
        OutputError: wrong extension, missing folder, or a folder the process cannot write to.
    """
    path = Path(out).expanduser()
    if path.suffix.lower() != ".mp4":
        raise OutputError(f"output {path} must end in .mp4 (the video is H.264 + AAC in an MP4 container)")
    if path.is_dir():
        raise OutputError(f"output {path} is a folder; pass a file name such as {path / 'out.mp4'}")
    folder = path.parent
    if not folder.is_dir():
        raise OutputError(f"output folder {folder} does not exist; create it first (mkdir -p {folder})")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{path.stem}.", suffix=".probe"):
            pass
    except OSError as error:
        raise OutputError(
            f"output folder {folder} is not writable ({error.strerror or error}); choose another --out"
        ) from error
    return path


def _even(frame: np.ndarray) -> np.ndarray:
    # yuv420p stores chroma at half resolution in both axes: H.264 needs even sides. Odd sides get their
    # last row/column repeated.
    height, width = frame.shape[:2]
    if height % 2 or width % 2:
        frame = np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
    return frame


class VideoWriter:
    """Write uint8 RGB frames to an H.264 (yuv420p, 25 fps) mp4 and mux AAC audio from ``audio_path``.

    Use as a context manager; ``write`` frames in order; on a clean exit the audio is added and the file
    moved to ``out``; on an exception the temporary file is deleted and ``out`` is left untouched.

    Args:
        out: destination ``.mp4``.
        audio_path: the file whose first audio stream is encoded to AAC and muxed (None: no audio).
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
        audio_path: str | Path | None,
        *,
        size: tuple[int, int] | None = None,
        crf: int = 18,
        preset: str = "medium",
    ) -> None:
        self.out = check_output_path(out)
        self.size = size
        self.audio_path = None if audio_path is None else Path(audio_path)
        self.crf, self.preset = crf, preset
        self.frames_written = 0
        self._container: av.container.OutputContainer | None = None
        self._video: av.VideoStream | None = None
        self._audio: av.AudioStream | None = None
        self._temp: Path | None = None
        self._audio_packets: Iterator[tuple[float, list[av.Packet]]] | None = None
        self._audio_time = 0.0

    def __enter__(self) -> VideoWriter:
        handle, name = tempfile.mkstemp(dir=self.out.parent, prefix=f".{self.out.stem}.", suffix=".part.mp4")
        os.close(handle)
        self._temp = Path(name)
        self._container = av.open(name, mode="w", format="mp4")
        if self.size is not None:
            height, width = _even(np.zeros((*self.size, 3), dtype=np.uint8)).shape[:2]
            self._open_video(height, width)
        if self.audio_path is not None:
            with av.open(str(self.audio_path)) as source:
                rate = source.streams.audio[0].rate or 16000
                channels = source.streams.audio[0].layout.nb_channels
            self._audio = self._container.add_stream("aac", rate=rate)
            self._audio.layout = "mono" if channels == 1 else "stereo"
            self._audio_packets = self._encode_audio()
        return self

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

    def _encode_audio(self) -> Iterator[tuple[float, list[av.Packet]]]:
        """(end time in seconds, AAC packets) pieces of the source's first audio stream, in order."""
        assert self._audio is not None and self.audio_path is not None
        stream = self._audio
        resampler = av.AudioResampler(format="fltp", layout=stream.layout, rate=stream.rate)
        samples = 0
        with av.open(str(self.audio_path)) as source:
            for frame in source.decode(source.streams.audio[0]):
                frame.pts = None
                for piece in resampler.resample(frame):
                    samples += piece.samples
                    yield samples / stream.rate, stream.encode(piece)
        for piece in resampler.resample(None):
            samples += piece.samples
            yield samples / stream.rate, stream.encode(piece)
        yield samples / stream.rate, stream.encode(None)

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
        assert self._container is not None and self._temp is not None
        try:
            if kind is None:
                if self._video is None:
                    raise ValueError(f"no frames were written to {self.out}")
                self._container.mux(self._video.encode(None))
                self._feed_audio(None)
                self._container.close()
                os.replace(self._temp, self.out)
            else:
                self._container.close()
        finally:
            self._temp.unlink(missing_ok=True)
