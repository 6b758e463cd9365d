"""Scoring folders of videos: pair by name, normalise to 25 fps / 16 kHz, stream every metric, report.

One video pair is decoded at a time and every metric keeps only running statistics, so memory is bounded by
the longest video, not by the number of videos.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, Field, field_validator
from tqdm import tqdm

from .csim import CSIM, ArcFaceONNX
from .faces import SCRFD, FaceDetector
from .fid import FID, FID_WEIGHTS
from .fvd import FVD, FVD_WEIGHTS, ClipSampling
from .lse import syncnet_lse
from .report import Report, VideoResult
from .s3fd import S3FD, load_s3fd
from .syncnet import load_syncnet
from .threedmm import CoefficientFID, load_lm3d, load_recon_net
from .tracks import iou_tracks, syncnet_crops
from .video import list_videos, read_audio, read_video, resample_fps
from .weights import manifest_entry, resolve_weight

__all__ = ["ALL_METRICS", "Components", "EvalConfig", "check_metric_names", "evaluate", "required_weights"]

ALL_METRICS = ("fid", "fvd", "csim", "efid", "pfid", "lse")


def check_metric_names(names: list[str]) -> list[str]:
    """Return ``names`` unchanged, or raise ``ValueError`` naming the unknown ones and the valid choices."""
    unknown = [m for m in names if m not in ALL_METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; choose from {', '.join(ALL_METRICS)}")
    return names


class EvalConfig(BaseModel):
    """Everything that changes a number; all of it is written into the report."""

    generated: Path
    reference: Path
    sources: Path | None = None
    metrics: list[str] = Field(default_factory=lambda: list(ALL_METRICS))
    # Score only these names (None: every name in either folder); names outside it are not reported.
    only: list[str] | None = None
    weights_dir: Path | None = None
    device: str | None = None
    fps: float = 25.0
    sample_rate: int = 16000
    fvd: ClipSampling = Field(default_factory=ClipSampling)
    lse_vshift: int = 15
    lse_min_track: int = 100
    lse_crop_scale: float = 0.4
    # LSE face tracks: S3FD as syncnet_python (sfd_face.pth) or the SCRFD detector of the other metrics.
    face_detector: Literal["s3fd", "scrfd"] = "s3fd"
    lse_facedet_scale: float = Field(0.25, gt=0)
    lse_min_face_size: float = Field(100.0, ge=0)
    lse_num_failed_det: int = Field(25, ge=0)
    pfid_translation: bool = False
    # False accepts weight files whose digest differs from the manifest; the report lists them.
    check_digests: bool = True

    @field_validator("metrics")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        return check_metric_names(value)


@dataclass
class Components:
    """The networks a run uses; any left as None is built from the weights folder (tests inject stand-ins)."""

    fid_network: torch.nn.Module | None = None
    i3d: torch.nn.Module | None = None
    syncnet: torch.nn.Module | None = None
    arcface: Any = None
    detector: FaceDetector | None = None
    # Face detector of the LSE tracks; None -> S3FD or SCRFD by ``EvalConfig.face_detector``.
    lse_detector: FaceDetector | None = None
    recon_net: torch.nn.Module | None = None
    lm3d: np.ndarray | None = None
    weights_sha256: dict[str, str] = field(default_factory=dict)
    # Files used although their digest differs from the manifest (``EvalConfig.check_digests=False``).
    weights_unverified: list[str] = field(default_factory=list)
    # True when a network holds random or stand-in weights: the report then says its numbers are not metrics.
    random_weights: bool = False
    fid_feature_dim: int = 2048
    fvd_feature_dim: int = 400


def required_weights(config: EvalConfig) -> list[str]:
    """Manifest files a run of ``config`` reads when no network is injected (check them before long work)."""
    need = set(config.metrics)
    names = []
    if "fid" in need:
        names.append(FID_WEIGHTS)
    if "fvd" in need:
        names.append(FVD_WEIGHTS)
    if need & {"csim", "efid", "pfid"} or ("lse" in need and config.face_detector == "scrfd"):
        names.append("det_10g.onnx")
    if "lse" in need and config.face_detector == "s3fd":
        names.append("sfd_face.pth")
    if "csim" in need:
        names.append("w600k_r50.onnx")
    if need & {"efid", "pfid"}:
        names += ["epoch_20.pth", "similarity_Lm3D_all.mat"]
    if "lse" in need:
        names.append("syncnet_v2.model")
    return names


def _unverified(name: str, digest: str) -> bool:
    """True when ``digest`` is not the manifest's (a file accepted with ``check_digests=False``)."""
    entry = manifest_entry(name)
    wrong_digest = entry.sha256 is not None and digest != entry.sha256
    wrong_prefix = entry.sha256_prefix is not None and not digest.startswith(entry.sha256_prefix)
    return wrong_digest or wrong_prefix


