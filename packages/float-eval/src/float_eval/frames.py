"""One side of a video pair on disk, decoded in fixed batches at the run's frame rate and never held whole.

:class:`FrameSource` streams a video file (PyAV) or a folder of frames as uint8 [B, 3, H, W] batches,
resampled on the fly to the run's rate with exactly the frames :func:`float_eval.video.resample_fps` picks.
Each pass decodes again: memory is one batch (plus a few frames), whatever the video's length.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import torch
from PIL import Image

from .video import _image_files

__all__ = ["FrameSource", "Resampler"]


class Resampler:
    """Nearest-frame resampling of a stream from ``fps`` to ``target`` fps, frame by frame.

    It emits the frames ``resample_fps`` would pick from the whole video (same index arithmetic, in torch
    float32), without knowing the video's length in advance: output ``k`` is emitted once its source frame
    has arrived and ``k`` is surely below the final count; the last few are emitted by :meth:`finish`.
    """

    def __init__(self, fps: float, target: float) -> None:
        self.fps, self.target = fps, target
        self.identity = abs(fps - target) < 1e-3
        self.seen = 0  # source frames pushed so far
        self.next_out = 0  # index of the next output frame
        # Source frames an output may still need: a delayed output is at most ~fps/target + 2 frames back.
        self._recent: deque[tuple[int, torch.Tensor]] = deque(maxlen=int(fps / target) + 4)
        self._idx = torch.zeros(0, dtype=torch.long)
        self._idx_base = 0

    def _source_index(self, k: int) -> int:
        # resample_fps computes ``(torch.arange(n) * fps / target).round()``; the same ops, in chunks.
        if not self._idx_base <= k < self._idx_base + len(self._idx):
            self._idx_base = k
            self._idx = (torch.arange(k, k + 4096) * self.fps / self.target).round().long()
        return int(self._idx[k - self._idx_base])

    def _count_for(self, frames: int) -> int:
        return max(1, round(frames / self.fps * self.target))

    def _frame(self, index: int) -> torch.Tensor:
        for i, frame in reversed(self._recent):
            if i == index:
                return frame
        raise RuntimeError(f"resampler lost source frame {index}")  # not reachable: see _recent's length

    def push(self, frame: torch.Tensor) -> Iterator[torch.Tensor]:
        """Add the next source frame; yield the output frames that are now decided."""
        if self.identity:
            self.seen += 1
            self.next_out += 1
            yield frame
            return
        self._recent.append((self.seen, frame))
        self.seen += 1
        bound = self._count_for(self.seen)  # the final count is at least this
        while self.next_out < bound:
            src = self._source_index(self.next_out)
            if src >= self.seen:
                break
            self.next_out += 1
            yield self._frame(src)

    def finish(self) -> Iterator[torch.Tensor]:
        """The outputs left once the stream has ended (the last source frame, repeated)."""
        if self.identity or self.seen == 0:
            return
        total = self._count_for(self.seen)
        while self.next_out < total:
            src = min(self._source_index(self.next_out), self.seen - 1)
            self.next_out += 1
            yield self._frame(src)


class FrameSource:
    """A video file or a folder of frames, read as uint8 RGB batches at ``target_fps``.

    Attributes:
        path: the file or folder.
        fps: its frame rate (``folder_fps`` for a frame folder, then ``fps_assumed`` is True).
        size: (height, width) of its frames.
        num_frames: frames at ``target_fps``, known once a pass has run to the end (or after :meth:`count`).
    """

    def __init__(self, path: str | Path, target_fps: float = 25.0, folder_fps: float = 25.0) -> None:
        self.path = Path(path)
        self.target_fps = target_fps
        self.num_frames: int | None = None
        self._files: list[Path] = []
        if self.path.is_dir():
            self._files = _image_files(self.path)
            if not self._files:
                raise ValueError(f"{self.path} holds no image frames")
            self.fps, self.fps_assumed = folder_fps, True
            with Image.open(self._files[0]) as first:
                self.size = (first.height, first.width)
            self.frames_hint: int | None = len(self._files)
            return
        self.fps_assumed = False
        with av.open(str(self.path)) as container:
            if not container.streams.video:
                raise ValueError(f"{self.path} has no video stream")
            stream = container.streams.video[0]
            self.fps = float(stream.average_rate or stream.guessed_rate or folder_fps)
            self.size = (stream.codec_context.height, stream.codec_context.width)
            self.frames_hint = int(stream.frames) or None

    @property
    def expected_frames(self) -> int | None:
        """Frames at ``target_fps``: exact after a pass, else from the container's header (may be None)."""
        if self.num_frames is not None:
            return self.num_frames
        if self.frames_hint is None:
            return None
        return max(1, round(self.frames_hint / self.fps * self.target_fps))

    def _decoded(self, rgb: bool = True) -> Iterator[torch.Tensor | None]:
        """Source frames in order: [3, H, W] uint8, or None per frame when ``rgb`` is False (counting)."""
        if self._files:
            for f in self._files:
                if not rgb:
                    yield None
                    continue
                with Image.open(f) as img:
                    yield torch.from_numpy(np.array(img.convert("RGB"))).permute(2, 0, 1)
            return
        with av.open(str(self.path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                yield torch.from_numpy(frame.to_ndarray(format="rgb24")).permute(2, 0, 1) if rgb else None

    def frames(self) -> Iterator[torch.Tensor]:
        """Every frame at ``target_fps``, one [3, H, W] uint8 tensor at a time."""
        resampler = Resampler(self.fps, self.target_fps)
        produced = 0
        for frame in self._decoded():
            assert frame is not None
            for out in resampler.push(frame):
                produced += 1
                yield out
        for out in resampler.finish():
            produced += 1
            yield out
        if produced == 0:
            raise ValueError(f"{self.path} has no decodable frames")
        self.num_frames = produced

    def batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        """Consecutive frames at ``target_fps`` as [B, 3, H, W] uint8, B = ``batch_size`` (the last fewer)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        batch: list[torch.Tensor] = []
        for frame in self.frames():
            batch.append(frame)
            if len(batch) == batch_size:
                yield torch.stack(batch)
                batch = []
        if batch:
            yield torch.stack(batch)

    def count(self) -> int:
        """Frames at ``target_fps``, decoding (without colour conversion) when no pass has counted them."""
        if self.num_frames is None:
            resampler = Resampler(self.fps, self.target_fps)
            empty = torch.zeros(0, dtype=torch.uint8)
            n = sum(1 for _ in self._decoded(rgb=False) for _ in resampler.push(empty))
            n += sum(1 for _ in resampler.finish())
            if n == 0:
                raise ValueError(f"{self.path} has no decodable frames")
            self.num_frames = n
        return self.num_frames

    def read_all(self) -> torch.Tensor:
        """The whole video [T, 3, H, W] uint8 at ``target_fps`` (memory grows with its length)."""
        return torch.stack(list(self.frames()))
