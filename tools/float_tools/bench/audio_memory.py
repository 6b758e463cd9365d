"""Peak memory of float-audio feature extraction: a 10-minute speech file against a 30-second one.

Run: ``uv run python -m float_tools.bench.audio_memory`` (options: ``--encoder base|tiny``,
``--long-seconds``,
``--short-seconds``, ``--device cpu|cuda``).

Real espeak-ng speech (looped with ffmpeg to the requested lengths, 16 kHz mono wav) is decoded with
``float_audio.load_audio`` and encoded with ``Wav2Vec2FrameEncoder.encode`` (chunked: 30 s chunks, 4 s
overlap). The encoder has random weights (no download): ``base`` is the wav2vec2-base-960h architecture
(12 x 768, 94 M params) with the 9216 -> 512 projection, ``tiny`` a 2 x 32 test-size model. Each clip runs in
a fresh child process so that peaks do not mix; the child reports its resident-set peak (VmHWM) and its RSS
after building the encoder (the baseline), on CUDA also ``torch.cuda.max_memory_allocated``. The run fails
(exit 1) when the 10-minute peak exceeds 1.5x the 30-second peak.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEXT = (
    "The small boat drifted slowly across the quiet lake. Please open the window before the room gets too "
    "warm. A talking portrait moves its lips, its head and its eyes in time with the voice it hears. "
    "Every frame of the video follows one fortieth of a second of speech."
)
LIMIT = 1.5


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _build_encoder(kind: str):
    import torch
    from transformers import Wav2Vec2Config

    from float_audio import Wav2Vec2FrameEncoder

    torch.manual_seed(0)
    if kind == "base":
        # transformers' Wav2Vec2Config defaults are the wav2vec2-base architecture (12 layers, 768 hidden)
        return Wav2Vec2FrameEncoder.from_config(Wav2Vec2Config())
    config = Wav2Vec2Config(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(16,) * 7,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
    )
    return Wav2Vec2FrameEncoder.from_config(config, output_dim=16)


def child(audio: Path, kind: str, device: str) -> None:
    """Measure one clip in this (fresh) process and print a JSON line."""
    import torch

    from float_audio import load_audio

    torch.set_num_threads(max(1, torch.get_num_threads()))
    encoder = _build_encoder(kind).to(device)
    baseline = _rss_kib("VmRSS")
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        cuda_base = torch.cuda.memory_allocated()
    start = time.perf_counter()
    clip = load_audio(audio)
    features = encoder.encode(clip.waveform[None], num_frames=clip.num_frames)
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    result = {
        "audio_seconds": clip.duration,
        "frames": int(features.shape[1]),
        "finite": bool(torch.isfinite(features).all()),
        "baseline_mib": baseline / 1024,
        "peak_mib": _rss_kib("VmHWM") / 1024,
        "wall_s": seconds,
    }
    if device == "cuda":
        result["cuda_peak_mib"] = (torch.cuda.max_memory_allocated() - cuda_base) / 2**20
    print(json.dumps(result))


def make_speech(folder: Path, seconds: float) -> Path:
    """espeak-ng speech looped to ``seconds`` (16 kHz mono PCM wav)."""
    for tool in ("espeak-ng", "ffmpeg"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (apt-get install {tool})")
    raw = folder / "espeak.wav"
    if not raw.exists():
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(raw), TEXT], check=True)
    target = folder / f"speech_{seconds:g}s.wav"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-stream_loop", "-1", "-i", str(raw), "-t", str(seconds),
         "-ar", "16000", "-ac", "1", str(target)],
        check=True,
    )  # fmt: skip
    return target


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--encoder", choices=["base", "tiny"], default="base")
    parser.add_argument("--long-seconds", type=float, default=600.0)
    parser.add_argument("--short-seconds", type=float, default=30.0)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.encoder, args.device)
        return 0

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, seconds in (("short", args.short_seconds), ("long", args.long_seconds)):
            audio = make_speech(Path(tmp), seconds)
            command = [sys.executable, __file__, "--child", str(audio), "--encoder", args.encoder]
            output = subprocess.run(
                [*command, "--device", args.device], check=True, capture_output=True, text=True
            ).stdout
            results[label] = json.loads(output.strip().splitlines()[-1])
    short, long = results["short"], results["long"]
    print(f"encoder={args.encoder} device={args.device} (random weights; 30 s chunks, 4 s overlap)")
    print(
        f"{'clip':>8} {'audio s':>8} {'frames':>7} {'base MiB':>9} {'peak MiB':>9} {'+MiB':>8} {'wall s':>7}"
    )
    for label in ("short", "long"):
        r = results[label]
        extra = r["peak_mib"] - r["baseline_mib"]
        print(
            f"{label:>8} {r['audio_seconds']:8.1f} {r['frames']:7d} {r['baseline_mib']:9.0f} "
            f"{r['peak_mib']:9.0f} {extra:8.0f} {r['wall_s']:7.1f}"
            + (f"  cuda peak {r['cuda_peak_mib']:.0f} MiB" if "cuda_peak_mib" in r else "")
        )
    ratio = long["peak_mib"] / short["peak_mib"]
    extra_ratio = (long["peak_mib"] - long["baseline_mib"]) / max(
        1e-6, short["peak_mib"] - short["baseline_mib"]
    )
    print(f"peak RSS ratio long/short: {ratio:.3f} (limit {LIMIT}); above-baseline ratio: {extra_ratio:.3f}")
    if "cuda_peak_mib" in long:
        print(f"CUDA peak ratio long/short: {long['cuda_peak_mib'] / short['cuda_peak_mib']:.3f}")
    ok = ratio <= LIMIT and long["finite"] and short["finite"]
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
