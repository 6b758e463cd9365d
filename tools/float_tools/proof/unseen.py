"""``python -m float_tools.proof.unseen``: lip sync, rendering and identity on real portraits nobody picked.

    uv run python -m float_tools.proof.unseen [--bundle B] [--work DIR] [--clips 6] [--out report.json]

For each portrait of the unseen set (:mod:`float_tools.proof.unseen_set`: real face photos from PyPI sdists
that no training, test or doc used) a held-out corpus is built (the portrait's own voice, sentences from
``unseen_en.txt``, never in training), and each clip is animated from its frame 0 with its own audio and
with another clip's (a seeded derangement). Two independent landmark detectors measure the mouth of every
generated frame: dlib's 68 points (:class:`float_tools.proof.lipsync.MouthMeter`) and MediaPipe FaceMesh
(:class:`float_tools.proof.meters.MediaPipeMeter`, in its own environment). Each meter is calibrated on
degraded frames: the clip's true frames, cut like the Pipeline cuts the portrait, at the bundle's
resolution and Gaussian-blurred to the generated frames' sharpness; r of the meter there against the true
track is its ceiling. Each meter also reads the auto-encoder's own rendering of the clip (the true frames'
motion transferred onto frame 0, at the bundle's resolution): r there (``ae_r``) is the lip sync this
renderer can show when the motion is exactly right, so a low ``ae_r`` puts a portrait's failure in the
auto-encoder, not in the generated motion. A frame without a detection is counted and skipped. The gates use
the meter with the higher mean ceiling: mean r >= 0.6 and every portrait >= 0.5; mean r(true) - r(shuffled)
>= 0.4 and every portrait >= 0.3. Also reported: the auto-encoder's PSNR on held-out frames (as
:mod:`float_tools.proof.run`, first two clips), identity similarity (dlib face-recognition cosine to the
portrait) and PSNR against the true frames, on the speech frames and on the silent tail after the speech.
Exit status 1 when a gate is missed, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from pydantic import BaseModel, ConfigDict

from float_data import read_video, to_model_tensor
from float_pipeline import GenerateError, Pipeline, crop_reflected, face_box, load_bundle, to_uint8_frames
from float_tools.proof.identity import FaceEmbedder
from float_tools.proof.lipsync import MouthMeter
from float_tools.proof.measure import pearson, psnr, shuffled_pairs
from float_tools.proof.meters import MediaPipeMeter
from float_tools.proof.run import ae_psnr, reconstructions
from float_tools.proof.unseen_set import default_cache, load_set, write_unseen

__all__ = ["BLUR_SIGMAS", "METERS", "UnseenGates", "check", "format_report", "run_unseen"]

METERS = ("dlib", "mediapipe")
BLUR_SIGMAS = (0.0, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0)
"""Gaussian sigmas (px at the bundle resolution) tried to match the generated frames' sharpness."""
IDENTITY_EVERY = 5
"""Every 5th frame is embedded for the identity similarity (dlib's ResNet takes ~50 ms a face)."""
AE_CLIPS = 2
"""The auto-encoder's PSNR is read on each portrait's first 2 clips (its dlib tracking costs seconds)."""


class UnseenGates(BaseModel):
    """The issue's gates over the portraits (on the meter with the higher degraded-frame ceiling)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_mean_r: float = 0.6
    min_portrait_r: float = 0.5
    min_mean_gap: float = 0.4
    min_portrait_gap: float = 0.3


def _nanmean(values: list[float | None]) -> float | None:
    finite = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def _r(measured: np.ndarray, truth: np.ndarray) -> float | None:
    """Pearson r over the frames where the meter found a face (None when undefined)."""
    n = min(len(measured), len(truth))
    keep = np.isfinite(measured[:n])
    value = pearson(measured[:n][keep], truth[:n][keep])
    return None if not np.isfinite(value) else value


def sharpness(frames: np.ndarray) -> float:
    """Mean absolute Laplacian of the grey frames (uint8 [T, S, S, 3]): falls as blur grows."""
    grey = frames.astype(np.float32).mean(axis=3)
    return float(np.mean([np.abs(cv2.Laplacian(g, cv2.CV_32F)).mean() for g in grey]))


def blur(frames: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of uint8 [T, S, S, 3] frames (sigma in px; 0 returns them unchanged)."""
    if sigma <= 0:
        return frames
    return np.stack([cv2.GaussianBlur(f, (0, 0), sigma) for f in frames])


