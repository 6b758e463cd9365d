"""The silent tail: does the generated face lose detail and identity once the speech ends?

    OMP_NUM_THREADS=1 uv run python docs/experiments/2026-12-06-silent-tail.py WORK [--clips 4]

On the training identity with a held-out voice (the astronaut, ``en-us+f3``, held-out sentences; no unseen
portrait is used, so nothing here is tuned on them), each clip's audio is followed by 4 s of digital silence
and animated from the clip's frame 0 with the committed demo bundle, under a few sampling settings. Per time
bin (the speech; 0-1, 1-2, 2-3, 3-4 s after it) it prints the generated frames' PSNR against the frame-0
crop (the silent face should come back to it), their sharpness relative to that crop (mean absolute
Laplacian) and the dlib identity cosine to the portrait.
"""

from __future__ import annotations

import argparse
import json
import wave
from pathlib import Path

import numpy as np

from float_audio import load_audio
from float_data import read_video, to_model_tensor
from float_pipeline import Pipeline, crop_reflected, face_box, load_bundle
from float_tools.corpus import HELDOUT_SENTENCES, CorpusConfig, build_corpus, read_sentences
from float_tools.proof.identity import FaceEmbedder
from float_tools.proof.measure import psnr
from float_tools.proof.unseen import sharpness

SETTINGS = {
    "defaults (audio 2, emotion 1, 10 steps)": {},
    "audio guidance 1": {"audio_scale": 1.0},
    "20 ODE steps": {"steps": 20},
    "emotion guidance 0": {"emotion_scale": 0.0},
}
BINS = ("speech", "0-1 s", "1-2 s", "2-3 s", "3-4 s")


def with_silence(video: Path, out: Path, seconds: float = 4.0) -> None:
    audio = load_audio(video)
    samples = np.concatenate([audio.waveform.numpy(), np.zeros(int(seconds * audio.sample_rate), np.float32)])
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(audio.sample_rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("work", type=Path)
    parser.add_argument("--clips", type=int, default=4)
    args = parser.parse_args()
    corpus = args.work / "heldout_voice"
    if not (corpus / "manifest.json").is_file():
        config = CorpusConfig(
            portraits=["astronaut"],
            voices=["en-us+f3"],
            sentences=read_sentences(HELDOUT_SENTENCES),
            n_clips=args.clips,
            seed=100,
            resolution=128,
        )
        build_corpus(config, corpus, log=lambda _: None)
    pipe = Pipeline(load_bundle(None), progress=False)
    embedder = FaceEmbedder()
    entries = json.loads((corpus / "manifest.json").read_text())["clips"][: args.clips]
    table: dict[str, dict[str, list[list[float]]]] = {s: {b: [[], [], []] for b in BINS} for s in SETTINGS}
    for entry in entries:
        frames = read_video(corpus / entry["video"])
        end = json.loads((corpus / entry["ground_truth"]).read_text())["speech_frames"][1]
        audio = args.work / f"{Path(entry['video']).stem}_silence.wav"
        with_silence(corpus / entry["video"], audio)
        box = face_box(frames[0])
        reference_crop = crop_reflected(frames[0], box, pipe.bundle.resolution)
        reference_id = embedder.embed(frames[0])
        base_sharpness = sharpness(reference_crop[None])
        for name, overrides in SETTINGS.items():
            generated = np.stack(list(pipe.frames(frames[0], audio, seed=0, **overrides)))
            frame_psnr = psnr(to_model_tensor(generated), to_model_tensor(reference_crop)[None]).numpy()
            for k in range(len(generated)):
                if k < end:
                    key = "speech"
                else:
                    second = (k - end) // 25
                    if second > 3:
                        continue
                    key = BINS[1 + second]
                cells = table[name][key]
                cells[0].append(float(frame_psnr[k]))
                cells[1].append(sharpness(generated[k : k + 1]) / base_sharpness)
                if k % 5 == 0:
                    value = embedder.similarity(reference_id, generated[k])
                    if value is not None:
                        cells[2].append(value)
    print(f"{'setting':<42}" + "".join(f"{b:>20}" for b in BINS))
    print(f"{'':<42}" + "".join(f"{'PSNR/sharp/ID':>20}" for _ in BINS))
    for name, bins in table.items():
        row = "".join(
            f"{np.mean(c[0]):>8.1f}/{np.mean(c[1]):.2f}/{np.mean(c[2]) if c[2] else float('nan'):.3f}"
            for c in bins.values()
        )
        print(f"{name:<42}{row}")


if __name__ == "__main__":
    main()
