"""Decoder speed: float-motion-ae's decoder vs the official formulation, same weights, one run.

Run: ``uv run python -m float_tools.bench.decoder`` (full 512x512 config, a few frames; ``--help`` for
options). ``--compile`` adds the ``ActivationRenderer`` under ``torch.compile`` (inductor with freezing; the
one-off compile time is printed apart, with the cache dir and whether it was warm at start).

The baseline recomputes the same graph the way the official FLOAT code does (written here from its
description, not copied): a per-sample modulated weight and a grouped convolution with groups = batch, FIR
blur/upsampling as a 1-channel convolution over every feature map (upfirdn2d "native" style), NCHW fp32, the
sampling grid rebuilt with numpy at every level of every call, and one frame per call. Both decoders read the
parameters of one ``MotionAutoEncoder`` with random weights, fed by the encoder features of a real image;
ours reads them through ``prepare_features`` (once per source, as float-generate does).

Printed: seconds per frame (best of ``--frames`` interleaved timed calls after a warm-up: the minimum is the
least disturbed by other processes on a shared CPU), the speed-up against the baseline as the official code
runs (glibc's default allocator) and against the baseline with the tuned allocator, the max abs difference
of the output images against the baseline and against a float64 run of the baseline (the flow warps amplify
float32 rounding: on random weights at 512x512 two correct fp32 implementations differ by far more than
1e-4), the mean difference against float64, and the channels-last kernels' own error: every layer fed the
baseline's input of that layer. bf16 rows run only on CPUs with native bf16 (``--bf16 on`` forces them).
The allocator setting is printed too: the baseline is first timed with glibc defaults, then glibc malloc is
tuned with ``float_motion_ae.tune_cpu_allocator()`` for every row after it; ``--default-allocator`` skips it.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from float_motion_ae import (
    ALLOCATOR_SETTING,
    ActivationRenderer,
    ChannelsLastRenderer,
    FusedRenderer,
    MotionAutoEncoder,
    ReferenceRenderer,
    Renderer,
    compiled,
    default_renderer,
    tune_cpu_allocator,
)
from float_motion_ae.decoder import ModulatedConv2d, StyledConv, Synthesis, ToFlow, ToRGB
from float_motion_ae.renderers import channels_last

# The decoder routes timed below, by the names the rows print.
RENDERERS: dict[str, Renderer] = {
    "reference": ReferenceRenderer(),
    "fused": FusedRenderer(),
    "winograd": FusedRenderer(winograd=True),
    "channels_last": ChannelsLastRenderer(),
    "auto": default_renderer(),
    "activation": ActivationRenderer(),
    "compiled": ActivationRenderer(compile=True),
    "direct_compiled": ActivationRenderer(compile=True, winograd=False),
}


# ------------------------------------------------------------------------------------ official-style baseline
def fir_per_map(x: torch.Tensor, kernel: torch.Tensor, up: int, pad: tuple[int, int]) -> torch.Tensor:
    """Zero-insert upsample by ``up``, pad, convolve each map as its own 1-channel image."""
    batch, channels, height, width = x.shape
    x = x.reshape(batch * channels, 1, height, 1, width, 1)
    x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
    x = x.reshape(batch * channels, 1, height * up, width * up)
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    x = F.conv2d(x, torch.flip(kernel, [0, 1])[None, None])
    return x.reshape(batch, channels, x.shape[-2], x.shape[-1])


def modconv_grouped(mc: ModulatedConv2d, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    batch, in_ch, height, width = x.shape
    s = mc.modulation(style).view(batch, 1, in_ch, 1, 1)
    weight = mc.scale * mc.weight * s
    if mc.demodulate:
        weight = weight * torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8).view(batch, mc.out_ch, 1, 1, 1)
    k = mc.kernel_size
    if mc.upsample:
        weight = weight.transpose(1, 2).reshape(batch * in_ch, mc.out_ch, k, k)
        out = F.conv_transpose2d(x.reshape(1, batch * in_ch, height, width), weight, stride=2, groups=batch)
        out = out.view(batch, mc.out_ch, out.shape[-2], out.shape[-1])
        return fir_per_map(out, mc.blur.kernel, 1, mc.blur.pad)
    weight = weight.view(batch * mc.out_ch, in_ch, k, k)
    out = F.conv2d(x.reshape(1, batch * in_ch, height, width), weight, padding=mc.padding, groups=batch)
    return out.view(batch, mc.out_ch, height, width)


def styled(layer: StyledConv, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    out = modconv_grouped(layer.conv, x, style)
    return F.leaky_relu(out + layer.activate.bias, 0.2) * math.sqrt(2.0)


def to_rgb(layer: ToRGB, x: torch.Tensor, skip: torch.Tensor | None) -> torch.Tensor:
    conv, act = layer.conv[0], layer.conv[1]
    out = F.conv2d(x, conv.weight * conv.scale)
    out = F.leaky_relu(out + act.bias, 0.2) * math.sqrt(2.0) + layer.bias
    if skip is not None:
        out = out + fir_per_map(skip, layer.upsample.kernel, 2, (2, 1))
    return out


def to_flow(
    layer: ToFlow, x: torch.Tensor, style: torch.Tensor, feat: torch.Tensor, skip: torch.Tensor | None
):
    out = modconv_grouped(layer.conv, x, style) + layer.bias
    size = x.shape[2]
    xs = np.linspace(-1, 1, size)
    grid = np.stack(np.meshgrid(xs, xs), 2)
    grid = torch.tensor(grid).to(x.dtype).unsqueeze(0).repeat(x.shape[0], 1, 1, 1)
    if skip is not None:
        out = out + fir_per_map(skip, layer.upsample.kernel, 2, (2, 1))
    flow = torch.tanh(out[:, 0:2]).permute(0, 2, 3, 1) + grid
    mask = torch.sigmoid(out[:, 2:3])
    warped = F.grid_sample(feat, flow, align_corners=False) * mask
    return warped, warped + x * (1 - mask), out


def baseline_decode(dec: Synthesis, latent: torch.Tensor, feats: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """One frame: ``latent`` [1, d], ``feats`` batch 1 -> [1, 3, S, S]."""
    out = dec.input.input.repeat(latent.shape[0], 1, 1, 1)
    out = styled(dec.conv1, out, latent)
    flow = rgb = None
    for level, feat in enumerate(feats):
        out = styled(dec.convs[2 * level], out, latent)
        out = styled(dec.convs[2 * level + 1], out, latent)
        warped, out, flow = to_flow(dec.to_flows[level], out, latent, feat, flow)
        rgb = to_rgb(dec.to_rgbs[level], warped, rgb)
    return rgb


def layerwise_error(
    dec: Synthesis, latent: torch.Tensor, feats: tuple[torch.Tensor, ...]
) -> tuple[float, str, float, str]:
    """Error of each channels-last layer against the baseline layer fed the SAME input.

    Walks the baseline graph; at every styled conv and every flow/warp/RGB head, ours runs on the baseline's
    input of that layer. This is the kernels' own error, free of the amplification through later warps.

    Returns:
        ``(max abs diff, its layer, max abs diff / max |value| of that layer's output, its layer)``.
    """
    worst_abs, worst_rel = 0.0, 0.0
    where_abs = where_rel = ""

    def check(name: str, ours: torch.Tensor, theirs: torch.Tensor) -> None:
        nonlocal worst_abs, worst_rel, where_abs, where_rel
        diff = (ours.float() - theirs.float()).abs().max().item()
        rel = diff / max(theirs.abs().max().item(), 1e-30)
        if diff > worst_abs:
            worst_abs, where_abs = diff, name
        if rel > worst_rel:
            worst_rel, where_rel = rel, name

    def styled_pair(name: str, layer: StyledConv, x: torch.Tensor) -> torch.Tensor:
        theirs = styled(layer, x, latent)
        check(f"{name} {list(theirs.shape[1:])}", channels_last.styled_conv(layer, x, latent), theirs)
        return theirs

    out = styled_pair("conv1", dec.conv1, dec.input.input.repeat(latent.shape[0], 1, 1, 1))
    flow = rgb = None
    for level, feat in enumerate(feats):
        out = styled_pair("upsampling conv", dec.convs[2 * level], out)
        out = styled_pair("conv", dec.convs[2 * level + 1], out)
        table = channels_last.map_rows(channels_last.to_channels_last(feat))
        sampled, mask, pre = channels_last.flow_and_warp(dec.to_flows[level], out, latent, table, flow)
        warped, blended, theirs_pre = to_flow(dec.to_flows[level], out, latent, feat, flow)
        height, width = out.shape[2], out.shape[3]
        check(f"flow head @{height}", pre, theirs_pre)
        check(f"warp @{height}", channels_last.rows_map(sampled * mask, height, width), warped)
        rgb_ours = channels_last.masked_rgb(dec.to_rgbs[level], sampled, mask, rgb, height, width)
        rgb = to_rgb(dec.to_rgbs[level], warped, rgb)
        check(f"rgb @{height}", rgb_ours, rgb)
        out, flow = blended, theirs_pre
    return worst_abs, where_abs, worst_rel, where_rel


# ----------------------------------------------------------------------------------------------- timing
def time_per_frame(fn: Callable[[], torch.Tensor], frames_per_call: int, calls: int) -> float:
    """Best (minimum) seconds per frame over ``calls`` calls after one warm-up call."""
    fn()  # warm-up: oneDNN primitive creation, allocator growth
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) / frames_per_call)
    return min(samples)


def real_image(size: int) -> torch.Tensor:
    """A real face crop (skimage astronaut) resized to size x size in [-1, 1]; noise if skimage is absent."""
    try:
        from skimage import data
    except ImportError:
        return torch.rand(1, 3, size, size) * 2 - 1
    img = torch.from_numpy(data.astronaut()[0:300, 100:400].copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    return F.interpolate(img, size=(size, size), mode="bilinear", align_corners=False).clamp(-1, 1)


def native_bf16() -> bool:
    """True when the CPU has bf16 arithmetic (AVX512-BF16 / AMX); AVX2 CPUs emulate it very slowly."""
    flags = ""
    try:
        with open("/proc/cpuinfo") as info:
            flags = next((line for line in info if line.startswith("flags")), "")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=512, help="image side (default: the official 512)")
    parser.add_argument("--frames", type=int, default=3, help="timed calls per measurement (best of)")
    parser.add_argument("--batch", type=int, default=2, help="frames per call for our batched row")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    parser.add_argument("--default-allocator", action="store_true", help="never tune glibc malloc")
    parser.add_argument(
        "--compile",
        action="store_true",
        help="also time ActivationRenderer(compile=True) (torch.compile; compile time printed apart)",
    )
    parser.add_argument(
        "--bf16", choices=["auto", "on", "off"], default="auto", help="auto: only on CPUs with native bf16"
    )
    args = parser.parse_args()

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = MotionAutoEncoder(size=args.size).eval()
    dec = model.dec
    print(f"decoder bench: size {args.size}, {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M params")
    capability = torch.backends.cpu.get_cpu_capability()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, CPU capability {capability}")
    run_bf16 = args.bf16 == "on" or (args.bf16 == "auto" and native_bf16())
    model16 = None
    if run_bf16:  # built outside inference_mode so that its weight-derived constants are cached
        model16 = MotionAutoEncoder(size=args.size).eval()
        model16.load_state_dict(model.state_dict())
        model16 = model16.to(torch.bfloat16)

    with torch.inference_mode():
        enc = model.encode(real_image(args.size))
        torch.manual_seed(1)
        motions = torch.randn(args.batch, model.config.latent_dim) * 0.5
        latent = enc.identity + motions[:1]
        feats = enc.features
        # Once per source, as float-generate does: channels_last maps (and float32 for the bf16 model).
        prepared = model.prepare_features(feats)

        def baseline() -> torch.Tensor:
            return baseline_decode(dec, latent, feats)

        def ours_with(kernels: str, batch: int = 1) -> Callable[[], torch.Tensor]:
            maps = prepared if kernels in ("auto", "channels_last", "activation", "compiled") else feats

            def run() -> torch.Tensor:
                model.set_renderer(RENDERERS[kernels])
                return model.decode(enc.identity, motions[:batch], maps)

            return run

        default_name = type(RENDERERS["auto"]).__name__.removesuffix("Renderer")
        variants = [
            ("ours, reference kernels, batch 1", "reference", ours_with("reference"), 1),
            ("ours, fused NCHW (exact), batch 1", "fused", ours_with("fused"), 1),
            ("ours, fused NCHW + Winograd", "winograd", ours_with("winograd"), 1),
            ("ours, channels_last", "channels_last", ours_with("channels_last"), 1),
            (
                f"ours, default ({default_name}), batch {args.batch}",
                "batch",
                ours_with("auto", args.batch),
                args.batch,
            ),
            ("ours, ActivationRenderer (eager)", "activation", ours_with("activation"), 1),
        ]
        if args.compile:
            variants += [
                (
                    "ours, ActivationRenderer, compile, no Winograd",
                    "direct_compiled",
                    ours_with("direct_compiled"),
                    1,
                ),
                ("ours, ActivationRenderer, torch.compile", "compiled", ours_with("compiled"), 1),
            ]
        if model16 is not None:
            identity16, motion16 = enc.identity.bfloat16(), motions[:1].bfloat16()
            prepared16 = model16.prepare_features(feats)

            def ours16(kernels: str) -> Callable[[], torch.Tensor]:
                def run() -> torch.Tensor:
                    model16.set_renderer(RENDERERS[kernels])
                    return model16.decode(identity16, motion16, prepared16)

                return run

            variants += [
                ("ours bf16, official order (reference)", "bf16_reference", ours16("reference"), 1),
                ("ours bf16, channels_last (default)", "bf16", ours16("auto"), 1),
                ("ours bf16, ActivationRenderer (eager)", "bf16_activation", ours16("activation"), 1),
            ]
            if args.compile:
                variants += [
                    ("ours bf16, compile, no Winograd", "bf16_direct_compiled", ours16("direct_compiled"), 1),
                    ("ours bf16, ActivationRenderer, compile", "bf16_compiled", ours16("compiled"), 1),
                ]

        ref = baseline()
        scale = ref.abs().max().item()
        if args.compile:
            cache = compiled.use_user_cache_dir()
            print(f"inductor cache: {cache} ({'warm' if compiled.cache_is_warm() else 'cold'} at start)")
        outputs = {}
        for _, key, fn, _ in variants:
            before = compiled.compile_seconds()
            started = time.perf_counter()
            outputs[key] = fn()[:1].float()
            if key.endswith("compiled"):
                failure = compiled.compile_failure()
                print(
                    f"{key}: first call {time.perf_counter() - started:.1f} s, of which compiling "
                    f"{compiled.compile_seconds() - before:.1f} s (one-off, not in the per-frame times)"
                    + (f"; FELL BACK TO EAGER: {failure}" if failure else "")
                )
        # Float64 "truth": the warps amplify float32 rounding, so also report each decoder's own error.
        dec64 = MotionAutoEncoder(size=args.size).eval()
        dec64.load_state_dict(model.state_dict())
        dec64 = dec64.double()
        truth = baseline_decode(dec64.dec, latent.double(), tuple(f.double() for f in feats)).float()
        vs_truth = {"base": (ref - truth).abs().max().item()}
        vs_truth.update({key: (out - truth).abs().max().item() for key, out in outputs.items()})
        # The max is set by a few pixels where a warp lands near a feature edge; the mean shows the bulk.
        mean_vs_truth = {"base": (ref - truth).abs().mean().item()}
        mean_vs_truth.update({key: (out - truth).abs().mean().item() for key, out in outputs.items()})
        del dec64
        per_layer = layerwise_error(dec, latent, feats)

        t_default = None
        if not args.default_allocator:
            # The official code runs with glibc defaults: time it that way first, then tune for the rest.
            t_default = time_per_frame(baseline, 1, args.frames)
            tuned = tune_cpu_allocator()
        else:
            tuned = False
        print(f"allocator: {ALLOCATOR_SETTING if tuned else 'glibc defaults (not tuned)'}")

        # Interleave the measurements so that load from other processes hits every decoder alike.
        timed = [("base", baseline, 1)] + [(key, fn, n) for _, key, fn, n in variants]
        for _, fn, _ in timed:
            fn()
        samples: dict[str, list[float]] = {key: [] for key, _, _ in timed}
        for _ in tqdm(range(args.frames), desc="timing (interleaved)", leave=False):
            for key, fn, n in timed:
                start = time.perf_counter()
                fn()
                samples[key].append((time.perf_counter() - start) / n)
        model.set_renderer(RENDERERS["auto"])
        t_base = min(samples["base"])
        rows: list[tuple[str, float, float, float]] = []
        if t_default is not None:
            rows.append(("baseline, glibc default allocator", t_default, 0.0, vs_truth["base"]))
        rows.append(("baseline (official-style, fp32, batch 1)", t_base, 0.0, vs_truth["base"]))
        for name, key, _, _ in variants:
            err = (outputs[key] - ref).abs().max().item()
            rows.append((name, min(samples[key]), err, vs_truth[key]))

    print(f"output max |value| (baseline): {scale:.3f}; fp64 = the official-style graph in float64")
    first = t_default if t_default is not None else t_base
    header = (
        f"{'decoder':<44}{'s/frame':>9}{'vs base':>9}{'vs tuned':>10}{'max|diff| base':>16}"
        f"{'max|diff| fp64':>16}"
    )
    print(header)
    for name, seconds, err, err64 in rows:
        print(
            f"{name:<44}{seconds:>9.4f}{first / seconds:>8.2f}x{t_base / seconds:>9.2f}x{err:>16.2e}"
            f"{err64:>16.2e}"
        )
    means = ", ".join(f"{key} {value:.1e}" for key, value in mean_vs_truth.items())
    print(f"mean |diff| vs fp64: {means}")
    print(
        "vs base: against the baseline as the official code runs (glibc defaults); vs tuned: against the "
        "baseline with the tuned allocator."
    )
    worst_abs, where_abs, worst_rel, where_rel = per_layer
    print(
        f"channels_last fp32, each layer fed the baseline's input of that layer (the kernels' own error; end "
        f"to end, random-weight warps amplify rounding): max |diff| {worst_abs:.2e} ({where_abs}); max "
        f"|diff| / max |output| {worst_rel:.2e} ({where_rel})"
    )
    if not run_bf16:
        print(
            "bf16: skipped, this CPU has no native bf16 (no avx512_bf16/amx_bf16): oneDNN emulates it "
            "far slower than fp32. Force with --bf16 on."
        )


if __name__ == "__main__":
    main()
