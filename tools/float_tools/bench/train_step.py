"""Training speed: steps/s of one stage-1 (auto-encoder) and one stage-2 (FMT) step, paper config, CPU.

Run: ``uv run python -m float_tools.bench.train_step`` (paper config: auto-encoder 512x512 full size, 45 M
params;
FMT 157 M params with 10 + 50 frames; batch 8) or ``--small`` (tiny models, seconds). Options: ``--help``.

``--demo --stage ae --ae-variants`` times the demo bundle's auto-encoder (64 px, 64 channels, batch 32, as
``apps/float-train/configs/demo-ae*.yaml`` train it: batch strategy "activations") four ways
in one run and prints each as a ratio of the first: every weight trained in float32 (baseline), under bf16
autocast (``mixed_precision: bf16``), the renderer only (``trainable: decoder``,
``MotionAutoEncoder.freeze_motion``), and both; then bf16 autocast once more with the activation bias kept
in float32, as ``FusedLeakyReLU`` added it before 2026-12-01: the float32 bias promoted every activation to
float32 and the next conv cast it back to bf16 (the row's ratio against the bf16 row is that change's
speed-up).

Each step is what ``float-train`` runs per optimizer step, built from the same packages with random weights
and random inputs of the right shapes and ranges:

- AE: ``MotionAutoEncoder(source, driving)`` -> ``MotionAELoss`` (L1; + LPIPS and L_comp-lp when
  ``--lpips-vgg`` names a VGG16 file) -> backward -> Adam.
- FMT: ``AudioProjection`` over raw features (official width 9216) -> ``flow_matching_loss`` (L_OT + L_vel,
  paper condition dropout) -> backward -> clip grad norm 1.0 -> Adam.

``--allocator-ab`` times every row twice in one process: first with glibc's default allocator, then after
``float_motion_ae.tune_cpu_allocator()`` (what ``float-train`` applies on the CPU since 2026-12-02,
``train.tune_cpu_allocator``). Rows then come in pairs, default then tuned; compare a pair's seconds per step.

Printed: the allocator setting (``float_motion_ae.tune_cpu_allocator`` is applied unless
``--default-allocator`` or ``--allocator-ab``), threads, then per stage the median and best seconds per step
over ``--steps`` timed steps after ``--warmup`` untimed ones, steps/s (from the median), samples/s, and the
ratio against the stage's first row.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F

from float_audio import AudioProjection
from float_flow import FlowMatchingTransformer, LossConfig, WindowConditions, flow_matching_loss
from float_motion_ae import ALLOCATOR_SETTING, MotionAutoEncoder, default_renderer, tune_cpu_allocator
from float_motion_ae.layers import FusedLeakyReLU
from float_motion_ae.training import LossWeights, MotionAELoss, PerceptualLoss

PAPER_AE = {"size": 512}
SMALL_AE = {"size": 64, "latent_dim": 64, "motion_dim": 8, "channel_base": 1024, "channel_max": 32}
# The demo bundle's auto-encoder (apps/float-train/configs/demo-ae.yaml), trained at batch 32.
DEMO_AE = {
    "size": 64,
    "latent_dim": 128,
    "motion_dim": 16,
    "channel_base": 2048,
    "channel_max": 64,
    "motion_layers": 2,
}
PAPER_FMT: dict[str, int] = {}
SMALL_FMT = {
    "dim_motion": 64,
    "dim_hidden": 64,
    "depth": 2,
    "num_heads": 4,
    "num_frames": 10,
    "num_prev_frames": 2,
    "freq_dim": 64,
}


def ae_step(
    config: dict,
    batch: int,
    lpips_vgg: str | None,
    bf16: bool = False,
    decoder_only: bool = False,
    activations: bool = False,
) -> tuple[Callable[[], float], int]:
    torch.manual_seed(0)
    model = MotionAutoEncoder(**config).train()
    if activations:
        # the demo configs' setting (float-train's default: auto)
        model.set_renderer(default_renderer(batch="activations"))
    if decoder_only:
        model.freeze_motion()
    size = model.config.size
    perceptual = PerceptualLoss(lpips_vgg) if lpips_vgg else None
    weights = LossWeights() if perceptual else LossWeights(perceptual=0, component=0)
    loss_fn = MotionAELoss(weights, perceptual)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    source = torch.rand(batch, 3, size, size) * 2 - 1
    driving = torch.rand(batch, 3, size, size) * 2 - 1

    def step() -> float:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            output = model(source, driving)
        loss = loss_fn(output.float(), driving).total
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    return step, sum(p.numel() for p in model.parameters())


def fmt_step(config: dict, batch: int, audio_width: int) -> tuple[Callable[[], float], int]:
    torch.manual_seed(0)
    flow = FlowMatchingTransformer(**config).train()
    cfg = flow.config
    projection = AudioProjection(in_dim=audio_width, out_dim=cfg.dim_audio)
    params = [p for m in (flow, projection) for p in m.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=1e-5)
    frames = cfg.num_prev_frames + cfg.num_frames
    motion = torch.randn(batch, frames, cfg.dim_motion)
    audio = torch.randn(batch, frames, audio_width)
    emotion = torch.softmax(torch.randn(batch, 7), dim=-1)
    generator = torch.Generator().manual_seed(0)
    P = cfg.num_prev_frames

    def step() -> float:
        projected = projection(audio)
        cond = WindowConditions(
            source=motion[:, 0],
            audio=projected[:, P:],
            emotion=emotion,
            prev_motion=motion[:, :P],
            prev_audio=projected[:, :P],
        )
        loss = flow_matching_loss(flow, motion[:, P:], cond, config=LossConfig(), generator=generator).total
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    return step, sum(p.numel() for p in flow.parameters()) + sum(p.numel() for p in projection.parameters())


@contextlib.contextmanager
def float32_activation_bias() -> Iterator[None]:
    """``FusedLeakyReLU`` as it was before 2026-12-01: ``x + bias`` with the float32 bias (the baseline)."""
    current = FusedLeakyReLU.forward

    def promoting(self: FusedLeakyReLU, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x + self.bias, self.negative_slope) * self.gain

    FusedLeakyReLU.forward = promoting  # type: ignore[method-assign]
    try:
        yield
    finally:
        FusedLeakyReLU.forward = current  # type: ignore[method-assign]


def measure(step: Callable[[], float], warmup: int, steps: int, label: str) -> list[float]:
    for _ in range(warmup):
        step()
    times = []
    for i in range(steps):
        start = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - start)
        print(f"  {label} step {i + 1}/{steps}: {times[-1]:.3f} s (loss {loss:.4f})", flush=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", action="store_true", help="tiny models instead of the paper config")
    parser.add_argument("--demo", action="store_true", help="the demo bundle's auto-encoder (batch 32)")
    parser.add_argument(
        "--ae-variants",
        action="store_true",
        help="also time the AE under bf16 autocast, renderer-only, and both (ratios vs the fp32 step)",
    )
    parser.add_argument("--batch", type=int, default=None, help="samples per step (paper: 8, demo: 32)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per stage")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--stage", choices=["both", "ae", "fmt"], default="both")
    parser.add_argument("--lpips-vgg", default=None, help="vgg16-397923af.pth: add LPIPS + L_comp-lp")
    parser.add_argument("--default-allocator", action="store_true", help="skip tune_cpu_allocator()")
    parser.add_argument(
        "--allocator-ab",
        action="store_true",
        help="time each row with glibc's default allocator, then again after tune_cpu_allocator()",
    )
    args = parser.parse_args()
    if args.batch is None:
        args.batch = 32 if args.demo else 8
    ae_config = DEMO_AE if args.demo else SMALL_AE if args.small else PAPER_AE

    untuned = args.default_allocator or args.allocator_ab
    tuned = False if untuned else tune_cpu_allocator()
    print(f"allocator: {ALLOCATOR_SETTING if tuned else 'glibc defaults'}")
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, "
        f"{'demo' if args.demo else 'small' if args.small else 'paper'} config"
    )
    rows = time_rows(args, ae_config, "")
    if args.allocator_ab:
        # Tuning cannot be undone within a process, so the default-allocator rows always run first.
        if not tune_cpu_allocator():
            raise SystemExit("--allocator-ab: tune_cpu_allocator() is not available on this platform")
        print(f"allocator now: {ALLOCATOR_SETTING}")
        tuned_rows = time_rows(args, ae_config, ", tuned allocator")
        rows = [row for pair in zip(rows, tuned_rows, strict=True) for row in pair]
    print()
    header = "median s/step | best s/step | steps/s | samples/s | vs the stage's first row"
    print(f"| step ({args.batch} per step) | {header} |")
    print("|---|---|---|---|---|---|")
    firsts: dict[str, float] = {}
    for label, times in rows:
        median = statistics.median(times)
        first = firsts.setdefault(label.split()[0], median)
        print(
            f"| {label} | {median:.3f} | {min(times):.3f} | {1 / median:.3f} | {args.batch / median:.2f} "
            f"| {first / median:.2f}x |"
        )


def time_rows(args: argparse.Namespace, ae_config: dict, suffix: str) -> list[tuple[str, list[float]]]:
    """Time every step the options ask for; ``suffix`` ends each row's label."""
    rows = []
    if args.stage in ("both", "ae"):
        variants = [(False, False, False)]
        if args.ae_variants:
            variants += [(True, False, False), (False, True, False), (True, True, False), (True, False, True)]
        for bf16, decoder_only, old_bias in variants:
            with float32_activation_bias() if old_bias else contextlib.nullcontext():
                step, params = ae_step(
                    ae_config, args.batch, args.lpips_vgg, bf16, decoder_only, activations=args.demo
                )
                label = f"AE {params / 1e6:.2f} M" + (" L1+LPIPS" if args.lpips_vgg else " L1")
                label += ", bf16 autocast" if bf16 else ", fp32"
                label += ", renderer only" if decoder_only else ""
                label += ", float32 activation bias (before 2026-12-01)" if old_bias else ""
                rows.append((label + suffix, measure(step, args.warmup, args.steps, "AE")))
                del step
    if args.stage in ("both", "fmt"):
        step, params = fmt_step(
            SMALL_FMT if args.small else PAPER_FMT, args.batch, 80 if args.small else 9216
        )
        label = f"FMT+proj {params / 1e6:.2f} M" + suffix
        rows.append((label, measure(step, args.warmup, args.steps, "FMT")))
    return rows


if __name__ == "__main__":
    main()
