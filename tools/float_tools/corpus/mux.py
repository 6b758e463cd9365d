"""Write a clip as an ordinary mp4: H.264 yuv420p video at 25 fps and AAC audio at 16 kHz mono (PyAV)."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from float_tools.corpus.config import FPS, SAMPLE_RATE

AAC_FRAME = 1024
"""Samples per AAC frame."""


def write_mp4(path: Path, frames: Iterable[np.ndarray], audio: np.ndarray, crf: int = 18) -> int:
    """Encode ``frames`` (uint8 RGB [H, W, 3], H and W even) with ``audio`` (float32 [N] in [-1, 1], 16 kHz).

    Frames are streamed to the encoder one at a time. x264 runs single-threaded so the bytes depend only
    on the inputs (thread count changes x264's decisions). Returns the number of video frames written.
    """
    n_written = 0
    with av.open(str(path), mode="w", format="mp4") as container:
        video = container.add_stream("libx264", rate=FPS, options={"crf": str(crf), "preset": "medium"})
        video.pix_fmt = "yuv420p"
        video.codec_context.thread_count = 1
        video.codec_context.time_base = Fraction(1, FPS)
        sound = container.add_stream("aac", rate=SAMPLE_RATE)
        sound.layout = "mono"
        sound.codec_context.time_base = Fraction(1, SAMPLE_RATE)
        sound.bit_rate = 64_000
        for image in frames:
            if n_written == 0:
                video.width, video.height = image.shape[1], image.shape[0]
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts = n_written
            container.mux(video.encode(frame))
            n_written += 1
        container.mux(video.encode())
        samples = np.clip(audio, -1.0, 1.0).astype(np.float32)
        for start in range(0, samples.size, AAC_FRAME):
            # The last AAC frame may be short: the encoder accepts it, and the stream keeps the exact length.
            chunk = samples[start : start + AAC_FRAME]
            frame = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
            frame.sample_rate = SAMPLE_RATE
            frame.pts = start
            container.mux(sound.encode(frame))
        container.mux(sound.encode())
    return n_written
