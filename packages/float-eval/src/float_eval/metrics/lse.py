"""LSE-D and LSE-C of a run: syncnet_python's pipeline on every generated video with its audio.

Per video: faces on every frame (S3FD as ``run_pipeline.py``, or SCRFD), IoU face tracks
(:func:`float_eval.ops.tracks.iou_tracks`), 224x224 crops per track, SyncNet's offset search per track
(:func:`float_eval.ops.sync.syncnet_lse`); a video's LSE is the mean over its tracks, the run's the mean
over videos.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..nets.faces import FaceDetector
from ..nets.s3fd import S3FD, S3FD_WEIGHTS, load_s3fd
from ..nets.scrfd import SCRFD_WEIGHTS
from ..nets.syncnet import SYNCNET_WEIGHTS, load_syncnet
from ..ops.sync import SAMPLES_PER_FRAME, LSEResult, syncnet_lse
from ..ops.tracks import iou_tracks, syncnet_crops
from .shared import scrfd

if TYPE_CHECKING:
    import torch

    from ..config import EvalConfig
    from ..pair import VideoPair
    from ..resources import Resources

__all__ = ["LSEMetric"]


class LSEMetric:
    """``lse``: two numbers, ``lse_d`` (lower is better) and ``lse_c`` (higher is better).

    Audio: the generated file's track, else ``sources/<name>.wav``, else the reference's (noted). A video
    without audio or without a long enough face track is a reported problem. Stand-ins: ``syncnet`` and
    ``lse_detector`` (else S3FD from ``sfd_face.pth``, or the shared SCRFD with ``face_detector="scrfd"``).
    """

    name = "lse"
    higher_is_better: ClassVar[dict[str, bool]] = {"lse_d": False, "lse_c": True}
    syncnet: torch.nn.Module
    detector: FaceDetector
    device: torch.device

    def __init__(self, config: EvalConfig) -> None:
        self.config = config
        face_weights = SCRFD_WEIGHTS if config.face_detector == "scrfd" else S3FD_WEIGHTS
        self.weights = (face_weights, SYNCNET_WEIGHTS)
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
                    load_s3fd(resources.weight(S3FD_WEIGHTS)),
                    scale=c.lse_facedet_scale,
                    device=resources.device,
                ),
            )
        self.syncnet = resources.shared("syncnet", lambda: load_syncnet(resources.weight(SYNCNET_WEIGHTS)))

    def reset(self) -> None:
        self.per_video: dict[str, list[float]] = {"lse_d": [], "lse_c": []}

    def update(self, pair: VideoPair) -> None:
        audio, origin = pair.audio()
        if origin == "reference":
            pair.note("lse audio: taken from the reference video")
        if audio is None:
            pair.problem(
                "lse: no audio (generated, sources/<name>.wav or reference)", count_as="no audio (lse)"
            )
            return
        scores = self._track_scores(pair, audio)
        if not scores:
            return
        r = pair.result
        r.lse_d = float(np.mean([s.lse_d for s in scores]))
        r.lse_c = float(np.mean([s.lse_c for s in scores]))
        r.lse_offset = scores[0].offset
        self.per_video["lse_d"].append(r.lse_d)
        self.per_video["lse_c"].append(r.lse_c)

    def _track_scores(self, pair: VideoPair, audio: np.ndarray) -> list[LSEResult]:
        c = self.config
        frames = pair.generated
        # syncnet_python detects every frame and keeps every face; tracks are then built by IoU.
        try:
            detections = [[face.box for face in faces] for faces in pair.faces("generated", self.detector)]
        except ValueError as err:  # e.g. frames too small for the detector: reported, the run goes on
            pair.problem(f"lse: {err}", count_as="no face track (lse)")
            return []
        pair.result.frames_without_face["lse"] = sum(not d for d in detections)
        tracks = iou_tracks(
            detections,
            min_track=c.lse_min_track,
            num_failed_det=c.lse_num_failed_det,
            min_face_size=c.lse_min_face_size,
        )
        if not tracks:
            pair.problem(
                f"lse: no face track with more than {c.lse_min_track} detected frames and a face larger "
                f"than {c.lse_min_face_size:g} px",
                count_as="no face track (lse)",
            )
            return []
        scores = []
        for first, boxes in tracks:
            crops = syncnet_crops(frames[first : first + len(boxes)], boxes, crop_scale=c.lse_crop_scale)
            seg_audio = audio[first * SAMPLES_PER_FRAME : (first + len(boxes)) * SAMPLES_PER_FRAME]
            scores.append(
                syncnet_lse(self.syncnet, crops, seg_audio, vshift=c.lse_vshift, device=self.device)
            )
        return scores

    def compute(self) -> dict[str, float | None]:
        """Mean over the videos with a score; None when none had one."""
        return {key: float(np.mean(values)) if values else None for key, values in self.per_video.items()}

    def settings(self) -> dict[str, Any]:
        c, det = self.config, self.detector
        return {
            "network": "SyncNet v2",
            "vshift": c.lse_vshift,
            "min_track": c.lse_min_track,
            "crop_scale": c.lse_crop_scale,
            "face_detector": getattr(det, "name", "custom"),
            "facedet_scale": getattr(det, "scale", None),
            "detection_threshold": getattr(det, "conf_threshold", getattr(det, "score_threshold", None)),
            "tracking": f"IoU > 0.5, <= {c.lse_num_failed_det} missed frames, "
            f"mean face size > {c.lse_min_face_size:g} px",
            "scene_detection": "none (the whole video is one shot)",
            "mfcc": "python_speech_features defaults, 13 x 100 Hz",
        }
