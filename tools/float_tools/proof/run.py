"""``python -m float_tools.proof.run``: does a bundle's generated mouth follow held-out speech? Prints a
table + JSON.

    uv run python -m float_tools.proof.run --bundle BUNDLE --corpus HELDOUT_CORPUS [--clips 12] [--out
    report.json]

For each of the first ``--clips`` clips of a corpus built by ``python -m float_tools.corpus.build`` it
animates the clip's
frame 0 with (a) the clip's own audio and (b) the audio of another clip (a seeded derangement: the shuffled
baseline), measures the mouth opening of every generated frame with dlib (:mod:`float_tools.proof.lipsync`),
and
correlates it with the clip's ground-truth ``mouth_open`` track, on the whole clip and on its speech part
only. It also scores the auto-encoder: PSNR of reconstructing held-out frames of the clip from its frame 0, on
the crop ``float-data prepare --track-mode fixed`` gives the clip (how the training clips were cropped), and,
reported beside it, on the crop float-generate makes of frame 0 as a portrait (the bundle's crop settings).
Exit status 1 when a threshold is missed, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from tqdm import tqdm

from float_data import (
    CropBox,
    FaceDetector,
    PrepareConfig,
    crop_face,
    crop_track,
    detect_faces,
    follow_face,
    interpolate_boxes,
    read_video,
    to_model_tensor,
)
from float_motion_ae import MotionAutoEncoder
from float_pipeline import GenerateError, Pipeline, cached_detector, crop_reflected, face_box, load_bundle
from float_tools.proof.lipsync import MouthMeter
from float_tools.proof.measure import pearson, psnr, shuffled_pairs, speech_mask


class Thresholds(BaseModel):
    """The issue's gates (means over the clips)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_r: float = Field(0.6, description="mean Pearson r, true audio, whole clip")
    min_gap: float = Field(0.4, description="mean r(true audio) - r(shuffled audio), whole clip")
    min_psnr: float = Field(28.0, description="mean auto-encoder reconstruction PSNR on held-out frames, dB")


# The per-clip scores whose means the report gives (plus the gaps).
AVERAGED_SCORES = (
    "r_true",
    "r_shuffled",
    "r_true_speech",
    "r_shuffled_speech",
    "ae_psnr",
    "ae_copy_psnr",
    "ae_self_psnr",
    "ae_psnr_pipeline_crop",
)


class ClipScore(BaseModel):
    """Scores of one clip (r values are NaN-free floats or None when undefined)."""

    video: str
    shuffled_audio_from: str
    n_frames: int
    r_true: float | None
    r_shuffled: float | None
    r_true_speech: float | None
    r_shuffled_speech: float | None
    ae_psnr: float = Field(description="on the clip's float-data prepare crop (the gated figure)")
    ae_copy_psnr: float
    ae_self_psnr: float = Field(
        description="each held-out frame reconstructed from itself on the prepared crop: the renderer's "
        "ceiling without motion transfer (ae_psnr far below it means the motion does not transfer)"
    )
    ae_psnr_pipeline_crop: float = Field(description="on float-generate's portrait crop of frame 0")
    missed_detections: int


def _finite(value: float) -> float | None:
    return None if not np.isfinite(value) else float(value)


