"""Whole-pipeline speed and memory: float-generate's streaming pipeline vs the official-style naive one.

Run: ``uv run python -m float_tools.bench.pipeline`` (paper-size models with random weights; long on a small
CPU)
or ``--small`` for a quick run on tiny models. Both pipelines use the same bundle, inputs and seed, in the
same process, interleaved; random weights are fine for speed (the compute does not depend on the values).

- ours: ``float_pipeline.Pipeline`` exactly as ``generate()`` runs it: chunked wav2vec2, windows streamed,
  decoder batched over ``--decode-batch`` frames with the source features computed once, frames encoded into
  the mp4 as they come (H.264 + AAC).
- naive (what the official generate.py does): whole-clip wav2vec2 in one pass, all windows sampled first
  (the flow's linears through ``F.linear``, not the oneDNN route ``Pipeline`` switches on for the CPU),
  every frame decoded alone in the official formulation (``float_tools.bench.decoder.baseline_decode``:
  grouped conv per
  sample, per-map FIR), all frames held in memory as float tensors, then written.

Printed figures: seconds of compute per second of video for each (and the ratio; the naive fp32 pipeline is
timed first under glibc's default allocator, as the official code runs, then every run with the tuned one),
time to first frame, and the peak RSS of ours for two audio lengths, each in a fresh subprocess: of the
whole process, and of the generation alone (VmHWM, reset once the models are loaded: their loading peak
would otherwise hide any growth with the clip length).
bf16 mode: the models are cast with ``model.to(torch.bfloat16)`` (``Pipeline.from_pretrained(dtype=
"bfloat16")``), not autocast; the warp's sampling grid stays float32 inside the decoder. On CPUs without
native bf16 (AVX512-BF16/AMX) oneDNN emulates it and bf16 is slower than fp32: the bench says so.

Full command (the issue's figures; about 40 minutes at paper size on 2 idle cores, most of it the 120 s
memory run):
    uv run python -m float_tools.bench.pipeline --seconds 4 --memory-seconds 10,120 --dtypes float32,bfloat16
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[3]
SPEECH = ROOT / "tests" / "fixtures" / "speech_en.wav"
PORTRAIT = ROOT / "tests" / "fixtures" / "portrait.png"


# ------------------------------------------------------------------------------------------- inputs
def make_speech(path: Path, seconds: float) -> Path:
    """Real speech (the committed espeak-ng fixture) tiled to ``seconds``, 16 kHz mono 16-bit."""
    with wave.open(str(SPEECH), "rb") as stream:
        rate = stream.getframerate()
        clip = np.frombuffer(stream.readframes(stream.getnframes()), dtype="<i2")
    total = round(seconds * rate)
    tiled = np.tile(clip, math.ceil(total / len(clip)))[:total]
    with wave.open(str(path), "wb") as stream:
        stream.setnchannels(1)
        stream.setsampwidth(2)
        stream.setframerate(rate)
        stream.writeframes(tiled.astype("<i2").tobytes())
    return path


def build_bundle(out: Path, small: bool) -> Path:
    """A random-weight bundle: paper size (AE 512 px, FMT 8x1024, wav2vec2-base) or tiny (``small``)."""
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    from float_audio import AudioProjection
    from float_flow import FlowMatchingTransformer
    from float_motion_ae import MotionAutoEncoder
    from float_pipeline import BundleManifest, GenerationDefaults, Wav2Vec2AudioSpec, save_bundle

    torch.manual_seed(0)
    if small:
        motion_ae = MotionAutoEncoder(size=64, channel_max=32)
        flow = FlowMatchingTransformer(dim_hidden=128, depth=2, num_heads=4)
        config = Wav2Vec2Config(
            hidden_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=128,
            conv_dim=(32,) * 7,
            num_conv_pos_embeddings=16,
            num_conv_pos_embedding_groups=2,
        )
    else:
        motion_ae, flow, config = MotionAutoEncoder(), FlowMatchingTransformer(), Wav2Vec2Config()
    backbone = Wav2Vec2Model(config)
    projection = AudioProjection(config.hidden_size * config.num_hidden_layers, 512)
    manifest = BundleManifest(
        resolution=motion_ae.config.size,
        audio=Wav2Vec2AudioSpec(backbone="audio_backbone"),
        defaults=GenerationDefaults(steps=9, emotion="neutral"),  # official: 9 Euler steps
        description="random weights, benchmark only",
    )
    return save_bundle(
        out,
        manifest=manifest,
        motion_ae=motion_ae,
        flow=flow,
        audio_projection=projection,
        audio_backbone=backbone,
        model_card="# random benchmark bundle\n",
        overwrite=True,
    )


# -------------------------------------------------------------------------------------------- ours
def run_ours(
    pipeline, audio: Path, out: Path, decode_batch: int, compile: str = "off"
) -> tuple[float, float, int]:
    """What ``Pipeline.generate`` does, with the first frame's time noted: (seconds, first frame, frames).

    ``compile``: ``GenerateOptions.compile``; the seconds include any compiling (``compiled_seconds``).
    """
    from float_pipeline import GenerateOptions, VideoWriter

    began = time.perf_counter()
    options = GenerateOptions(decode_batch=decode_batch, crop=False, compile=compile)
    clip = pipeline.prepare(PORTRAIT, audio, options)
    first = math.nan
    with VideoWriter(out, clip.audio.source, size=clip.frame_size) as writer:
        for frame in pipeline.render(clip):
            writer.write(frame)
            if writer.frames_written == 1:
                first = time.perf_counter() - began
    return time.perf_counter() - began, first, writer.frames_written


# ------------------------------------------------------------------------------------------- naive
@torch.no_grad()
def run_naive(pipeline, audio: Path, out: Path) -> tuple[float, float, int]:
    """The official inference flow on the same models: (seconds, first frame, frames)."""
    from float_audio import Wav2Vec2FrameEncoder, load_audio
    from float_data import to_model_tensor
    from float_flow import SamplerConfig, generate, use_onednn_linears
    from float_pipeline import VideoWriter, prepare_portrait, to_uint8_frames
    from float_tools.bench.decoder import baseline_decode

    bundle = pipeline.bundle
    dtype = pipeline.dtype
    began = time.perf_counter()
    portrait = prepare_portrait(PORTRAIT, bundle.resolution, crop=False)
    loaded = load_audio(audio)
    encoder = bundle.audio_encoder
    # whole clip in one pass: a chunk longer than any clip
    whole = Wav2Vec2FrameEncoder(
        encoder.backbone,
        config=encoder.config.model_copy(update={"chunk_seconds": 1e6, "overlap_seconds": 0}),
    )
    raw = whole.encode(loaded.waveform[None], loaded.num_frames)
    features = bundle.audio_projection(raw.to(dtype))
    encoded = bundle.motion_ae.encode(to_model_tensor(portrait.crop)[None].to(dtype))
    source = bundle.motion_ae.motion(encoded.coeffs)
    emotion = torch.zeros(1, 7, dtype=dtype)
    emotion[0, 4] = 1.0
    # The official flow runs its linears through F.linear (MKL), not the oneDNN route Pipeline switches on.
    switched = use_onednn_linears(bundle.flow, False)
    try:
        motion = generate(
            bundle.flow, source, features, emotion, seed=0, sampler=SamplerConfig.official(), audio_scale=2.0
        )[0]
    finally:
        if switched:
            use_onednn_linears(bundle.flow, True)
    frames = []
    first = math.nan
    for t in range(motion.shape[0]):  # one frame per decoder call, every frame kept
        frames.append(
            baseline_decode(bundle.motion_ae.dec, encoded.identity + motion[t : t + 1], encoded.features)
        )
        if t == 0:
            first = time.perf_counter() - began
    video = torch.cat(frames)
    with VideoWriter(out, loaded.source, size=(video.shape[2], video.shape[3])) as writer:
        for frame in to_uint8_frames(video):
            writer.write(frame)
    return time.perf_counter() - began, first, writer.frames_written


# ------------------------------------------------------------------------------------------ memory
def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) of this process; False where /proc has no clear_refs."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss_mib() -> float:
    """Peak RSS since start or the last ``reset_peak_rss`` (VmHWM), else getrusage's lifetime peak."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def compiled_seconds() -> float:
    """Seconds spent compiling the decoder so far in this process (``float_motion_ae.compiled``)."""
    from float_motion_ae import compiled

    return compiled.compile_seconds()


