"""Video pairs: a generated video and its same-name reference, decoded once and handed to every metric.

Each pair holds both videos' frames at the run's frame rate and computes, on first use and once for all
metrics, what several of them need: the audio for lip sync, the source portrait and face detections (by
detector, so CSIM, E-FID and P-FID sharing one SCRFD detect each frame once). One pair is alive at a time,
so memory is bounded by the longest video.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from .config import EvalConfig
from .nets.faces import Face, FaceDetector
from .report import VideoResult
from .video import Video, list_videos, read_audio, read_video, resample_fps

__all__ = ["Side", "VideoPair", "video_pairs"]

Side = Literal["generated", "reference"]
T = TypeVar("T")


class VideoPair:
    """One generated video and its reference, as every metric's ``update`` receives them.

    Attributes:
        name: the name both share (file stem or frame-folder name).
        generated, reference: frames [T, 3, H, W] uint8 RGB at ``config.fps`` (their T may differ).
        generated_path, reference_path: where they were read.
        config: the run's settings (``sources`` folder, ``sample_rate``, ...).
        result: this video's row of the report; metrics write their per-video values into it (built-ins into
            its fields, others into ``result.scores``), and notes and problems through :meth:`note` and
            :meth:`problem`.
    """

    def __init__(
        self,
        name: str,
        generated: Video,
        reference: Video,
        config: EvalConfig,
        result: VideoResult,
        problems: Counter[str],
    ) -> None:
        self.name = name
        self.config = config
        self.result = result
        self.generated_path, self.reference_path = generated.path, reference.path
        self.generated = resample_fps(generated.frames, generated.fps, config.fps)
        self.reference = resample_fps(reference.frames, reference.fps, config.fps)
        self._problems = problems
        self._cache: dict[Hashable, Any] = {}
        result.frames_generated, result.frames_reference = self.generated.shape[0], self.reference.shape[0]

    def frames(self, side: Side) -> torch.Tensor:
        """``generated`` or ``reference`` frames [T, 3, H, W] uint8."""
        return self.generated if side == "generated" else self.reference

    def note(self, message: str) -> None:
        """Something a reader of the report should know about this video (not a problem)."""
        self.result.notes.append(message)

    def problem(self, message: str, count_as: str | None = None) -> None:
        """A problem of this video, listed under it and counted under ``count_as`` in ``problem_counts``."""
        self.result.problems.append(message)
        if count_as is not None:
            self._problems[count_as] += 1

    def count(self, key: str, n: int = 1) -> None:
        """Count ``n`` under ``key`` in the report's ``problem_counts`` without a per-video message."""
        self._problems[key] += n

    def cached(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()`` once per pair for ``key``: how metrics share per-video work."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def faces(self, side: Side, detector: FaceDetector) -> list[list[Face]]:
        """``detector``'s faces in every frame of one side (best first), detected once per detector.

        Raises:
            ValueError: whatever the detector raises (e.g. frames too small for it).
        """
        frames = self.frames(side)
        return self.cached(
            ("faces", side, id(detector)),
            lambda: [detector.detect(frames[t].permute(1, 2, 0).numpy()) for t in range(frames.shape[0])],
        )

    def audio(self) -> tuple[np.ndarray | None, str | None]:
        """Mono int16 audio at ``config.sample_rate`` and where it came from.

        The generated file's own track, else ``sources/<name>.wav``, else the reference's track; (None, None)
        when none has audio.
        """
        return self.cached("audio", self._find_audio)

    def _find_audio(self) -> tuple[np.ndarray | None, str | None]:
        rate = self.config.sample_rate
        audio = read_audio(self.generated_path, rate)
        if audio is not None:
            return audio, "generated"
        if self.config.sources is not None:
            wav = self.config.sources / f"{self.name}.wav"
            audio = read_audio(wav, rate) if wav.is_file() else None
            if audio is not None:
                return audio, "sources"
        audio = read_audio(self.reference_path, rate)
        return (audio, "reference") if audio is not None else (None, None)

    def source_image(self) -> tuple[torch.Tensor, str]:
        """The source portrait [3, H, W] uint8: ``sources/<name>.png|jpg|jpeg``, else the first reference
        frame.

        Returns:
            (image, where it came from).
        """
        return self.cached("source", self._find_source)

    def _find_source(self) -> tuple[torch.Tensor, str]:
        if self.config.sources is not None:
            for suffix in (".png", ".jpg", ".jpeg"):
                path = self.config.sources / f"{self.name}{suffix}"
                if path.is_file():
                    img = torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1)
                    return img, str(path)
        return self.reference[0], "first reference frame"

    def count_faceless_frames(self) -> None:
        """Add this video's frames without a face (per metric and side) to ``problem_counts``."""
        for key, n in self.result.frames_without_face.items():
            if n:
                self._problems[f"frames without face ({key})"] += n


def _open_pair(
    name: str, gen_path: Path, ref_path: Path, config: EvalConfig, result: VideoResult, problems: Counter[str]
) -> VideoPair | None:
    try:
        gen, ref = read_video(gen_path, config.fps), read_video(ref_path, config.fps)
    except Exception as err:  # a broken file is reported and counted, the run goes on
        result.problems.append(f"unreadable: {err}")
        problems["unreadable"] += 1
        return None
    if abs(gen.fps - ref.fps) > 1e-3:
        result.problems.append(f"frame rates differ: generated {gen.fps:g} fps, reference {ref.fps:g} fps")
        problems["mismatched frame rate"] += 1
    for label, v in (("generated", gen), ("reference", ref)):
        if v.fps_assumed:
            result.notes.append(f"{label} is a frame folder: {config.fps:g} fps assumed")
        elif abs(v.fps - config.fps) > 1e-3:
            result.notes.append(f"{label} resampled from {v.fps:g} to {config.fps:g} fps")
    return VideoPair(name, gen, ref, config, result, problems)


def video_pairs(
    config: EvalConfig, results: list[VideoResult], problems: Counter[str], progress: bool = True
) -> Iterator[VideoPair]:
    """Pair the two folders by name and decode one pair at a time, in name order.

    Every name gets its row in ``results``: unpaired and unreadable ones with their problem (counted in
    ``problems``) and no pair yielded.

    Raises:
        FileNotFoundError: a folder does not exist.
    """
    gen_videos, ref_videos = list_videos(config.generated), list_videos(config.reference)
    if config.only is not None:
        keep = set(config.only)
        gen_videos = {k: v for k, v in gen_videos.items() if k in keep}
        ref_videos = {k: v for k, v in ref_videos.items() if k in keep}
    for name in sorted(set(ref_videos) - set(gen_videos)):
        results.append(VideoResult(name=name, problems=["no generated video of this name"]))
        problems["unpaired reference"] += 1
    for name in sorted(set(gen_videos) - set(ref_videos)):
        results.append(VideoResult(name=name, problems=["no reference video of this name"]))
        problems["unpaired generated"] += 1
    for name in tqdm(sorted(set(gen_videos) & set(ref_videos)), desc="float-eval", disable=not progress):
        result = VideoResult(name=name)
        results.append(result)
        pair = _open_pair(name, gen_videos[name], ref_videos[name], config, result, problems)
        if pair is not None:
            yield pair
