"""Build an offline talking-face corpus (the library behind ``python -m float_tools.corpus.build``).

Each clip is a real portrait speaking a real espeak-ng sentence: the mouth opens with the speech energy,
the head drifts and the eyes blink. The folder holds ``clip_NNNNN.mp4`` (H.264 yuv420p 25 fps + AAC
16 kHz), ``clip_NNNNN.json`` (ground-truth tracks) and ``manifest.json``. Every file is written
atomically and finished clips are skipped on a rerun with the same settings.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from float_tools.corpus.atomic import atomic_path, atomic_write_json
from float_tools.corpus.augment import augment_portrait, clip_rng, draw_params
from float_tools.corpus.config import FPS, SAMPLE_RATE, SAMPLES_PER_FRAME, CorpusConfig, FaceLayout
from float_tools.corpus.mux import write_mp4
from float_tools.corpus.plan import ClipPlan, plan_clip
from float_tools.corpus.portrait import crop_portrait, load_portrait
from float_tools.corpus.render import FaceRenderer
from float_tools.corpus.speech import check_voice, pad_to_frames, synthesize, trim_silence
from float_tools.corpus.tracks import blink_track, mouth_opening_track, pose_track

MANIFEST = "manifest.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ClipRecord:
    """One finished clip: its files (relative to the corpus folder) and a summary for the manifest."""

    name: str
    video: str
    ground_truth: str
    sentence: str
    voice: str
    portrait: str
    n_frames: int
    duration_s: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _r(values: np.ndarray, digits: int = 5) -> list[float]:
    return [round(float(v), digits) for v in np.asarray(values).ravel()]


def _sources(config: CorpusConfig) -> list[tuple[np.ndarray, FaceLayout]]:
    """Each portrait's image (uint8 RGB [H, W, 3]) and face layout, loaded once."""
    return [
        load_portrait(spec, config.landmarks[i] if config.landmarks else None)
        for i, spec in enumerate(config.portraits)
    ]


def _renderer(
    config: CorpusConfig, plan: ClipPlan, sources: list[tuple[np.ndarray, FaceLayout]]
) -> tuple[FaceRenderer, dict[str, Any] | None]:
    """The renderer of ``plan``'s portrait, in the clip's own look when ``config.augment`` is on (then
    also the drawn look, for the clip's JSON)."""
    image, layout = sources[plan.portrait]
    spec = config.portraits[plan.portrait]
    if config.augment is None:
        portrait = crop_portrait(image, layout, config.resolution, source=spec)
        return FaceRenderer(portrait, max_opening=config.max_opening), None
    params = draw_params(config.augment, clip_rng(config.seed, plan.index))
    portrait = augment_portrait(image, layout, config.resolution, params, source=spec)
    return FaceRenderer(portrait, max_opening=config.max_opening), params.as_dict()