def run_compiled(pipeline, audio: Path, work: Path, decode_batch: int, tag: str) -> dict[str, float]:
    """Ours with ``compile="on"``, twice: with a cold inductor cache (a fresh dir), then with that cache warm
    (in-process compiled graphs dropped, the on-disk cache kept). Seconds of compute exclude compiling."""
    from float_motion_ae import compiled

    result: dict[str, float] = {}
    os.environ[compiled.CACHE_ENV] = str(Path(tempfile.mkdtemp(prefix="inductor-", dir=work)))
    for cache in ("cold", "warm"):
        compiled.reset_compiled()
        before = compiled_seconds()
        seconds, first, frames = run_ours(
            pipeline, audio, work / f"ours-{tag}-{cache}.mp4", decode_batch, "on"
        )
        spent = compiled_seconds() - before
        failure = compiled.compile_failure()
        if failure is not None:
            print(f"compile fell back to eager: {failure}")
        result.update({f"{cache}_total": seconds, f"{cache}_first": first, f"{cache}_compile": spent})
        result["frames"] = frames
    return result


def child_memory(bundle: Path, seconds: float, dtype: str, decode_batch: int, compile: str = "off") -> None:
    """Subprocess body: generate a ``seconds`` clip with ours (tuned allocator, as float-generate runs);
    print as JSON the peak RSS (MiB) of the whole process and of the generation alone (the mark is reset
    after the models are loaded, whose own peak would otherwise hide any growth with the clip length)."""
    from float_pipeline import Pipeline

    with tempfile.TemporaryDirectory() as folder:
        audio = make_speech(Path(folder) / "speech.wav", seconds)
        pipeline = Pipeline.from_pretrained(bundle, dtype=dtype, progress=False, tune_allocator=True)
        loaded_mib = peak_rss_mib()
        reset = reset_peak_rss()
        _, _, frames = run_ours(pipeline, audio, Path(folder) / "out.mp4", decode_batch, compile)
        generation_mib = peak_rss_mib() if reset else math.nan
    # Not getrusage: on Linux a child's ru_maxrss starts from its parent's RSS at fork (the bench's own
    # multi-GB models), whereas VmHWM belongs to this process alone.
    peak = max(loaded_mib, generation_mib) if reset else peak_rss_mib()
    report = {"seconds": seconds, "frames": frames, "peak_mib": peak, "after_load_mib": loaded_mib}
    print(json.dumps({**report, "generation_peak_mib": generation_mib}))


