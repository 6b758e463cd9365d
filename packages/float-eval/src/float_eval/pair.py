"""Video pairs: a generated video and its reference, streamed in frame batches to every metric.

A pair holds both sides as :class:`~float_eval.frames.FrameSource` (decoded batch by batch at the run's frame
rate, never whole) and computes, on first use and once for all metrics, what several of them need: the audio
for lip sync, the source portrait, face detections (by detector, so CSIM, E-FID and P-FID sharing one SCRFD
detect each frame once) and anything else a metric shares through :meth:`VideoPair.cached`. Memory is a
frame batch plus per-frame detections, whatever the video's length.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterator
from typing import Any, Literal, Protocol, TypeVar

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from .config import EvalConfig
from .frames import FrameSource
from .nets.faces import Face, FaceDetector, FrameFaces
from .pairing import PlannedRow
from .report import VideoResult
from .video import read_audio

__all__ = ["SIDES", "FrameConsumer", "Plan", "Side", "VideoPair", "open_pair", "video_pairs"]

Side = Literal["generated", "reference"]
SIDES: tuple[Side, Side] = ("generated", "reference")
T = TypeVar("T")


class FrameConsumer(Protocol):
    """Something fed one side's frames in order during a pass (:meth:`VideoPair.run_pass`)."""

    done: bool

    def push(self, frames: torch.Tensor, start: int) -> None:
        """Frames ``start .. start + B - 1`` as [B, 3, H, W] uint8 RGB."""
        ...

    def close(self) -> None:
        """The side has ended: flush what is buffered and set ``done``."""
        ...


Plan = dict[Side, list[FrameConsumer]]


