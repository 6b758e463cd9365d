"""Benchmark: one 50-frame window at the paper config, batched guidance vs three separate forwards.

Samples one window with FLOAT's incremental audio/emotion guidance (g_a = 2, g_e = 1, so all three condition
variants are needed) at the paper/official transformer size (random weights: timing does not depend on
their values) and the official solver (9 Euler steps). Both variants run in the same process on the same
inputs and noise; the printed ratio is separate / batched (> 1 means the batched forward is faster), from
the medians and from the minima (the minima are the steadier figure on a machine shared with other jobs).

Run: ``uv run python -m float_tools.bench.sampler`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from float_flow import FlowMatchingTransformer, SamplerConfig, WindowConditions, sample_window


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per variant (median reported)")
    parser.add_argument("--nfe", type=int, default=9, help="Euler steps (official: 9)")
    parser.add_argument("--batch", type=int, default=1, help="clips sampled together")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = FlowMatchingTransformer().eval()  # paper config, 156.7 M parameters
    with torch.no_grad():  # the DiT init zeroes the gates and output: give them values so outputs differ
        for name, param in model.named_parameters():
            if "adaLN_modulation" in name or name.startswith("decoder.linear"):
                param.normal_(0.0, 0.02)
    model = model.to(device)
    B, cfg = args.batch, model.config
    cond = WindowConditions(
        source=torch.randn(B, cfg.dim_motion),
        audio=torch.randn(B, cfg.num_frames, cfg.dim_audio),
        emotion=torch.softmax(torch.randn(B, cfg.dim_emotion), dim=-1),
        prev_motion=torch.randn(B, cfg.num_prev_frames, cfg.dim_motion),
        prev_audio=torch.randn(B, cfg.num_prev_frames, cfg.dim_audio),
    ).to(device)
    sampler = SamplerConfig(method="euler", nfe=args.nfe)

    def run(batched: bool) -> tuple[float, torch.Tensor]:
        generator = torch.Generator(device=device).manual_seed(0)
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = sample_window(
            model,
            cond,
            generator=generator,
            sampler=sampler,
            audio_scale=2.0,
            emotion_scale=1.0,
            batched_guidance=batched,
        )
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start, out

    run(True), run(False)  # warm-up (allocator, kernels)
    batched_times, separate_times = [], []
    for _ in range(args.repeats):  # interleaved so load drift hits both variants alike
        t_b, out_b = run(True)
        t_s, out_s = run(False)
        batched_times.append(t_b)
        separate_times.append(t_s)
    max_diff = float((out_b - out_s).abs().max())
    t_b, t_s = statistics.median(batched_times), statistics.median(separate_times)
    print(
        f"device {device}, threads {torch.get_num_threads()}, batch {B}, window {cfg.num_frames} frames "
        f"+ {cfg.num_prev_frames} context, {args.nfe} Euler steps, g_a 2, g_e 1, {args.repeats} repeats"
    )
    runs_b = ", ".join(f"{t:.3f}" for t in batched_times)
    runs_s = ", ".join(f"{t:.3f}" for t in separate_times)
    print(f"batched guidance (1 forward of 3x batch per step): median {t_b:.3f} s  (runs {runs_b})")
    print(f"separate forwards (3 forwards per step):           median {t_s:.3f} s  (runs {runs_s})")
    print(f"max |batched - separate| = {max_diff:.2e}")
    ratio_min = min(separate_times) / min(batched_times)
    print(f"ratio separate / batched = {t_s / t_b:.2f} (medians); {ratio_min:.2f} (minima)")


if __name__ == "__main__":
    main()
