"""LSE-D and LSE-C of a run: syncnet_python's pipeline on every generated video with its audio.

Per video: faces on every frame (S3FD as ``run_pipeline.py``, or SCRFD), IoU face tracks
(:func:`float_eval.ops.tracks.iou_tracks`), 224x224 crops per track, SyncNet's offset search per track
(:func:`float_eval.ops.sync.syncnet_lse`); a video's LSE is the mean over its tracks, the run's the mean
over videos.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from ..nets.faces import FaceDetector
from ..nets.s3fd import S3FD, S3FD_WEIGHTS, load_s3fd
from ..nets.scrfd import SCRFD_WEIGHTS
from ..nets.syncnet import SYNCNET_WEIGHTS, load_syncnet
from ..ops.sync import SAMPLES_PER_FRAME, LSEResult, SyncEmbedder, syncnet_lse_stream
from ..ops.tracks import crop_frames, crop_geometry, iou_tracks
from .shared import scrfd

if TYPE_CHECKING:
    from ..config import EvalConfig
    from ..pair import Plan, VideoPair
    from ..resources import Resources

__all__ = ["LSEMetric"]


class _DetectionFeed:
    """The generated frames through the LSE detector (shared with other consumers of the pass); a detector
    that refuses the frames (too small) is remembered, not raised, so that the other metrics go on."""

    def __init__(self, pair: VideoPair, detector: FaceDetector) -> None:
        self.pair, self.detector, self.done = pair, detector, False
        self.error: str | None = None

    def push(self, frames: torch.Tensor, start: int) -> None:
        if self.error is None:
            try:
                self.pair.faces_in("generated", self.detector, frames, start)
            except ValueError as err:
                self.error = str(err)

    def close(self) -> None:
        self.done = True


class LSEMetric:
    """``lse``: two numbers, ``lse_d`` (lower is better) and ``lse_c`` (higher is better).

    Audio: the generated file's track, else ``sources/<name>.wav``, else the reference's (noted). A video
    without audio or without a long enough face track is a reported problem, with the reason and the option
    that decides it. Stand-ins: ``syncnet`` and ``lse_detector`` (else S3FD from ``sfd_face.pth``, or the
    shared SCRFD with ``face_detector="scrfd"``).
    """

    name = "lse"
    higher_is_better: ClassVar[dict[str, bool]] = {"lse_d": False, "lse_c": True}
    syncnet: SyncEmbedder
    detector: FaceDetector
    device: torch.device

    def __init__(self, config: EvalConfig) -> None:
        self.config = config
        face_weights = SCRFD_WEIGHTS if config.face_detector == "scrfd" else S3FD_WEIGHTS
        self.weights = (face_weights, SYNCNET_WEIGHTS)
        self.detector_settings: dict[str, Any] = {}
        self.reset()

    def setup(self, resources: Resources) -> None:
        c = self.config
        self.device = resources.device
        if "lse_detector" in resources.components:
            self.detector = resources.components["lse_detector"]
        elif c.face_detector == "scrfd":
            self.detector = scrfd(resources)
        else:
            self.detector = resources.shared(
                "s3fd",
                lambda: S3FD(
                    resources.load(S3FD_WEIGHTS, load_s3fd),
                    scale=c.lse_facedet_scale,
                    device=resources.device,
                ),
            )
        self.syncnet = resources.shared("syncnet", lambda: resources.load(SYNCNET_WEIGHTS, load_syncnet))
        det = self.detector
        self.detector_settings = {
            "face_detector": getattr(det, "name", "custom"),
            "facedet_scale": getattr(det, "scale", None),
            "detection_threshold": getattr(det, "conf_threshold", getattr(det, "score_threshold", None)),
        }

    def reset(self) -> None:
        self.per_video: dict[str, tuple[float, float]] = {}

    def frame_consumers(self, pair: VideoPair) -> Plan:
        """The generated frames' detections (``evaluate`` shares the pass; the crops take a second one)."""
        return pair.plan(self, lambda: self._plan(pair))

    def _plan(self, pair: VideoPair) -> Plan:
        return {"generated": [_DetectionFeed(pair, self.detector)]}

    def update(self, pair: VideoPair) -> None:
        feed = pair.consume(self, lambda: self._plan(pair))["generated"][0]
        assert isinstance(feed, _DetectionFeed)
        audio, origin = pair.audio()
        if origin == "reference":
            pair.note("lse audio: taken from the reference video")
        if audio is None:
            pair.problem(
                "lse: no audio (generated, sources/<name>.wav or reference)", count_as="no audio (lse)"
            )
            return
        if feed.error is not None:  # frames too small for the detector: reported, the run goes on
            pair.problem(f"lse: {feed.error}", count_as="frames too small for the face detector (lse)")
            return
        scores = self._track_scores(pair, audio)
        if not scores:
            return
        r = pair.result
        r.lse_d = float(np.mean([s.lse_d for s in scores]))
        r.lse_c = float(np.mean([s.lse_c for s in scores]))
        r.lse_offset = scores[0].offset
        self.per_video[pair.name] = (r.lse_d, r.lse_c)

    def _no_track(self, pair: VideoPair, detections: list[list[np.ndarray]]) -> None:
        """Say why no face track qualified, and which option decides it."""
        c = self.config
        frames = len(detections)
        if frames <= c.lse_min_track:
            pair.problem(
                f"lse: {frames} frames ({frames / c.fps:g} s); a face track needs more than "
                f"{c.lse_min_track} detected frames (--lse-min-track {c.lse_min_track}, syncnet_python's "
                "default 100): lower it to score short clips",
                count_as="too short for lse (--lse-min-track)",
            )
            return
        if not any(detections):
            pair.problem(
                f"lse: no face detected in any frame (detector {self.detector_settings['face_detector']})",
                count_as="no face (lse)",
            )
            return
        loose = iou_tracks(
            detections, min_track=c.lse_min_track, num_failed_det=c.lse_num_failed_det, min_face_size=0
        )
        if loose:
            size = max(float(np.mean(np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]))) for _, b in loose)
            pair.problem(
                f"lse: no face track with more than {c.lse_min_track} detected frames and a face larger "
                f"than {c.lse_min_face_size:g} px (the largest track's faces are {size:.0f} px: "
                "--lse-min-face-size)",
                count_as="no face track (lse)",
            )
            return
        pair.problem(
            f"lse: no face track with more than {c.lse_min_track} detected frames (faces are found in "
            f"{sum(bool(d) for d in detections)} of {frames} frames; a track breaks after "
            f"{c.lse_num_failed_det} frames without its face: --lse-min-track)",
            count_as="no face track (lse)",
        )

    def _track_scores(self, pair: VideoPair, audio: np.ndarray) -> list[LSEResult]:
        c = self.config
        # syncnet_python detects every frame and keeps every face; tracks are then built by IoU.
        found = pair.faces("generated", self.detector)
        detections = [[face.box for face in faces] for faces in found]
        pair.result.frames_without_face["lse"] = sum(not d for d in detections)
        tracks = iou_tracks(
            detections,
            min_track=c.lse_min_track,
            num_failed_det=c.lse_num_failed_det,
            min_face_size=c.lse_min_face_size,
        )
        if not tracks:
            self._no_track(pair, detections)
            return []
        scores = []
        for first, boxes in tracks:
            seg_audio = audio[first * SAMPLES_PER_FRAME : (first + len(boxes)) * SAMPLES_PER_FRAME]
            crops = self._track_crops(pair, first, crop_geometry(boxes))
            scores.append(
                syncnet_lse_stream(
                    self.syncnet, crops, len(boxes), seg_audio, vshift=c.lse_vshift, device=self.device
                )
            )
        return scores

    def _track_crops(self, pair: VideoPair, first: int, geometry: np.ndarray) -> Iterator[torch.Tensor]:
        """The 224x224 crops of the track's frames first .. first + L - 1, one frame batch at a time."""
        t = 0
        last = first + len(geometry)
        for batch in pair.batches("generated", desc="lse crops"):
            lo, hi = max(first, t), min(last, t + batch.shape[0])
            if lo < hi:
                yield crop_frames(
                    batch[lo - t : hi - t], geometry[lo - first : hi - first], self.config.lse_crop_scale
                )
            t += batch.shape[0]
            if t >= last:
                return

    def compute(self) -> dict[str, float | None]:
        """Mean over the videos with a score (in name order); None when none had one."""
        values = [self.per_video[name] for name in sorted(self.per_video)]
        return {
            "lse_d": float(np.mean([v[0] for v in values])) if values else None,
            "lse_c": float(np.mean([v[1] for v in values])) if values else None,
        }

    def settings(self) -> dict[str, Any]:
        c = self.config
        return {
            "network": "SyncNet v2",
            "vshift": c.lse_vshift,
            "min_track": c.lse_min_track,
            "crop_scale": c.lse_crop_scale,
            **self.detector_settings,
            "tracking": f"IoU > 0.5, <= {c.lse_num_failed_det} missed frames, "
            f"mean face size > {c.lse_min_face_size:g} px",
            "scene_detection": "none (the whole video is one shot)",
            "mfcc": "python_speech_features defaults, 13 x 100 Hz",
        }

    def state(self) -> dict[str, Any]:
        """Every scored video's (LSE-D, LSE-C) by name, and the detector that made the tracks."""
        return {
            "per_video": {k: list(v) for k, v in self.per_video.items()},
            "detector": self.detector_settings,
        }

    def merge_state(self, state: dict[str, Any]) -> None:
        """Add a shard's per-video scores."""
        self.per_video.update({k: (float(v[0]), float(v[1])) for k, v in state["per_video"].items()})
        self.detector_settings = dict(state["detector"])