class VideoPair:
    """One generated video and its reference, as every metric's ``update`` receives them.

    Attributes:
        name: the name of the pair (the reference's file stem or frame-folder name).
        generated_source, reference_source: the two sides on disk (:class:`~float_eval.frames.FrameSource`).
        generated_path, reference_path: where they are read.
        config: the run's settings (``sources`` folder, ``sample_rate``, ``batch_frames``, ...).
        result: this video's row of the report; metrics write their per-video values into it (built-ins into
            its fields, others into ``result.scores``), and notes and problems through :meth:`note` and
            :meth:`problem`.

    Frames come in batches (:meth:`batches`); :attr:`generated` and :attr:`reference` decode a whole side
    at once for metrics that need it, at a memory cost that grows with the video.
    """

    def __init__(
        self,
        name: str,
        generated: FrameSource,
        reference: FrameSource,
        config: EvalConfig,
        result: VideoResult,
        problems: Counter[str],
        progress: bool = False,
    ) -> None:
        self.name = name
        self.config = config
        self.result = result
        self.generated_source, self.reference_source = generated, reference
        self.generated_path, self.reference_path = generated.path, reference.path
        self.progress = progress
        self._problems = problems
        self._cache: dict[Hashable, Any] = {}
        result.size_generated, result.size_reference = list(generated.size), list(reference.size)

    def source(self, side: Side) -> FrameSource:
        """The ``generated`` or ``reference`` side on disk."""
        return self.generated_source if side == "generated" else self.reference_source

    def batches(self, side: Side, batch_size: int | None = None, desc: str = "") -> Iterator[torch.Tensor]:
        """One side's frames at ``config.fps``, in order, as [B, 3, H, W] uint8 RGB (B = ``batch_size``,
        default ``config.batch_frames``; the last batch may be shorter). Each call decodes again.

        ``desc`` labels the per-frame progress bar (shown when the run shows progress).
        """
        source = self.source(side)
        size = batch_size or self.config.batch_frames
        bar = tqdm(
            total=source.expected_frames,
            desc=f"  {self.name} {side}{' ' + desc if desc else ''}",
            unit="frame",
            leave=False,
            disable=not self.progress,
        )
        with bar:
            for batch in source.batches(size):
                bar.update(batch.shape[0])
                yield batch

    def num_frames(self, side: Side) -> int:
        """Frames of one side at ``config.fps`` (counted by decoding if no pass has yet)."""
        return self.source(side).count()

    def frames(self, side: Side) -> torch.Tensor:
        """The whole of one side [T, 3, H, W] uint8, decoded once per pair (memory grows with T)."""
        return self.cached(("all frames", side), self.source(side).read_all)

    @property
    def generated(self) -> torch.Tensor:
        """All generated frames [T, 3, H, W] uint8 (see :meth:`frames`; streaming metrics use
        :meth:`batches`)."""
        return self.frames("generated")

    @property
    def reference(self) -> torch.Tensor:
        """All reference frames [T, 3, H, W] uint8 (see :meth:`frames`)."""
        return self.frames("reference")

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

    def faces(self, side: Side, detector: FaceDetector) -> FrameFaces:
        """``detector``'s faces in every frame of one side (``faces[t]``: best first), detected once per
        detector and side, in the pass that first needs them, and kept compact.

        Raises:
            ValueError: whatever the detector raises (e.g. frames too small for it).
        """
        found = self._faces(side, detector)
        if not found.complete:
            if len(found):  # an earlier pass stopped detecting (the detector refused a frame): start again
                found = self._cache[("faces", side, id(detector))] = FrameFaces()
            for start, batch in self._numbered(side, f"faces ({getattr(detector, 'name', 'detector')})"):
                self.faces_in(side, detector, batch, start)
            found.freeze()
        return found

    def faces_in(
        self, side: Side, detector: FaceDetector, frames: torch.Tensor, start: int
    ) -> list[list[Face]]:
        """Faces of frames ``start .. start + B - 1`` (given as [B, 3, H, W]) of a pass, detecting those not
        detected yet: every consumer of a pass shares one detection per frame and detector."""
        found = self._faces(side, detector)
        if start > len(found):
            raise RuntimeError(f"faces of frame {len(found)} were skipped (asked for {start})")
        for t in range(len(found) - start, frames.shape[0]):
            found.append(detector.detect(frames[t].permute(1, 2, 0).numpy()))
        return found[start : start + frames.shape[0]]

    def _faces(self, side: Side, detector: FaceDetector) -> FrameFaces:
        return self.cached(("faces", side, id(detector)), FrameFaces)

    def _numbered(self, side: Side, desc: str = "") -> Iterator[tuple[int, torch.Tensor]]:
        start = 0
        for batch in self.batches(side, desc=desc):
            yield start, batch
            start += batch.shape[0]

    def run_pass(self, side: Side, consumers: list[FrameConsumer], desc: str = "") -> None:
        """Decode one side once and feed every batch to each consumer not yet done (each object once)."""
        todo = list({id(c): c for c in consumers if not c.done}.values())
        if not todo:
            return
        total = 0
        for start, batch in self._numbered(side, desc):
            for consumer in todo:
                consumer.push(batch, start)
            total = start + batch.shape[0]
        for consumer in todo:
            consumer.close()
        for key, value in list(self._cache.items()):
            if (
                isinstance(value, FrameFaces)
                and isinstance(key, tuple)
                and key[1] == side
                and not value.complete
                and len(value) == total
            ):
                value.freeze()  # a consumer detected every frame of the side

    def plan(self, owner: object, build: Callable[[], Plan]) -> Plan:
        """``owner``'s consumers for this pair, built once (``evaluate`` runs them all in one pass a side)."""
        return self.cached(("plan", id(owner)), build)

    def consume(self, owner: object, build: Callable[[], Plan]) -> Plan:
        """``owner``'s consumers after they have seen every frame: run now any pass not run yet."""
        plan = self.plan(owner, build)
        for side, consumers in plan.items():
            self.run_pass(side, consumers, desc=getattr(owner, "name", ""))
        return plan

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
        first = next(self.reference_source.frames())
        return first, "first reference frame"

    def count_faceless_frames(self) -> None:
        """Add this video's frames without a face (per metric and side) to ``problem_counts``."""
        for key, n in self.result.frames_without_face.items():
            if n:
                self._problems[f"frames without face ({key})"] += n

    def finish(self) -> None:
        """Record both sides' frame counts and report a frame-count or resolution mismatch (after metrics)."""
        r = self.result
        r.frames_generated, r.frames_reference = self.num_frames("generated"), self.num_frames("reference")
        if r.frames_generated != r.frames_reference:
            self.problem(
                f"frame counts differ: generated {r.frames_generated}, reference {r.frames_reference} "
                f"(at {self.config.fps:g} fps)",
                count_as="mismatched frame count",
            )
        if r.size_generated != r.size_reference:
            (gh, gw), (rh, rw) = r.size_generated or (0, 0), r.size_reference or (0, 0)
            self.problem(
                f"resolutions differ: generated {gw}x{gh}, reference {rw}x{rh}",
                count_as="mismatched resolution",
            )
        self.count_faceless_frames()
        self._cache.clear()


def open_pair(
    row: PlannedRow, config: EvalConfig, result: VideoResult, problems: Counter[str], progress: bool = False
) -> VideoPair | None:
    """The pair of a planned row, or None (the problem reported and counted) when a side cannot be read."""
    assert row.generated is not None and row.reference is not None
    try:
        gen = FrameSource(row.generated, config.fps, config.fps)
        ref = FrameSource(row.reference, config.fps, config.fps)
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
    return VideoPair(row.name, gen, ref, config, result, problems, progress)


def video_pairs(
    config: EvalConfig,
    rows: list[PlannedRow],
    results: list[VideoResult],
    problems: Counter[str],
    progress: bool = True,
) -> Iterator[VideoPair]:
    """Open the planned rows' pairs one at a time, in order; every row gets its entry in ``results``.

    Unpaired and unreadable rows get their problem (counted in ``problems``) and no pair is yielded.
    """
    paired = sum(row.paired for row in rows)
    with tqdm(total=paired, desc="float-eval", unit="video", disable=not progress) as bar:
        for row in rows:
            if not row.paired:
                results.append(VideoResult(name=row.name, problems=[row.problem or "unpaired"]))
                problems[row.count_as or "unpaired"] += 1
                continue
            result = VideoResult(name=row.name)
            if row.generated_name is not None and row.generated_name != row.name:
                result.generated_name = row.generated_name
            results.append(result)
            pair = open_pair(row, config, result, problems, progress)
            if pair is not None:
                yield pair
            bar.update(1)