def matched_sigma(generated: np.ndarray, sharp: np.ndarray) -> float:
    """The sigma of :data:`BLUR_SIGMAS` whose blur of ``sharp`` frames comes closest to ``generated``'s
    sharpness (both uint8 [T, S, S, 3] at the bundle resolution)."""
    target = sharpness(generated)
    return min(BLUR_SIGMAS, key=lambda s: abs(sharpness(blur(sharp, s)) - target))


def transferred(pipe: Pipeline, crops: np.ndarray) -> np.ndarray:
    """The auto-encoder's rendering of a clip: every frame of ``crops`` (uint8 [T, S, S, 3] at the bundle
    resolution, frame 0 the portrait) reconstructed from frame 0 with that frame's own motion; uint8 like
    ``crops``. What the generator's frames would be if it produced the true motion exactly."""
    images = to_model_tensor(crops)
    return to_uint8_frames(reconstructions(pipe.bundle.motion_ae, images[:1], images))


def _frame_psnr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-frame PSNR (dB) of uint8 [T, S, S, 3] frames."""
    return psnr(to_model_tensor(a), to_model_tensor(b)).numpy()


class _Clip:
    """One clip of a portrait's corpus, generated with its own and another clip's audio."""

    def __init__(self, name: str, truth: np.ndarray, speech: tuple[int, int]) -> None:
        self.name, self.truth, self.speech = name, truth, speech
        self.frames: np.ndarray = np.empty(0)
        self.true: np.ndarray = np.empty(0)
        self.shuffled: np.ndarray = np.empty(0)
        self.crops: np.ndarray = np.empty(0)


def _build_corpus(
    portrait_png: Path, layout: Path, voice: str, sentences: Path, clips: int, seed: int, out: Path
):
    from float_tools.corpus import CorpusConfig, build_corpus, read_sentences

    manifest = out / "manifest.json"
    if manifest.is_file() and len(json.loads(manifest.read_text())["clips"]) >= clips:
        return
    # Missing or unfinished (a run stopped while building it): the builder keeps the finished clips and
    # renders the rest, so a resumed proof scores as many clips as asked, never silently fewer.
    config = CorpusConfig(
        portraits=[str(portrait_png)],
        landmarks=[str(layout)],
        voices=[voice],
        sentences=read_sentences(sentences),
        n_clips=clips,
        seed=seed,
        resolution=128,
    )
    build_corpus(config, out, log=lambda _: None)


def score_portrait(
    pipe: Pipeline,
    corpus: Path,
    clips: int,
    dlib_meter: MouthMeter,
    mp_meter: MediaPipeMeter | None,
    embedder: FaceEmbedder,
    *,
    seed: int = 0,
    shuffle_seed: int = 0,
) -> dict:
    """Every figure of one portrait's corpus (module docstring); a clip that fails is listed, not fatal."""
    entries = json.loads((corpus / "manifest.json").read_text())["clips"][:clips]
    partners = shuffled_pairs(len(entries), shuffle_seed)
    size, defaults = pipe.bundle.resolution, pipe.bundle.manifest.defaults
    done: list[_Clip] = []
    failed: list[str] = []
    for i, entry in enumerate(entries):
        truth_doc = json.loads((corpus / entry["ground_truth"]).read_text())
        clip = _Clip(
            entry["video"],
            np.asarray(truth_doc["tracks"]["mouth_open"], np.float64),
            tuple(truth_doc["speech_frames"]),
        )
        clip.frames = read_video(corpus / entry["video"])
        try:
            clip.true = np.stack(list(pipe.frames(clip.frames[0], corpus / entry["video"], seed=seed)))
            partner = corpus / entries[partners[i]]["video"]
            clip.shuffled = np.stack(list(pipe.frames(clip.frames[0], partner, seed=seed)))
            box = face_box(clip.frames[0], scale=defaults.crop_scale, phases=defaults.crop_phases)
        except GenerateError as error:
            failed.append(f"{entry['video']}: {error}")
            continue
        clip.crops = np.stack([crop_reflected(f, box, size) for f in clip.frames])
        done.append(clip)
    if not done:
        return {"clips": 0, "failed": failed}
    sigma = matched_sigma(np.concatenate([c.true for c in done]), np.concatenate([c.crops for c in done]))
    series = {}
    for c in done:
        series[f"{c.name}|true"] = c.true
        series[f"{c.name}|shuffled"] = c.shuffled
        series[f"{c.name}|degraded"] = blur(c.crops, sigma)
        series[f"{c.name}|ae"] = transferred(pipe, c.crops)
    measured: dict[str, dict[str, tuple[np.ndarray, int]]] = {
        "dlib": {key: dlib_meter.measure(list(frames)) for key, frames in series.items()}
    }
    if mp_meter is not None:
        measured["mediapipe"] = mp_meter.measure_many(series)
    per_meter = {}
    for meter, values in measured.items():
        rows = []
        for c in done:
            r_true = _r(values[f"{c.name}|true"][0], c.truth)
            r_shuf = _r(values[f"{c.name}|shuffled"][0], c.truth)
            rows.append(
                {
                    "r_true": r_true,
                    "r_shuffled": r_shuf,
                    "gap": None if r_true is None or r_shuf is None else r_true - r_shuf,
                    "ceiling": _r(values[f"{c.name}|degraded"][0], c.truth),
                    "ae_r": _r(values[f"{c.name}|ae"][0], c.truth),
                }
            )
        generated = [values[f"{c.name}|{kind}"] for c in done for kind in ("true", "shuffled")]
        per_meter[meter] = {key: _nanmean([row[key] for row in rows]) for key in rows[0]}
        per_meter[meter]["misses"] = sum(missed for _, missed in generated)
        per_meter[meter]["frames"] = sum(len(v) for v, _ in generated)
        per_meter[meter]["degraded_misses"] = sum(values[f"{c.name}|degraded"][1] for c in done)
    # Rendering and identity, on the true-audio clips: speech frames vs the silent tail after the speech.
    reference = embedder.embed(done[0].frames[0])
    parts: dict[str, dict[str, list[float]]] = {"speech": {"psnr": [], "id": [], "id_truth": []}}
    parts["tail"] = {"psnr": [], "id": [], "id_truth": []}
    for c in done:
        n = min(len(c.true), len(c.crops))
        frame_psnr = _frame_psnr(c.true[:n], c.crops[:n])
        first, end = c.speech
        spans = {"speech": range(first, min(end, n)), "tail": range(min(end, n), n)}
        for part, span in spans.items():
            parts[part]["psnr"] += [float(frame_psnr[k]) for k in span]
            for k in list(span)[::IDENTITY_EVERY]:
                for key, image in (("id", c.true[k]), ("id_truth", c.crops[k])):
                    value = embedder.similarity(reference, image)
                    if value is not None:
                        parts[part][key].append(value)
    rendering = {f"{key}_{part}": _nanmean(v) for part, d in parts.items() for key, v in d.items()}
    ae = []
    for c in done[:AE_CLIPS]:
        try:
            ae.append(ae_psnr(pipe, c.frames))
        except (ValueError, GenerateError):
            ae.append((None, None, None, None))
    return {
        "_reference": reference,
        "clips": len(done),
        "failed": failed,
        "blur_sigma_px": sigma,
        "meters": per_meter,
        "ae_psnr_db": _nanmean([a[0] for a in ae]),
        "ae_copy_psnr_db": _nanmean([a[1] for a in ae]),
        "ae_psnr_portrait_crop_db": _nanmean([a[3] for a in ae]),
        **rendering,
    }