def _r(measured: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> float:
    n = min(len(measured), len(truth))
    m, t = measured[:n], truth[:n]
    keep = np.isfinite(m)
    if mask is not None:
        keep &= mask[:n]
    return pearson(m[keep], t[keep])


def _mean(values: list[float | None]) -> float | None:
    finite = [v for v in values if v is not None]
    return float(np.mean(finite)) if finite else None


@torch.no_grad()
def prepared_crop(frames: np.ndarray, detector: FaceDetector) -> CropBox:
    """The crop ``float-data prepare --track-mode fixed`` (its default detection settings) gives a clip.

    Every ``detect_every``-th frame is detected at ``detect_height`` rows, the face followed and interpolated,
    and one fixed crop made from the median face box: the protocol of the auto-encoder's training clips.
    A single frame's dlib box is quantised to its 1.2x image pyramid (on the 128 px corpus: 53, 63.6 or
    76.4 px sides), so frame 0 alone can zoom the crop by 20% against the training crops.
    """
    config = PrepareConfig(track_mode="fixed")
    sampled = range(0, len(frames), config.detect_every)
    chosen = follow_face([detect_faces(detector, frames[k], config.detect_height) for k in sampled])
    found = {k: box for k, box in zip(sampled, chosen, strict=True) if box is not None}
    if not found:
        raise ValueError("the dlib detector finds no face in the sampled frames of a corpus clip")
    return crop_track(interpolate_boxes(found, len(frames)), config.crop_scale, "fixed")[0]


def _clip_crops(frames: np.ndarray, box: CropBox, size: int, every: int, crop=crop_face) -> torch.Tensor:
    """Frames 0, every, 2 * every, ... cropped to ``box`` at ``size`` by ``crop`` (black past the border, as
    float-data prepares clips, or ``crop_reflected``, as the Pipeline cuts a portrait): [N, 3, size, size] in
    [-1, 1]."""
    return to_model_tensor(np.stack([crop(f, box, size) for f in frames[::every]]))


@torch.no_grad()
def reconstructions(model: MotionAutoEncoder, sources: torch.Tensor, driving: torch.Tensor) -> torch.Tensor:
    """``driving`` [N, 3, S, S] reconstructed from ``sources`` (one frame [1, 3, S, S] for all, or one per
    driving frame [N, 3, S, S]), 16 frames per batch: float32 [N, 3, S, S] on the CPU."""
    weight = next(model.parameters())
    chunks = []
    for s in range(0, len(driving), 16):
        source = sources if len(sources) == 1 else sources[s : s + 16]
        chunks.append(model.reconstruct(source.to(weight), driving[s : s + 16].to(weight)).float().cpu())
    return torch.cat(chunks)


def _from_frame0_psnr(model: MotionAutoEncoder, crops: torch.Tensor) -> tuple[float, float]:
    """Mean dB of crops[1:] reconstructed from crops[0], and of just copying crops[0]."""
    source, driving = crops[:1], crops[1:]
    recon = reconstructions(model, source, driving)
    return psnr(recon, driving).mean().item(), psnr(source.expand_as(driving), driving).mean().item()


def _self_psnr(model: MotionAutoEncoder, crops: torch.Tensor) -> float:
    """Mean dB of crops[1:] each reconstructed from itself (the renderer's ceiling: no motion to transfer)."""
    frames = crops[1:]
    return psnr(reconstructions(model, frames, frames), frames).mean().item()


def ae_psnr(pipe: Pipeline, frames: np.ndarray, every: int = 4) -> tuple[float, float, float, float]:
    """Mean PSNR (dB) of reconstructing frames ``every``, ``2 * every``, ... of a clip from its frame 0
    through the auto-encoder at the bundle resolution: ``(on the prepared crop, copying frame 0 there, each
    frame from itself there, on the portrait crop)``. The prepared crop is :func:`prepared_crop`; the
    portrait crop is what float-generate cuts from frame 0 (``float_pipeline.face_box`` with the
    bundle's defaults)."""
    detector = cached_detector("dlib", None)  # the one face_box uses: built once per process
    size, model, defaults = pipe.bundle.resolution, pipe.bundle.motion_ae, pipe.bundle.manifest.defaults
    prepared = _clip_crops(frames, prepared_crop(frames, detector), size, every)
    from_frame0, copy = _from_frame0_psnr(model, prepared)
    portrait = face_box(frames[0], scale=defaults.crop_scale, phases=defaults.crop_phases, source="frame 0")
    portrait_psnr = _from_frame0_psnr(model, _clip_crops(frames, portrait, size, every, crop_reflected))[0]
    return from_frame0, copy, _self_psnr(model, prepared), portrait_psnr


def run_proof(
    bundle: str | Path | None,
    corpus: Path,
    clips: int,
    *,
    seed: int = 0,
    shuffle_seed: int = 0,
    steps: int | None = None,
    detect_size: int = 256,
    log=print,
) -> dict:
    """Score a bundle on a corpus; returns the report (see :class:`ClipScore` for the per-clip fields)."""
    manifest_file = corpus / "manifest.json"
    if not manifest_file.is_file():
        raise FileNotFoundError(
            f"{manifest_file} is missing: build the held-out corpus with "
            f"`python -m float_tools.corpus.build ... --out {corpus}`"
        )
    entries = json.loads(manifest_file.read_text())["clips"][:clips]
    if len(entries) < 2:
        raise ValueError(f"{corpus} has {len(entries)} clip(s); the shuffled baseline needs at least 2")
    started = time.time()
    pipe = Pipeline(load_bundle(bundle), progress=False)
    meter = MouthMeter(detect_size)
    partners = shuffled_pairs(len(entries), shuffle_seed)
    options = {"seed": seed, "steps": steps}
    scores: list[ClipScore] = []
    skipped: list[str] = []
    for i, entry in enumerate(tqdm(entries, desc="proof clips", unit="clip")):
        video = corpus / entry["video"]
        truth_doc = json.loads((corpus / entry["ground_truth"]).read_text())
        truth = np.asarray(truth_doc["tracks"]["mouth_open"], dtype=np.float64)
        mask = speech_mask(len(truth), tuple(truth_doc["speech_frames"]))
        frames = read_video(video)
        source = frames[0]
        partner = corpus / entries[partners[i]]["video"]
        try:
            true_mouth, missed_true = meter.measure(pipe.frames(source, video, **options))
            shuffled_mouth, missed_shuffled = meter.measure(pipe.frames(source, partner, **options))
            psnr_ae, psnr_copy, psnr_self, psnr_portrait = ae_psnr(pipe, frames)
        except (GenerateError, ValueError) as error:
            # A face the detector misses in one clip (its frame 0, or every sampled frame) is that clip's
            # problem: it is counted and reported, and the other clips are still scored.
            skipped.append(f"{entry['video']}: {error}")
            continue
        score = ClipScore(
            video=entry["video"],
            shuffled_audio_from=entries[partners[i]]["video"],
            n_frames=len(truth),
            r_true=_finite(_r(true_mouth, truth)),
            r_shuffled=_finite(_r(shuffled_mouth, truth)),
            r_true_speech=_finite(_r(true_mouth, truth, mask)),
            r_shuffled_speech=_finite(_r(shuffled_mouth, truth, mask)),
            ae_psnr=psnr_ae,
            ae_copy_psnr=psnr_copy,
            ae_self_psnr=psnr_self,
            ae_psnr_pipeline_crop=psnr_portrait,
            missed_detections=missed_true + missed_shuffled,
        )
        scores.append(score)
    if not scores:
        raise ValueError(f"no clip of {corpus} could be scored: {skipped[0]}")
    summary = {key: _mean([getattr(s, key) for s in scores]) for key in AVERAGED_SCORES}
    summary["gap"] = _mean(
        [None if s.r_true is None or s.r_shuffled is None else s.r_true - s.r_shuffled for s in scores]
    )
    summary["gap_speech"] = _mean(
        [
            None
            if s.r_true_speech is None or s.r_shuffled_speech is None
            else s.r_true_speech - s.r_shuffled_speech
            for s in scores
        ]
    )
    return {
        "bundle": str(pipe.bundle.path),
        "corpus": str(corpus),
        "clips": [s.model_dump() for s in scores],
        "skipped": skipped,
        "mean": summary,
        "settings": {"seed": seed, "shuffle_seed": shuffle_seed, "steps": steps, "detect_size": detect_size},
        "detector": "dlib HOG frontal face + 68-point shape predictor (float_data.DlibDetector), "
        "float_data.mouth_aperture",
        "seconds": time.time() - started,
    }


def check(report: dict, thresholds: Thresholds) -> dict[str, bool]:
    """Which gates pass (a missing value fails)."""
    mean = report["mean"]

    def at_least(value: float | None, bound: float) -> bool:
        return value is not None and value >= bound

    return {
        f"r_true >= {thresholds.min_r}": at_least(mean["r_true"], thresholds.min_r),
        f"r_true - r_shuffled >= {thresholds.min_gap}": at_least(mean["gap"], thresholds.min_gap),
        f"AE PSNR >= {thresholds.min_psnr} dB": at_least(mean["ae_psnr"], thresholds.min_psnr),
    }


def format_table(report: dict, gates: dict[str, bool]) -> str:
    """The per-clip table, the means and the gates, as printed by the command."""

    def f(value: float | None, digits: int = 3) -> str:
        return "  n/a" if value is None else f"{value:.{digits}f}"

    head = (
        f"{'clip':<16}{'frames':>7}{'r true':>8}{'r shuf':>8}{'r true sp':>10}{'r shuf sp':>10}"
        f"{'AE PSNR':>9}{'copy':>7}{'self':>7}{'portrait':>9}{'miss':>6}"
    )
    lines = [head, "-" * len(head)]
    for c in report["clips"]:
        lines.append(
            f"{Path(c['video']).stem:<16}{c['n_frames']:>7}{f(c['r_true']):>8}{f(c['r_shuffled']):>8}"
            f"{f(c['r_true_speech']):>10}{f(c['r_shuffled_speech']):>10}{f(c['ae_psnr'], 2):>9}"
            f"{f(c['ae_copy_psnr'], 2):>7}{f(c['ae_self_psnr'], 2):>7}{f(c['ae_psnr_pipeline_crop'], 2):>9}"
            f"{c['missed_detections']:>6}"
        )
    m = report["mean"]
    lines.append("-" * len(head))
    lines.append(
        f"{'mean':<16}{'':>7}{f(m['r_true']):>8}{f(m['r_shuffled']):>8}{f(m['r_true_speech']):>10}"
        f"{f(m['r_shuffled_speech']):>10}{f(m['ae_psnr'], 2):>9}{f(m['ae_copy_psnr'], 2):>7}"
        f"{f(m['ae_self_psnr'], 2):>7}{f(m['ae_psnr_pipeline_crop'], 2):>9}"
    )
    lines.append(
        "AE PSNR: from frame 0 on the clip's float-data prepare crop (gated); copy: frame 0 itself there; "
        "self: each frame from itself there; portrait: from frame 0 on float-generate's crop of frame 0"
    )
    lines += [f"skipped (no face found): {reason}" for reason in report.get("skipped", [])]
    lines.append(f"gap r(true) - r(shuffled): whole clip {f(m['gap'])}, speech part {f(m['gap_speech'])}")
    lines += [f"{'PASS' if ok else 'FAIL'}  {name}" for name, ok in gates.items()]
    return "\n".join(lines)


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(handle, "w") as out:
        out.write(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m float_tools.proof.run", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--bundle", default=None, help="bundle folder (default: the embedded demo bundle)")
    parser.add_argument(
        "--corpus", type=Path, required=True, help="held-out corpus folder (corpus.build output)"
    )
    parser.add_argument("--clips", type=int, default=12, help="first N clips of the corpus (12)")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON report here")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (0)")
    parser.add_argument("--shuffle-seed", type=int, default=0, help="seed of the shuffled-audio pairing (0)")
    parser.add_argument("--steps", type=int, default=None, help="ODE steps (default: the bundle's)")
    parser.add_argument(
        "--detect-size", type=int, default=256, help="frames are enlarged to this for dlib (256)"
    )
    parser.add_argument("--min-r", type=float, default=0.6)
    parser.add_argument("--min-gap", type=float, default=0.4)
    parser.add_argument("--min-psnr", type=float, default=28.0)
    args = parser.parse_args(argv)
    thresholds = Thresholds(min_r=args.min_r, min_gap=args.min_gap, min_psnr=args.min_psnr)
    try:
        report = run_proof(
            args.bundle,
            args.corpus,
            args.clips,
            seed=args.seed,
            shuffle_seed=args.shuffle_seed,
            steps=args.steps,
            detect_size=args.detect_size,
        )
    except (FileNotFoundError, ValueError, GenerateError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    gates = check(report, thresholds)
    report["thresholds"] = thresholds.model_dump()
    report["passed"] = gates
    print(format_table(report, gates))
    if args.out is not None:
        _write_json(args.out, report)
    return 0 if all(gates.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
