"""Audio chunk length against the official whole-clip encoding: feature difference and peak memory.

Run: ``uv run python -m float_tools.bench.audio_chunking`` (options: ``--encoder base|tiny``, ``--seconds
40``,
``--chunks 0,30,20,10,5``, ``--memory-seconds 40,120``, ``--no-memory``).

The official release runs wav2vec2 over the whole clip at once; FLOAT-kit encodes clips longer than
``chunk_seconds`` in chunks cross-faded over ``overlap_seconds`` (4 s, shortened to a quarter of shorter
chunks) so memory stays bounded (``chunk_seconds=0``: whole clip, official). This measures what that costs
in features: real espeak-ng speech looped to ``--seconds``, encoded whole and at each chunk length by the same
random-weight encoder (``base``: the wav2vec2-base-960h architecture, 12 x 768, all layers -> 9216 -> the
official Linear + LayerNorm + SiLU projection to 512; ``tiny``: a 2 x 32 test model), and compared frame by
frame after the projection (what the flow sees): max and mean absolute difference, the max as a share of
the whole-clip features' range, and the relative L2 error. Random weights give the architecture's behaviour,
not the trained model's numbers. Peak memory (VmHWM above the RSS after building the encoder) is measured in
a fresh child process per (clip length, chunk) pair.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from audio_memory import _build_encoder, _rss_kib, make_speech


def _projected(kind: str):
    """The encoder with a seeded random projection (the official 9216 -> 512 for ``base``)."""
    import torch

    encoder = _build_encoder(kind)
    torch.manual_seed(1)
    if encoder.projection is not None:
        for parameter in encoder.projection.parameters():
            torch.nn.init.normal_(parameter, std=1.0 / parameter.shape[-1] ** 0.5)
    return encoder.eval()


def child(audio: Path, kind: str, chunk: float) -> None:
    """Peak memory of one encoding in this (fresh) process; prints a JSON line."""
    from float_audio import load_audio

    encoder = _projected(kind).with_chunking(chunk)
    clip = load_audio(audio)
    baseline = _rss_kib("VmRSS")
    start = time.perf_counter()
    encoder.encode(clip.waveform[None], num_frames=clip.num_frames)
    wall = time.perf_counter() - start
    print(json.dumps({"extra_mib": (_rss_kib("VmHWM") - baseline) / 1024, "wall_s": wall}))


def differences(audio: Path, kind: str, chunks: list[float]) -> list[dict[str, float]]:
    """Feature differences of each chunk length against the whole clip, in one process."""
    from float_audio import load_audio, plan_chunks

    encoder = _projected(kind)
    clip = load_audio(audio)
    waveform = clip.waveform[None]
    whole = encoder.with_chunking(0).encode(waveform, num_frames=clip.num_frames)
    spread = float(whole.max() - whole.min())
    rows = []
    for chunk in chunks:
        chunked = encoder.with_chunking(chunk)
        features = chunked.encode(waveform, num_frames=clip.num_frames)
        diff = (features - whole).abs()
        count = (
            1
            if chunk == 0
            else len(plan_chunks(clip.num_frames, chunked.config.chunk_frames, chunked.config.overlap_frames))
        )
        rows.append(
            {
                "chunk_s": chunk,
                "overlap_s": chunked.config.overlap_seconds if chunk else 0.0,
                "chunks": count,
                "max_abs": float(diff.max()),
                "mean_abs": float(diff.mean()),
                "max_share_of_range": float(diff.max()) / spread,
                "relative_l2": float((features - whole).norm() / whole.norm()),
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--encoder", choices=["base", "tiny"], default="base")
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--chunks", default="0,30,20,10,5")
    parser.add_argument("--memory-seconds", default="40,120")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--chunk", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.encoder, args.chunk)
        return 0
    chunks = [float(c) for c in args.chunks.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        audio = make_speech(Path(tmp), args.seconds)
        rows = differences(audio, args.encoder, chunks)
        print(f"encoder={args.encoder} (random weights), {args.seconds:g} s of espeak-ng speech")
        print("| chunk s | overlap s | chunks | max abs diff | mean abs diff | max / range | rel. L2 |")
        print("|---|---|---|---|---|---|---|")
        for r in rows:
            label = "0 (whole, official)" if r["chunk_s"] == 0 else f"{r['chunk_s']:g}"
            print(
                f"| {label} | {r['overlap_s']:g} | {r['chunks']} | {r['max_abs']:.3g} | "
                f"{r['mean_abs']:.3g} | {100 * r['max_share_of_range']:.2f}% | {r['relative_l2']:.3g} |"
            )
        if args.no_memory:
            return 0
        lengths = [float(s) for s in args.memory_seconds.split(",")]
        print(f"\npeak memory above the loaded encoder (MiB) and wall time (s), encoder={args.encoder}")
        print("| chunk s | " + " | ".join(f"{s:g} s clip" for s in lengths) + " |")
        print("|---|" + "---|" * len(lengths))
        clips = {s: make_speech(Path(tmp), s) for s in lengths}
        for chunk in chunks:
            cells = []
            for seconds in lengths:
                command = [
                    sys.executable,
                    __file__,
                    "--child",
                    str(clips[seconds]),
                    "--encoder",
                    args.encoder,
                ]
                output = subprocess.run(
                    [*command, "--chunk", str(chunk)], check=True, capture_output=True, text=True
                ).stdout
                result = json.loads(output.strip().splitlines()[-1])
                cells.append(f"{result['extra_mib']:.0f} MiB, {result['wall_s']:.1f} s")
            label = "0 (whole)" if chunk == 0 else f"{chunk:g}"
            print(f"| {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