def measure_memory(
    bundle: Path, seconds: float, dtype: str, decode_batch: int, compile: str = "off"
) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", str(bundle), "--child-seconds", str(seconds)]
    command += ["--dtypes", dtype, "--decode-batch", str(decode_batch), "--compile", compile]
    done = subprocess.run(command, check=True, capture_output=True, text=True, env={**os.environ})
    return json.loads(done.stdout.strip().splitlines()[-1])


# -------------------------------------------------------------------------------------------- main
def native_bf16() -> bool:
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    return "avx512_bf16" in flags or "amx_bf16" in flags


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", action="store_true", help="tiny models (quick check of the harness)")
    parser.add_argument("--seconds", type=float, default=4.0, help="audio length of the speed runs")
    parser.add_argument(
        "--memory-seconds", default="10,120", help="two audio lengths for peak RSS ('' = skip)"
    )
    parser.add_argument("--dtypes", default="float32,bfloat16", help="comma list: float32, bfloat16")
    parser.add_argument("--decode-batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    parser.add_argument("--bundle", type=Path, help="reuse a bundle folder instead of building one")
    parser.add_argument(
        "--default-allocator",
        action="store_true",
        help="never tune glibc malloc (skips the untuned naive run)",
    )
    parser.add_argument(
        "--compile",
        default="off",
        help="comma list of decoder modes for ours: off, on (on: cold then warm inductor cache; compile time "
        "and first-frame latency reported apart). The memory runs use the last mode",
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-seconds", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child is not None:
        child_memory(args.child, args.child_seconds, args.dtypes, args.decode_batch, args.compile)
        return

    from float_motion_ae import ALLOCATOR_SETTING, tune_cpu_allocator
    from float_pipeline import Pipeline

    work = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    size = "small" if args.small else "paper-size"
    bundle = args.bundle or build_bundle(work / "bundle", args.small)
    print(
        f"config: {size} random weights, torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{os.cpu_count()} CPUs; native bf16: {native_bf16()}"
    )
    audio = make_speech(work / "speech.wav", args.seconds)
    video_seconds = math.ceil(args.seconds * 25) / 25
    naive_default = None
    if not args.default_allocator:
        # The official code runs with glibc's default allocator: time the naive fp32 pipeline that way first
        # (a warm-up clip, then the clip), then tune the allocator for every run after it.
        pipeline = Pipeline.from_pretrained(bundle, dtype="float32", progress=False, tune_allocator=False)
        run_naive(pipeline, make_speech(work / "warm.wav", 0.4), work / "warm-naive.mp4")
        naive_default = run_naive(pipeline, audio, work / "naive-default.mp4")[0] / video_seconds
        print(f"float32   naive, glibc default allocator: {naive_default:.2f} s/video-s", flush=True)
        del pipeline
        tune_cpu_allocator()
        print(f"allocator from here on: {ALLOCATOR_SETTING}")
    baseline_fp32 = None
    for dtype in [d for d in args.dtypes.split(",") if d]:
        pipeline = Pipeline.from_pretrained(
            bundle, dtype=dtype, progress=False, tune_allocator=not args.default_allocator
        )
        # warm-up on a short clip (oneDNN primitive creation, allocator growth), untimed
        run_ours(pipeline, make_speech(work / "warm.wav", 0.4), work / "warm.mp4", args.decode_batch)
        ours, ours_first, frames = run_ours(pipeline, audio, work / f"ours-{dtype}.mp4", args.decode_batch)
        naive, naive_first, naive_frames = run_naive(pipeline, audio, work / f"naive-{dtype}.mp4")
        assert frames == naive_frames == round(video_seconds * 25)
        if dtype == "float32":
            baseline_fp32 = naive / video_seconds
        line = (
            f"{dtype:9s} {args.seconds:.1f} s audio, {frames} frames: "
            f"ours {ours / video_seconds:.2f} s/video-s "
            f"(first frame {ours_first:.1f} s), naive {naive / video_seconds:.2f} s/video-s "
            f"(first frame {naive_first:.1f} s); ratio naive/ours {naive / ours:.2f}x"
        )
        if baseline_fp32 is not None and dtype != "float32":
            line += f"; vs fp32 naive {baseline_fp32 / (ours / video_seconds):.2f}x"
        if naive_default is not None:
            line += f"; vs fp32 naive with glibc defaults {naive_default / (ours / video_seconds):.2f}x"
        print(line, flush=True)
        if "on" in args.compile.split(","):
            r = run_compiled(pipeline, audio, work, args.decode_batch, dtype)
            rate = (r["warm_total"] - r["warm_compile"]) / video_seconds
            line = (
                f"{dtype:9s} ours, compile on: {rate:.2f} s/video-s of compute (compile excluded); ratio "
                f"naive/ours {naive / video_seconds / rate:.2f}x"
            )
            if baseline_fp32 is not None and dtype != "float32":
                line += f"; vs fp32 naive {baseline_fp32 / rate:.2f}x"
            if naive_default is not None:
                line += f"; vs fp32 naive with glibc defaults {naive_default / rate:.2f}x"
            print(line)
            print(
                f"{dtype:9s} ours, compile on, one-off compile: cold cache {r['cold_compile']:.1f} s, warm "
                f"cache {r['warm_compile']:.1f} s; first frame (call to first encoded frame): cold "
                f"{r['cold_first']:.1f} s, warm {r['warm_first']:.1f} s (compile off: {ours_first:.1f} s)",
                flush=True,
            )
    lengths = [float(s) for s in args.memory_seconds.split(",") if s]
    if lengths:
        mode = [m for m in args.compile.split(",") if m][-1]
        results = [measure_memory(bundle, s, "float32", args.decode_batch, mode) for s in lengths]
        print(f"memory runs: compile {mode}")
        for r in results:
            print(
                f"peak RSS ours fp32, {r['seconds']:.0f} s audio ({r['frames']} frames): during generation "
                f"{r['generation_peak_mib']:.0f} MiB; whole process {r['peak_mib']:.0f} MiB "
                f"(peak while loading the models: {r['after_load_mib']:.0f} MiB)"
            )
        if len(results) == 2:
            print(
                f"peak RSS ratio {lengths[1]:.0f} s / {lengths[0]:.0f} s: during generation "
                f"{results[1]['generation_peak_mib'] / results[0]['generation_peak_mib']:.3f}, whole process "
                f"{results[1]['peak_mib'] / results[0]['peak_mib']:.3f}"
            )


if __name__ == "__main__":
    main()