def summarise(portraits: dict[str, dict], gates: UnseenGates) -> dict:
    """Means over the portraits per meter, the gate meter (higher mean ceiling) and which gates pass."""
    scored = {name: p for name, p in portraits.items() if p.get("clips")}
    means: dict[str, dict] = {}
    for meter in METERS:
        rows = [p["meters"][meter] for p in scored.values() if meter in p["meters"]]
        if not rows:
            continue
        means[meter] = {
            key: _nanmean([row.get(key) for row in rows])
            for key in ("r_true", "r_shuffled", "gap", "ceiling", "ae_r")
        }
        means[meter]["worst_r_true"] = min(
            (row["r_true"] for row in rows if row["r_true"] is not None), default=None
        )
        means[meter]["worst_gap"] = min((row["gap"] for row in rows if row["gap"] is not None), default=None)
        means[meter]["misses"] = sum(row["misses"] for row in rows)
        means[meter]["frames"] = sum(row["frames"] for row in rows)
    gate_meter = max(means, key=lambda m: means[m]["ceiling"] or -1.0)
    m = means[gate_meter]

    def at_least(value: float | None, bound: float) -> bool:
        return value is not None and value >= bound

    passed = {
        f"mean r_true >= {gates.min_mean_r}": at_least(m["r_true"], gates.min_mean_r),
        f"every portrait r_true >= {gates.min_portrait_r}": at_least(m["worst_r_true"], gates.min_portrait_r)
        and len(scored) == len(portraits),
        f"mean gap >= {gates.min_mean_gap}": at_least(m["gap"], gates.min_mean_gap),
        f"every portrait gap >= {gates.min_portrait_gap}": at_least(m["worst_gap"], gates.min_portrait_gap)
        and len(scored) == len(portraits),
    }
    rendering_keys = (
        "ae_psnr_db",
        "ae_psnr_portrait_crop_db",
        "psnr_speech",
        "psnr_tail",
        "id_speech",
        "id_tail",
        "id_truth_speech",
        "id_truth_tail",
    )
    overall = {key: _nanmean([p.get(key) for p in scored.values()]) for key in rendering_keys}
    worst = min(scored, key=lambda name: scored[name]["meters"][gate_meter]["r_true"] or -1.0)
    return {"meters": means, "gate_meter": gate_meter, "worst_portrait": worst, "passed": passed, **overall}