def _resolve(config: EvalConfig, c: Components) -> Components:
    need = set(config.metrics)
    wd = config.weights_dir

    def load(name: str) -> Path:
        path, digest = resolve_weight(name, wd, verify=config.check_digests)
        c.weights_sha256[name] = digest
        if _unverified(name, digest):
            c.weights_unverified.append(name)
        return path

    scrfd_for_lse = "lse" in need and c.lse_detector is None and config.face_detector == "scrfd"
    if (need & {"csim", "efid", "pfid"} or scrfd_for_lse) and c.detector is None:
        c.detector = SCRFD(load("det_10g.onnx"))
    if "lse" in need and c.lse_detector is None:
        if config.face_detector == "scrfd":
            c.lse_detector = c.detector
        else:
            device = config.device or ("cuda" if torch.cuda.is_available() else "cpu")
            c.lse_detector = S3FD(
                load_s3fd(load("sfd_face.pth")), scale=config.lse_facedet_scale, device=device
            )
    if "csim" in need and c.arcface is None:
        c.arcface = ArcFaceONNX(load("w600k_r50.onnx"))
    if need & {"efid", "pfid"}:
        if c.recon_net is None:
            c.recon_net = load_recon_net(load("epoch_20.pth"))
        if c.lm3d is None:
            c.lm3d = load_lm3d(load("similarity_Lm3D_all.mat"))
    if "lse" in need and c.syncnet is None:
        c.syncnet = load_syncnet(load("syncnet_v2.model"))
    return c


def _source_image(config: EvalConfig, name: str, reference: torch.Tensor) -> tuple[torch.Tensor, str]:
    from PIL import Image

    if config.sources is not None:
        for suffix in (".png", ".jpg", ".jpeg"):
            path = config.sources / f"{name}{suffix}"
            if path.is_file():
                img = torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1)
                return img, str(path)
    return reference[0], "first reference frame"


def _lse(
    config: EvalConfig,
    c: Components,
    frames: torch.Tensor,
    audio: np.ndarray,
    device: torch.device,
    result: VideoResult,
) -> None:
    assert c.lse_detector is not None and c.syncnet is not None
    # syncnet_python detects every frame and keeps every face; tracks are then built by IoU.
    try:
        detections = [
            [face.box for face in c.lse_detector.detect(frames[t].permute(1, 2, 0).numpy())]
            for t in range(frames.shape[0])
        ]
    except ValueError as err:  # e.g. frames too small for the detector: reported, the run goes on
        result.problems.append(f"lse: {err}")
        return
    result.frames_without_face["lse"] = sum(not d for d in detections)
    tracks = iou_tracks(
        detections,
        min_track=config.lse_min_track,
        num_failed_det=config.lse_num_failed_det,
        min_face_size=config.lse_min_face_size,
    )
    if not tracks:
        result.problems.append(
            f"lse: no face track with more than {config.lse_min_track} detected frames and a face larger "
            f"than {config.lse_min_face_size:g} px"
        )
        return
    scores = []
    for first, track_boxes in tracks:
        seg = frames[first : first + len(track_boxes)]
        crops = syncnet_crops(seg, track_boxes, crop_scale=config.lse_crop_scale)
        seg_audio = audio[first * 640 : (first + len(track_boxes)) * 640]
        scores.append(syncnet_lse(c.syncnet, crops, seg_audio, vshift=config.lse_vshift, device=device))
    result.lse_d = float(np.mean([s.lse_d for s in scores]))
    result.lse_c = float(np.mean([s.lse_c for s in scores]))
    result.lse_offset = scores[0].offset


