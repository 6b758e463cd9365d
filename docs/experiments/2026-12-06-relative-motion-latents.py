"""Where the generated motion of a bundle sits, against the true motion, in the motion-latent space.

    OMP_NUM_THREADS=1 uv run python docs/experiments/2026-12-06-relative-motion-latents.py \
        --run RUN_DIR --corpus TRAIN_CORPUS --bundle BUNDLE CORPUS [CORPUS ...]

RUN_DIR is a stage-2 run whose latent cache (``RUN_DIR/cache/<fingerprint>/<video>.safetensors``, written by
``float-train fmt``) holds the training clips' motion; TRAIN_CORPUS the corpus those clips were prepared
from (each clip's JSON holds its ground-truth ``mouth_open`` track and its portrait). From them, per training
portrait, the direction in latent space along which the motion covaries with the mouth opening; their
cosines say whether the faces share one mouth direction, and their mean ``u`` is the probe.

Then, for the first four clips of each CORPUS: the true motion (every frame encoded with the bundle's
auto-encoder, cropped as float-generate crops the portrait) and the motion the bundle's flow generates from
the clip's frame 0 and audio (the bundle's sampling defaults, seed 0). Printed per corpus: r of each along
``u`` with the mouth track, their spread along ``u``, and how far the generated clip's mean latent sits from
the true clip's mean, in units of the true motion's per-dimension spread, and how far along ``u`` alone
(signed, in units of the true spread along ``u``: where the generated mouth rests against the true one).
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file

from float_data import read_video, to_model_tensor
from float_flow import SamplerConfig, generate_windows
from float_pipeline import GenerateOptions, Pipeline, crop_reflected, face_box, load_bundle


def mouth_directions(run_dir: Path, corpus: Path) -> dict[str, np.ndarray]:
    """Per training portrait: the unit covariance direction of its latents [T, d] with its mouth track."""
    caches = [p for p in (run_dir / "cache").iterdir() if p.is_dir() and not p.name.endswith("-val")]
    clips: dict[str, list[tuple[np.ndarray, np.ndarray]]] = collections.defaultdict(list)
    for path in sorted(caches[0].glob("*.safetensors")):
        meta_path = corpus / f"{path.stem}.json"
        if not meta_path.is_file():
            continue
        meta = json.loads(meta_path.read_text())
        motion, track = load_file(str(path))["motion"], np.asarray(meta["tracks"]["mouth_open"])
        n = min(len(motion), len(track))
        clips[meta["portrait"]].append((motion[:n], track[:n]))
    directions = {}
    for portrait, pairs in clips.items():
        motion = np.concatenate([m for m, _ in pairs])
        track = np.concatenate([t for _, t in pairs])
        direction = (motion - motion.mean(0)).T @ (track - track.mean())
        directions[portrait] = direction / np.linalg.norm(direction)
    return directions


@torch.no_grad()
def true_and_generated(pipe: Pipeline, clip: Path) -> tuple[np.ndarray, np.ndarray]:
    """[T, d] true motion of ``clip`` and [T, d] motion the bundle generates from its frame 0 and audio."""
    bundle, defaults = pipe.bundle, pipe.bundle.manifest.defaults
    frames = read_video(clip)
    box = face_box(frames[0], scale=defaults.crop_scale, phases=defaults.crop_phases)
    crops = to_model_tensor(np.stack([crop_reflected(f, box, pipe.resolution) for f in frames]))
    ae = bundle.motion_ae
    true = torch.cat([ae.motion(ae.encode(crops[i : i + 32]).coeffs) for i in range(0, len(crops), 32)])
    prepared = pipe.prepare(frames[0], clip, GenerateOptions())
    source = ae.motion(ae.encode(to_model_tensor(prepared.portrait.crop)[None]).coeffs)
    audio = bundle.audio_features(prepared.audio.waveform[None], prepared.num_frames)
    windows = generate_windows(
        bundle.flow,
        source,
        audio,
        prepared.emotion,
        seed=0,
        sampler=SamplerConfig(method=defaults.method, nfe=defaults.steps),
        audio_scale=defaults.audio_scale,
        emotion_scale=defaults.emotion_scale,
    )
    generated = torch.cat([w.motion[0] for w in windows])
    n = min(len(true), len(generated))
    return true[:n].numpy(), generated[:n].numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, required=True, help="the training corpus of --run's clips")
    parser.add_argument("--bundle", default=None, help="bundle folder (default: the embedded demo)")
    parser.add_argument("corpora", type=Path, nargs="+")
    args = parser.parse_args()
    directions = mouth_directions(args.run, args.corpus)
    stacked = np.stack(list(directions.values()))
    cosines = stacked @ stacked.T
    off_diagonal = cosines[~np.eye(len(stacked), dtype=bool)]
    print(
        f"{len(stacked)} training portraits: mouth-direction cosine mean {off_diagonal.mean():.2f}, "
        f"min {off_diagonal.min():.2f}"
    )
    probe = stacked.mean(0) / np.linalg.norm(stacked.mean(0))
    pipe = Pipeline(load_bundle(args.bundle), progress=False)
    for corpus in args.corpora:
        rows = []
        for entry in json.loads((corpus / "manifest.json").read_text())["clips"][:4]:
            name = entry["video"] if isinstance(entry, dict) else entry
            track = np.asarray(
                json.loads((corpus / name.replace(".mp4", ".json")).read_text())["tracks"]["mouth_open"]
            )
            true, generated = true_and_generated(pipe, corpus / name)
            n = min(len(true), len(track))
            along_true, along_generated = true[:n] @ probe, generated[:n] @ probe
            offset = np.linalg.norm(generated.mean(0) - true.mean(0)) / np.linalg.norm(true.std(0))
            rows.append(
                (
                    np.corrcoef(along_true, track[:n])[0, 1],
                    np.corrcoef(along_generated, track[:n])[0, 1],
                    along_true.std(),
                    along_generated.std(),
                    offset,
                    (along_generated.mean() - along_true.mean()) / along_true.std(),
                )
            )
        r_true, r_gen, spread_true, spread_gen, offset, offset_u = np.mean(rows, axis=0)
        print(
            f"{corpus.name:20s} r along u: true {r_true:.2f}, generated {r_gen:.2f}; spread along u: true "
            f"{spread_true:.2f}, generated {spread_gen:.2f}; mean offset {offset:.2f} spreads "
            f"(along u: {offset_u:+.2f} true spreads along u)"
        )


if __name__ == "__main__":
    main()