def run_unseen(
    bundle: str | Path | None,
    work: Path,
    clips: int,
    *,
    names: list[str] | None = None,
    cache: Path | None = None,
    seed: int = 0,
    log=print,
) -> dict:
    """Build (or reuse) every portrait's corpus under ``work`` and score the bundle on it: the report."""
    started = time.time()
    spec = load_set()
    chosen = [p for p in spec.portraits if names is None or p.name in names]
    write_unseen(work / "portraits", cache or default_cache(), [p.name for p in chosen])
    sentences = Path(__file__).resolve().parents[3] / spec.sentences
    pipe = Pipeline(load_bundle(bundle), progress=False)
    dlib_meter = MouthMeter(256)
    try:
        mp_meter: MediaPipeMeter | None = MediaPipeMeter(256)
    except FileNotFoundError as error:
        log(f"warning: {error}; measuring with dlib only")
        mp_meter = None
    embedder = FaceEmbedder()
    portraits: dict[str, dict] = {}
    references: dict[str, np.ndarray | None] = {}
    for index, portrait in enumerate(chosen):
        corpus = work / "corpus" / portrait.name
        png, layout = (
            work / "portraits" / f"{portrait.name}.png",
            work / "portraits" / f"{portrait.name}.json",
        )
        _build_corpus(png, layout, portrait.voice, sentences, clips, 300 + index, corpus)
        with torch.no_grad():
            portraits[portrait.name] = score_portrait(
                pipe, corpus, clips, dlib_meter, mp_meter, embedder, seed=seed
            )
        references[portrait.name] = portraits[portrait.name].pop("_reference", None)
        portraits[portrait.name]["voice"] = portrait.voice
        log(f"{portrait.name}: done ({time.time() - started:.0f} s)")
    gates = UnseenGates()
    found = [v for v in references.values() if v is not None]
    # What the identity similarity reads between different people (the portraits' frame 0s, pairwise).
    others = [float(a @ b) for i, a in enumerate(found) for b in found[i + 1 :]]
    overall = summarise(portraits, gates)
    overall["id_between_portraits"] = _nanmean(others)
    return {
        "bundle": str(pipe.bundle.path),
        "clips_per_portrait": clips,
        "portraits": portraits,
        "overall": overall,
        "gates": gates.model_dump(),
        "settings": {
            "seed": seed,
            "shuffle_seed": 0,
            "detect_size": 256,
            "corpus_seed": "300 + portrait index",
        },
        "seconds": time.time() - started,
    }