def render_clip(
    config: CorpusConfig,
    plan: ClipPlan,
    renderer: FaceRenderer,
    out: Path,
    augment: dict[str, Any] | None = None,
) -> ClipRecord:
    """Synthesise, animate, encode and record one clip into ``out`` (mp4 first, then its JSON).

    ``augment`` is the clip's identity augmentation (recorded under ``"augment"``; None when off).
    """
    speech = trim_silence(synthesize(plan.sentence, plan.voice, plan.rate, plan.pitch))
    speech = np.clip(speech * 10.0 ** (plan.gain_db / 20.0), -1.0, 1.0).astype(np.float32)
    clean, start = pad_to_frames(speech, plan.pad_start_s, plan.pad_end_s)
    n_frames = clean.size // SAMPLES_PER_FRAME
    opening = mouth_opening_track(clean)
    rng = np.random.default_rng([plan.seed[0], 3, plan.seed[1]])
    audio = clean
    if config.noise_db is not None:
        noise = np.random.default_rng([plan.seed[0], 6, plan.seed[1]]).standard_normal(clean.size)
        audio = np.clip(clean + 10.0 ** (config.noise_db / 20.0) * noise, -1.0, 1.0).astype(np.float32)
    pose = pose_track(
        rng, n_frames, config.pose_roll_deg, config.pose_shift, config.pose_scale, config.resolution
    )
    blink = blink_track(rng, n_frames, config.blink_interval_s)

    def frames():  # streamed: one frame in memory at a time
        for t in range(n_frames):
            shift = (float(pose.shift_px[t, 0]), float(pose.shift_px[t, 1]))
            yield renderer.render(
                float(opening[t]), float(blink[t]), float(pose.roll_deg[t]), shift, float(pose.scale[t])
            )

    video = out / f"{plan.name}.mp4"
    with atomic_path(video) as tmp:
        written = write_mp4(tmp, frames(), audio, crf=config.crf)
    assert written == n_frames
    marks = [
        renderer.landmarks(
            float(opening[t]),
            float(pose.roll_deg[t]),
            (float(pose.shift_px[t, 0]), float(pose.shift_px[t, 1])),
            float(pose.scale[t]),
        )
        for t in range(n_frames)
    ]
    speech_frames = np.flatnonzero(np.abs(clean.reshape(n_frames, SAMPLES_PER_FRAME)).max(axis=1) > 0)
    record = ClipRecord(
        name=plan.name,
        video=video.name,
        ground_truth=f"{plan.name}.json",
        sentence=plan.sentence,
        voice=plan.voice,
        portrait=config.portraits[plan.portrait],
        n_frames=n_frames,
        duration_s=audio.size / SAMPLE_RATE,
    )
    truth = {
        "format_version": FORMAT_VERSION,
        **record.as_dict(),
        "index": plan.index,
        "rate_wpm": plan.rate,
        "pitch": plan.pitch,
        "gain_db": plan.gain_db,
        "noise_db": config.noise_db,
        "fps": FPS,
        "sample_rate": SAMPLE_RATE,
        "resolution": config.resolution,
        "speech_start_s": start / SAMPLE_RATE,
        "speech_end_s": (start + speech.size) / SAMPLE_RATE,
        "speech_frames": [int(speech_frames[0]), int(speech_frames[-1]) + 1],
        "max_gap_px": round(renderer.max_gap, 5),
        "tracks_doc": {
            "mouth_open": "lip gap in [0, 1] (0 closed, 1 = max_gap_px at rest scale), from the speech level",
            "mouth_gap_px": "lip gap height in output pixels",
            "blink": "eyelid closure in [0, 1] (1 shut)",
            "roll_deg": "in-plane head rotation, degrees, positive counter-clockwise on screen",
            "shift_px": "head translation [x, y] in output pixels",
            "scale": "head size relative to rest",
            "landmarks": "output pixels (x right, y down); mouth = centre of the lip gap; boxes x0 y0 x1 y1",
        },
        "tracks": {
            "mouth_open": _r(opening),
            "mouth_gap_px": _r([m.mouth_gap_px for m in marks], 3),
            "blink": _r(blink),
            "roll_deg": _r(pose.roll_deg),
            "shift_px": [_r(row) for row in pose.shift_px],
            "scale": _r(pose.scale),
        },
        "landmarks": {
            "left_eye": [_r(m.left_eye, 3) for m in marks],
            "right_eye": [_r(m.right_eye, 3) for m in marks],
            "mouth": [_r(m.mouth, 3) for m in marks],
            "mouth_box": [_r(m.mouth_box, 3) for m in marks],
            "face_box": [_r(m.face_box, 3) for m in marks],
        },
    }
    if augment is not None:
        truth["augment"] = augment
    atomic_write_json(out / record.ground_truth, truth, indent=None)
    return record


def _finished(out: Path, name: str) -> ClipRecord | None:
    video, tracks = out / f"{name}.mp4", out / f"{name}.json"
    if not (video.is_file() and tracks.is_file()):
        return None
    data = json.loads(tracks.read_text(encoding="utf-8"))
    return ClipRecord(**{k: data[k] for k in ClipRecord.__dataclass_fields__})


def _check_existing(config: CorpusConfig, out: Path) -> None:
    manifest = out / MANIFEST
    if not manifest.is_file():
        return
    previous = json.loads(manifest.read_text(encoding="utf-8")).get("config", {})
    previous = {k: v for k, v in previous.items() if k != "n_clips"}
    if previous != config.identity():
        changed = sorted(
            k for k in set(previous) | set(config.identity()) if previous.get(k) != config.identity().get(k)
        )
        raise ValueError(
            f"{out} already holds a corpus built with other settings ({', '.join(changed)} differ): "
            "pass a new --out folder or the same settings (only --n-clips may change)"
        )


def build_corpus(config: CorpusConfig, out: Path, log: Callable[[str], None] = print) -> list[ClipRecord]:
    """Build (or finish) the corpus described by ``config`` in ``out``; returns one record per clip.

    Inputs (voices, portraits) are all checked before anything is written. Clips already finished in
    ``out`` by an earlier run with the same settings are kept as they are.
    """
    out = Path(out)
    for voice in config.voices:
        check_voice(voice)
    sources = _sources(config)
    _check_existing(config, out)
    out.mkdir(parents=True, exist_ok=True)
    records: list[ClipRecord] = []
    for index in range(config.n_clips):
        plan = plan_clip(config, index)
        done = _finished(out, plan.name)
        if done is not None:
            log(f"{plan.name}: already built, skipped")
            records.append(done)
            continue
        started = time.perf_counter()
        renderer, augment = _renderer(config, plan, sources)
        record = render_clip(config, plan, renderer, out, augment)
        records.append(record)
        log(
            f"{plan.name}: {record.n_frames} frames, {plan.voice} {plan.rate} wpm pitch {plan.pitch}, "
            f"{time.perf_counter() - started:.1f} s  {plan.sentence!r}"
        )
        _write_manifest(config, out, records)
    _write_manifest(config, out, records)
    return records


def _write_manifest(config: CorpusConfig, out: Path, records: list[ClipRecord]) -> None:
    atomic_write_json(
        out / MANIFEST,
        {
            "format_version": FORMAT_VERSION,
            "builder": "corpus.build (FLOAT-kit tools)",
            "fps": FPS,
            "sample_rate": SAMPLE_RATE,
            "config": config.model_dump(mode="json"),
            "clips": [r.as_dict() for r in records],
        },
    )
