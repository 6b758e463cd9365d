"""Where the decoder's time goes on this CPU: per-layer convolution rates and a profile of a whole frame.

Run: ``uv run python -m float_tools.bench.decoder_layers`` (512 px decoder shapes; ``--size 128`` for a quick
run, ``--no-profile`` / ``--no-rates`` to skip a part).

1. Rate table: every distinct convolution shape of the decoder at ``--size`` (the 3x3 stride-1 convs and the
   3x3 stride-2 transposed convs that upsample), batch 1, in five forms: fp32 NCHW, fp32 channels_last and
   bf16 channels_last through ``F.conv2d`` / ``F.conv_transpose2d`` (eager: oneDNN re-packs the weight into
   its blocked layout on every call), and fp32 / bf16 channels_last with the weight pre-packed once
   (``mkldnn::_convolution_pointwise``, what ``torch.compile`` with freezing emits). Printed in GFLOP/s
   (2 * multiply-adds / best seconds of ``--repeats``) with the whole-decoder conv FLOP count and the conv
   floor of one frame on this machine: the sum over layers of that layer's seconds at its measured rate.
2. Linear rates: the flow transformer's linear shapes (60-frame windows, batch 3 for guidance, width 1024),
   fp32 through MKL (``F.linear``) against oneDNN (``torch._C._nn.mkldnn_linear``, input conversion included).
3. Profile: ``torch.profiler`` over ``--frames`` frames of each decoder route (today's
   ``ChannelsLastRenderer``, the ``ActivationRenderer`` eager and, with ``--compile``, compiled), the self
   CPU time grouped into convolutions (oneDNN's transposed conv runs inside ``aten::_convolution``'s own
   time), the warp gather, linears, layout copies/casts, inductor's fused kernels and other small ops (the
   per-call weight modulation of today's route is among the small ops: mul/rsqrt/sum on weight tensors).

Figures are wall-clock on a shared machine: read them against each other, from the same run.
"""

from __future__ import annotations

import argparse
import math
import time
from collections import defaultdict
from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F

from float_motion_ae import (
    ChannelsLastRenderer,
    MotionAutoEncoder,
    Renderer,
    winograd_conv3x3,
    winograd_weight,
)

CL = torch.channels_last