def check(report: dict) -> dict[str, bool]:
    return report["overall"]["passed"]


def format_report(report: dict) -> str:
    """The per-portrait table (both meters), the overall line and the gates, as the command prints them."""

    def f(value: float | None, digits: int = 2) -> str:
        return "n/a" if value is None else f"{value:.{digits}f}"

    head = (
        f"{'portrait':<18}{'clips':>5} | {'dlib: r true/shuf/gap':>22} {'ceil':>5} {'AE r':>5} {'miss':>5} | "
        f"{'mediapipe: r true/shuf/gap':>27} {'ceil':>5} {'AE r':>5} {'miss':>5} | {'AE dB':>6} "
        f"{'ID sp/tail':>10} {'PSNR sp/tail':>12}"
    )
    lines = [head, "-" * len(head)]

    def meter_cells(m: dict | None, width: int) -> str:
        if m is None:
            return f"{'not run':>{width}} {'':>5} {'':>5} {'':>5}"
        trio = f"{f(m['r_true'])}/{f(m['r_shuffled'])}/{f(m['gap'])}"
        return f"{trio:>{width}} {f(m['ceiling']):>5} {f(m.get('ae_r')):>5} {m['misses']:>5}"

    def row(meters: dict, p: dict) -> str:
        identity = f"{f(p['id_speech'])}/{f(p['id_tail'])}"
        rendering = f"{f(p['psnr_speech'], 1)}/{f(p['psnr_tail'], 1)}"
        return (
            f"{meter_cells(meters.get('dlib'), 22)} | {meter_cells(meters.get('mediapipe'), 27)} | "
            f"{f(p['ae_psnr_db'], 1):>6} {identity:>10} {rendering:>12}"
        )

    for name, p in report["portraits"].items():
        if not p.get("clips"):
            lines.append(f"{name:<18}{0:>5} | no clip could be generated: {p['failed'][:1]}")
            continue
        lines.append(f"{name:<18}{p['clips']:>5} | " + row(p["meters"], p))
    o = report["overall"]
    lines.append("-" * len(head))
    lines.append(f"{'mean':<18}{'':>5} | " + row(o["meters"], o))
    gate = o["gate_meter"]
    lines.append(
        "ceil: the meter's r on the true frames cut like the portrait at the bundle resolution and blurred "
        f"to the generated sharpness; gates use the meter with the higher mean ceiling: {gate}. "
        f"worst portrait ({gate}): {o['worst_portrait']} r {f(o['meters'][gate]['worst_r_true'])}, worst gap "
        f"{f(o['meters'][gate]['worst_gap'])}"
    )
    lines.append(
        "AE r: the meter's r on the auto-encoder's rendering of the true motion (each true frame's motion "
        "transferred onto frame 0): the lip sync this renderer can show when the motion is right"
    )
    lines.append(
        "miss: generated frames without a detection (skipped). ID: dlib face-recognition cosine to the "
        f"portrait (the true frames at the same size: {f(o['id_truth_speech'])}/{f(o['id_truth_tail'])}; "
        f"two different portraits: {f(o.get('id_between_portraits'))}); PSNR: generated vs "
        "true frames; sp = speech frames, tail = the silence after the speech"
    )
    lines += [f"{'PASS' if ok else 'FAIL'}  {name}" for name, ok in o["passed"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m float_tools.proof.unseen", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--bundle", default=None, help="bundle folder (default: the embedded demo bundle)")
    parser.add_argument("--work", type=Path, required=True, help="folder for the portraits and their corpora")
    parser.add_argument("--clips", type=int, default=4, help="clips per portrait (4)")
    parser.add_argument("--name", action="append", default=None, help="only this portrait (repeatable)")
    parser.add_argument("--cache", type=Path, default=None, help="where the downloaded photos are kept")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON report here")
    args = parser.parse_args(argv)
    if args.clips < 2:
        parser.error("--clips: the shuffled baseline needs at least 2")
    try:
        report = run_unseen(args.bundle, args.work, args.clips, names=args.name, cache=args.cache)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(format_report(report))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if all(check(report).values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