def evaluate(config: EvalConfig, components: Components | None = None, progress: bool = True) -> Report:
    """Score every generated video that has a reference of the same name; return the report."""
    device = torch.device(config.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    c = _resolve(config, components or Components())
    need = set(config.metrics)
    gen_videos, ref_videos = list_videos(config.generated), list_videos(config.reference)
    if config.only is not None:
        keep = set(config.only)
        gen_videos = {k: v for k, v in gen_videos.items() if k in keep}
        ref_videos = {k: v for k, v in ref_videos.items() if k in keep}
    problems: Counter[str] = Counter()
    results: list[VideoResult] = []
    for name in sorted(set(ref_videos) - set(gen_videos)):
        results.append(VideoResult(name=name, problems=["no generated video of this name"]))
        problems["unpaired reference"] += 1
    for name in sorted(set(gen_videos) - set(ref_videos)):
        results.append(VideoResult(name=name, problems=["no reference video of this name"]))
        problems["unpaired generated"] += 1

    fid = None
    if "fid" in need:
        fid = FID(
            c.fid_network,
            config.weights_dir,
            device=device,
            feature_dim=c.fid_feature_dim,
            verify=config.check_digests,
        )
    fvd = None
    if "fvd" in need:
        fvd = FVD(
            c.i3d,
            config.weights_dir,
            config.fvd,
            device=device,
            feature_dim=c.fvd_feature_dim,
            verify=config.check_digests,
        )
    for name, metric in ((FID_WEIGHTS, fid), (FVD_WEIGHTS, fvd)):
        digest = getattr(metric, "weights_sha256", None)
        if digest is not None:
            c.weights_sha256[name] = digest
            if _unverified(name, digest):
                c.weights_unverified.append(name)
    csim = CSIM(c.arcface, c.detector) if "csim" in need and c.detector is not None else None
    efid = (
        CoefficientFID("expression", c.recon_net, c.lm3d, c.detector, device=device)
        if "efid" in need
        else None
    )
    pfid = (
        CoefficientFID(
            "pose", c.recon_net, c.lm3d, c.detector, with_translation=config.pfid_translation, device=device
        )
        if "pfid" in need
        else None
    )
    for name in tqdm(sorted(set(gen_videos) & set(ref_videos)), desc="float-eval", disable=not progress):
        r = VideoResult(name=name)
        results.append(r)
        try:
            gen, ref = read_video(gen_videos[name], config.fps), read_video(ref_videos[name], config.fps)
        except Exception as err:  # a broken file is reported and counted, the run goes on
            r.problems.append(f"unreadable: {err}")
            problems["unreadable"] += 1
            continue
        if abs(gen.fps - ref.fps) > 1e-3:
            r.problems.append(f"frame rates differ: generated {gen.fps:g} fps, reference {ref.fps:g} fps")
            problems["mismatched frame rate"] += 1
        for label, v in (("generated", gen), ("reference", ref)):
            if v.fps_assumed:
                r.notes.append(f"{label} is a frame folder: {config.fps:g} fps assumed")
            elif abs(v.fps - config.fps) > 1e-3:
                r.notes.append(f"{label} resampled from {v.fps:g} to {config.fps:g} fps")
        g = resample_fps(gen.frames, gen.fps, config.fps)
        f = resample_fps(ref.frames, ref.fps, config.fps)
        r.frames_generated, r.frames_reference = g.shape[0], f.shape[0]
        if fid is not None:
            fid.update(g, real=False)
            fid.update(f, real=True)
        if fvd is not None:
            for label, frames, real in (("generated", g, False), ("reference", f, True)):
                if frames.shape[0] < config.fvd.span:
                    r.problems.append(
                        f"fvd: {label} has {frames.shape[0]} frames, shorter than {config.fvd.span}"
                    )
                    problems["too short for fvd"] += 1
                    continue
                feats = fvd.features(frames)
                fvd.update_features(feats, real=real)
                if real:
                    r.fvd_clips_reference = feats.shape[0]
                else:
                    r.fvd_clips_generated = feats.shape[0]
        if csim is not None:
            source, where = _source_image(config, name, f)
            r.notes.append(f"csim source: {where}")
            try:
                res = csim.update(source, g)
                r.csim = res.csim
                r.frames_without_face["csim"] = res.frames_without_face
                if res.csim is None:
                    r.problems.append("csim: no face in any generated frame")
                    problems["no face (csim)"] += 1
            except ValueError as err:
                r.problems.append(f"csim: {err}")
                problems["no face in source (csim)"] += 1
        for metric, label in ((efid, "efid"), (pfid, "pfid")):
            if metric is None:
                continue
            for side, frames, real in (("generated", g, False), ("reference", f, True)):
                coeffs, missing = metric.coefficients(frames)
                r.frames_without_face[f"{label}_{side}"] = len(missing)
                if coeffs.shape[0]:
                    metric.update(coeffs, real=real)
                else:
                    r.problems.append(f"{label}: no face in any {side} frame")
                    problems[f"no face ({label})"] += 1
        if "lse" in need:
            audio = read_audio(gen.path, config.sample_rate)
            if audio is None and config.sources is not None:
                wav = config.sources / f"{name}.wav"
                audio = read_audio(wav, config.sample_rate) if wav.is_file() else None
            if audio is None:
                audio = read_audio(ref.path, config.sample_rate)
                if audio is not None:
                    r.notes.append("lse audio: taken from the reference video")
            if audio is None:
                r.problems.append("lse: no audio (generated, sources/<name>.wav or reference)")
                problems["no audio (lse)"] += 1
            else:
                _lse(config, c, g, audio, device, r)
                if r.lse_d is None:
                    problems["no face track (lse)"] += 1
        for key, n in r.frames_without_face.items():
            if n:
                problems[f"frames without face ({key})"] += n

    aggregate: dict[str, float | None] = {}
    settings: dict[str, Any] = {
        "run": config.model_dump(mode="json"),
        "weights_sha256": dict(c.weights_sha256),
        "weights_unverified": list(c.weights_unverified),
    }
    for key, metric in (("fid", fid), ("fvd", fvd), ("efid", efid), ("pfid", pfid)):
        if metric is None:
            continue
        try:
            aggregate[key] = metric.compute()
        except ValueError as err:
            aggregate[key] = None
            problems[f"{key} not computed: {err}"] += 1
        settings[key] = metric.settings()
    if csim is not None:
        scored = [v.csim for v in results if v.csim is not None]
        aggregate["csim"] = float(np.mean(scored)) if scored else None
        settings["csim"] = {
            "backbone": "ArcFace (ONNX Runtime)",
            "alignment": "5-point similarity to 112x112 template",
            "source": "sources/<name>.png|jpg, else first reference frame",
            "pooling": "mean over frames, then videos",
        }
    if "lse" in need:
        for key in ("lse_d", "lse_c"):
            vals = [getattr(v, key) for v in results if getattr(v, key) is not None]
            aggregate[key] = float(np.mean(vals)) if vals else None
        settings["lse"] = {
            "network": "SyncNet v2",
            "vshift": config.lse_vshift,
            "min_track": config.lse_min_track,
            "crop_scale": config.lse_crop_scale,
            "face_detector": getattr(c.lse_detector, "name", "custom"),
            "facedet_scale": getattr(c.lse_detector, "scale", None),
            "detection_threshold": getattr(
                c.lse_detector, "conf_threshold", getattr(c.lse_detector, "score_threshold", None)
            ),
            "tracking": f"IoU > 0.5, <= {config.lse_num_failed_det} missed frames, "
            f"mean face size > {config.lse_min_face_size:g} px",
            "scene_detection": "none (the whole video is one shot)",
            "mfcc": "python_speech_features defaults, 13 x 100 Hz",
        }
    return Report(
        aggregate=aggregate,
        per_video=results,
        problem_counts=dict(problems),
        settings=settings,
        random_weights=c.random_weights,
    )
