"""Writing sample clips: frames (and optionally their speech) to an H.264 mp4 with PyAV."""

from __future__ import annotations

import os
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

__all__ = ["write_mp4"]

FPS = 25
SAMPLE_RATE = 16000
AAC_FRAME = 1024  # samples per AAC frame


def write_mp4(path: Path, frames: Iterable[np.ndarray], audio: np.ndarray | None = None) -> int:
    """Encode uint8 RGB frames ``[S, S, 3]`` (even sides) at 25 fps, plus 16 kHz mono ``audio`` in [-1, 1].

    Written to a temporary name and renamed, so ``path`` is either complete or absent. Returns the number of
    frames written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.mp4")
    count = 0
    try:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            video = container.add_stream("libx264", rate=FPS, options={"crf": "18"})
            video.pix_fmt = "yuv420p"
            video.codec_context.time_base = Fraction(1, FPS)
            sound = None
            if audio is not None:
                sound = container.add_stream("aac", rate=SAMPLE_RATE)
                sound.layout = "mono"
                sound.codec_context.time_base = Fraction(1, SAMPLE_RATE)
            for image in frames:
                if count == 0:
                    video.width, video.height = int(image.shape[1]), int(image.shape[0])
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
                frame.pts = count
                container.mux(video.encode(frame))
                count += 1
            container.mux(video.encode())
            if sound is not None and audio is not None:
                samples = np.clip(audio[: count * SAMPLE_RATE // FPS], -1, 1).astype(np.float32)
                for start in range(0, samples.size, AAC_FRAME):
                    chunk = av.AudioFrame.from_ndarray(
                        samples[None, start : start + AAC_FRAME], format="fltp", layout="mono"
                    )
                    chunk.sample_rate = SAMPLE_RATE
                    chunk.pts = start
                    container.mux(sound.encode(chunk))
                container.mux(sound.encode())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return count