def channel_plan(resolution: int, channel_base: int = 16384, channel_max: int = 512) -> int:
    """The official decoder's channels at a resolution (``MotionAEConfig``'s plan: 512@4..32, 256@64, ...)."""
    return max(1, min(channel_max, channel_base // resolution))


def decoder_shapes(size: int) -> list[tuple[str, int, int, int, bool]]:
    """Distinct conv shapes of the decoder: (name, in, out, input side, transposed), with their repeat."""
    shapes: list[tuple[str, int, int, int, bool]] = []
    c4 = channel_plan(4, 16384, 512)
    shapes.append((f"conv {c4}->{c4} @4", c4, c4, 4, False))
    res, in_ch = 8, c4
    while res <= size:
        out_ch = channel_plan(res, 16384, 512)
        shapes.append((f"convT {in_ch}->{out_ch} @{res // 2}->{res}", in_ch, out_ch, res // 2, True))
        shapes.append((f"conv {out_ch}->{out_ch} @{res}", out_ch, out_ch, res, False))
        in_ch, res = out_ch, res * 2
    return shapes


def conv_flops(in_ch: int, out_ch: int, side: int) -> float:
    """2 * multiply-adds of a 3x3 conv (or stride-2 transposed conv) over a ``side`` x ``side`` input."""
    return 2.0 * in_ch * out_ch * 9 * side * side


def best_seconds(fn: Callable[[], object], repeats: int, min_time: float = 0.05) -> float:
    """Best of ``repeats`` timings, each averaging enough calls to last ``min_time`` (after 2 warm-ups)."""
    fn()
    fn()
    start = time.perf_counter()
    fn()
    one = max(time.perf_counter() - start, 1e-6)
    inner = max(1, int(min_time / one))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - start) / inner)
    return best


def packed_conv(x: torch.Tensor, w: torch.Tensor, transposed: bool) -> Callable[[], torch.Tensor]:
    """A conv with its weight pre-packed once for oneDNN (what inductor's freezing emits)."""
    size = list(x.shape)
    if transposed:
        packed = torch.ops.mkldnn._reorder_convolution_transpose_weight(
            w, [0, 0], [0, 0], [2, 2], [1, 1], 1, size
        )
        return lambda: torch.ops.mkldnn._convolution_transpose_pointwise(
            x, packed, None, [0, 0], [0, 0], [2, 2], [1, 1], 1, "none", [], ""
        )
    packed = torch._C._nn.mkldnn_reorder_conv2d_weight(w.to_mkldnn(), [1, 1], [1, 1], [1, 1], 1, size)
    return lambda: torch.ops.mkldnn._convolution_pointwise(
        x, packed, None, [1, 1], [1, 1], [1, 1], 1, "none", [], ""
    )


LAYOUTS: tuple[tuple[str, torch.dtype, bool, bool | str], ...] = (
    ("fp32 NCHW", torch.float32, False, False),
    ("fp32 CL", torch.float32, True, False),
    ("bf16 CL", torch.bfloat16, True, False),
    ("fp32 packed", torch.float32, True, True),
    ("bf16 packed", torch.bfloat16, True, True),
    ("fp32 winograd", torch.float32, True, "winograd"),
    ("bf16 winograd", torch.bfloat16, True, "winograd"),
)
"""(column, dtype, channels_last, weight pre-packed or "winograd") of the rate table. The Winograd columns
(stride-1 layers only) time ``float_motion_ae``'s F(2x2, 3x3) conv with its transforms, rated at the direct
conv's FLOP count (so a rate above the CPU's peak means fewer multiplications, not a faster core)."""


def layer_rates(size: int, repeats: int) -> None:
    """Print the per-layer GFLOP/s table (see the module docstring) and the conv floor of a frame."""
    print(f"{'layer (batch 1, 3x3)':<30}{'GFLOP':>8}" + "".join(f"{name:>13}" for name, *_ in LAYOUTS))
    floor: dict[str, float] = defaultdict(float)
    total = 0.0
    for name, in_ch, out_ch, side, transposed in decoder_shapes(size):
        flops = conv_flops(in_ch, out_ch, side)
        total += flops
        rates = []
        for layout, dtype, cl, packed in LAYOUTS:
            x = torch.randn(1, in_ch, side, side).to(dtype)
            shape = (in_ch, out_ch, 3, 3) if transposed else (out_ch, in_ch, 3, 3)
            w = (torch.randn(shape) * 0.05).to(dtype)
            if cl:
                x, w = x.contiguous(memory_format=CL), w.contiguous(memory_format=CL)
            if packed == "winograd":
                if transposed:
                    rates.append(float("nan"))
                    continue
                run = partial(winograd_conv3x3, x, winograd_weight(w))
            elif packed:
                run = packed_conv(x, w, transposed)
            elif transposed:
                run = partial(F.conv_transpose2d, x, w, stride=2)
            else:
                run = partial(F.conv2d, x, w, padding=1)
            seconds = best_seconds(run, repeats)
            rates.append(flops / seconds / 1e9)
            if packed != "winograd":
                floor[layout] += seconds
        # The Winograd columns' floor: per layer, the faster of Winograd and the pre-packed direct conv.
        by_name = dict(zip([name for name, *_ in LAYOUTS], rates, strict=True))
        for dtype_tag in ("fp32", "bf16"):
            winograd_rate = by_name[f"{dtype_tag} winograd"]
            best_rate = max(
                by_name[f"{dtype_tag} packed"], 0.0 if math.isnan(winograd_rate) else winograd_rate
            )
            floor[f"{dtype_tag} winograd"] += flops / best_rate / 1e9
        print(f"{name:<30}{flops / 1e9:>8.3f}" + "".join(f"{rate:>13.0f}" for rate in rates))
    whole = "".join(f"{total / floor[name] / 1e9:>13.0f}" for name, *_ in LAYOUTS)
    print(f"{'all convs (one frame)':<30}{total / 1e9:>8.2f}{whole}")
    print("(winograd columns' totals: the faster of Winograd and the pre-packed direct conv per layer)")
    print("conv floor per frame at these rates (s): " + ", ".join(f"{n} {floor[n]:.3f}" for n, *_ in LAYOUTS))


FMT_LINEARS: tuple[tuple[int, int, int], ...] = (
    (180, 1024, 3072),
    (180, 1024, 1024),
    (180, 1024, 4096),
    (180, 4096, 1024),
)
"""(tokens, in, out) of the flow transformer's linears: 3 guidance rows x 60 frames, width 1024, MLP 4x."""


def linear_rates(repeats: int) -> None:
    """Print fp32 GFLOP/s of the FMT's linear shapes through MKL and through oneDNN."""
    print(f"{'fp32 linear (tokens x in -> out)':<36}{'MKL':>8}{'oneDNN':>8}")
    for tokens, fan_in, fan_out in FMT_LINEARS:
        x, w, b = torch.randn(tokens, fan_in), torch.randn(fan_out, fan_in), torch.randn(fan_out)
        wm, bm = w.to_mkldnn(), b.to_mkldnn()
        flops = 2.0 * tokens * fan_in * fan_out
        mkl = best_seconds(partial(F.linear, x, w, b), repeats)

        def onednn(x: torch.Tensor = x, wm: torch.Tensor = wm, bm: torch.Tensor = bm) -> torch.Tensor:
            return torch._C._nn.mkldnn_linear(x.to_mkldnn(), wm, bm).to_dense()

        rate = best_seconds(onednn, repeats)
        print(f"{f'{tokens} x {fan_in} -> {fan_out}':<36}{flops / mkl / 1e9:>8.0f}{flops / rate / 1e9:>8.0f}")


CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    # aten::_convolution's own time is oneDNN's transposed conv (it has no op of its own in the profile).
    ("convolution", ("conv", "_convolution", "mkldnn_convolution", "convolution", "mkldnn::_convolution")),
    ("warp (grid_sample/gather)", ("grid_sampler", "_embedding_bag", "embedding_bag", "grid_sample")),
    ("linear/matmul", ("addmm", "linear", "matmul", "mm", "bmm", "_mkl_linear", "_linear_pointwise")),
    ("layout/copy/cast", ("copy_", "contiguous", "clone", "to_copy", "_to_copy", "to", "permute", "reorder")),
)


def category(op: str) -> str:
    """The category of a profiler op name (``CATEGORIES``), else "small ops"."""
    name = op.split("::")[-1].lower()
    for label, keys in CATEGORIES:
        if any(name == key or name.startswith(key) for key in keys):
            return label
    if "graph" in name or "compiled" in name or "inductor" in name or "cpp" in name:
        return "compiled kernels (fused small ops)"
    return "small ops"


def profile_route(label: str, fn: Callable[[], object], frames: int) -> None:
    """Self CPU time per category over ``frames`` calls of ``fn`` (after one warm-up)."""
    fn()
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(frames):
            fn()
    totals: dict[str, float] = defaultdict(float)
    top: dict[str, float] = defaultdict(float)
    for event in prof.key_averages():
        seconds = event.self_cpu_time_total / 1e6 / frames
        totals[category(event.key)] += seconds
        top[event.key] += seconds
    whole = sum(totals.values())
    parts = ", ".join(
        f"{name} {sec * 1e3:.1f} ms ({sec / whole:.0%})"
        for name, sec in sorted(totals.items(), key=lambda kv: -kv[1])
    )
    print(f"{label}: {whole * 1e3:.1f} ms/frame self CPU; {parts}")
    heavy = sorted(top.items(), key=lambda kv: -kv[1])[:12]
    print("   top ops: " + ", ".join(f"{key} {sec * 1e3:.1f}" for key, sec in heavy))


def profiles(size: int, frames: int, compile_too: bool, only: str = "", dtypes: str = "fp32,bf16") -> None:
    """Profile each route at ``size`` in fp32 and bf16 (see the module docstring)."""
    from float_motion_ae import ActivationRenderer

    torch.manual_seed(0)
    model = MotionAutoEncoder(size=size).eval()
    model16 = MotionAutoEncoder(size=size).eval()
    model16.load_state_dict(model.state_dict())
    model16 = model16.to(torch.bfloat16)
    routes: list[tuple[str, Renderer]] = [
        ("channels_last", ChannelsLastRenderer()),
        ("activation", ActivationRenderer()),
    ]
    if compile_too:
        routes.append(("activation+compile", ActivationRenderer(compile=True)))
    if only:
        routes = [(name, renderer) for name, renderer in routes if name in only.split(",")]
    with torch.inference_mode():
        image = torch.rand(1, 3, size, size) * 2 - 1
        enc = model.encode(image)
        motion = torch.randn(1, model.config.latent_dim) * 0.5
        for m, tag in [(m, t) for m, t in ((model, "fp32"), (model16, "bf16")) if t in dtypes.split(",")]:
            feats = m.prepare_features(enc.features)
            identity = enc.identity.to(next(m.parameters()).dtype)
            mo = motion.to(identity.dtype)
            for name, renderer in routes:
                m.set_renderer(renderer)

                def run(
                    m: MotionAutoEncoder = m,
                    feats: tuple[torch.Tensor, ...] = feats,
                    identity: torch.Tensor = identity,
                    mo: torch.Tensor = mo,
                ) -> torch.Tensor:
                    return m.decode(identity, mo, feats)

                profile_route(f"{tag} {name}", run, frames)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=512, help="image side whose decoder shapes are timed")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per layer (best of)")
    parser.add_argument("--frames", type=int, default=3, help="profiled frames per route")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    parser.add_argument("--no-rates", action="store_true", help="skip the per-layer rate table")
    parser.add_argument("--no-profile", action="store_true", help="skip the whole-frame profiles")
    parser.add_argument("--compile", action="store_true", help="also profile the compiled activation route")
    parser.add_argument("--routes", default="", help="comma list of routes to profile (default: all)")
    parser.add_argument("--dtypes", default="fp32,bf16", help="comma list of dtypes to profile: fp32, bf16")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"CPU capability {torch.backends.cpu.get_cpu_capability()}, size {args.size}"
    )
    if not args.no_rates:
        layer_rates(args.size, args.repeats)
        linear_rates(args.repeats)
    if not args.no_profile:
        profiles(args.size, args.frames, args.compile, args.routes, args.dtypes)


if __name__ == "__main__":
    main()
