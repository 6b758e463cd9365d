"""The flow transformer's linears on the CPU: ``F.linear`` (MKL) against oneDNN (``float_flow.onednn``).

Run: ``uv run python -m float_tools.bench.flow_linears`` (paper-size FMT with random weights; ``--small`` for
a quick run on a tiny one).

1. Per-shape rates: every linear shape of one guided forward (3 guidance rows x 60 tokens), GFLOP/s =
   2 * multiply-adds / best seconds, through ``F.linear`` and through ``OneDNNLinear``'s op with the plain
   weight (what ``Pipeline`` runs), in fp32 and bf16.
2. Whole forward: one guided forward of the transformer (``inference_mode``), plain ``nn.Linear`` against
   ``use_onednn_linears``, same weights and inputs, with the max abs difference of the outputs and the
   seconds of flow compute per video second (``steps`` forwards per 50-frame window, 25 frames a second).

Figures are wall-clock on a shared machine: read them against each other, from the same run.
"""

from __future__ import annotations

import argparse
from functools import partial

import torch
import torch.nn.functional as F

from float_flow import FlowMatchingTransformer, OneDNNLinear, WindowConditions, use_onednn_linears
from float_tools.bench.decoder_layers import best_seconds


def linear_shapes(model: FlowMatchingTransformer) -> list[tuple[int, int]]:
    """Distinct (in, out) shapes of the model's linears that run on every token, largest first."""
    shapes = {(m.in_features, m.out_features) for m in model.modules() if isinstance(m, torch.nn.Linear)}
    return sorted(shapes, key=lambda s: -s[0] * s[1])


def shape_rates(model: FlowMatchingTransformer, rows: int, repeats: int) -> None:
    """Print GFLOP/s per linear shape, F.linear vs oneDNN, fp32 and bf16."""
    dtypes = (torch.float32, torch.bfloat16)
    print(
        f"{'linear (rows x in -> out)':<30}"
        + "".join(f"{f'{d} {r}':>16}" for d in ("fp32", "bf16") for r in ("F.linear", "oneDNN"))
    )
    for fan_in, fan_out in linear_shapes(model):
        flops = 2.0 * rows * fan_in * fan_out
        cells = []
        for dtype in dtypes:
            layer = torch.nn.Linear(fan_in, fan_out).to(dtype)
            fast = OneDNNLinear(fan_in, fan_out).to(dtype)
            fast.load_state_dict(layer.state_dict())
            x = torch.randn(rows, fan_in).to(dtype)
            with torch.inference_mode():
                plain = partial(F.linear, x, layer.weight, layer.bias)
                for fn in (plain, partial(fast, x)):
                    cells.append(flops / best_seconds(fn, repeats, min_time=0.1) / 1e9)
        print(f"{f'{rows} x {fan_in} -> {fan_out}':<30}" + "".join(f"{c:>16.0f}" for c in cells))


def whole_forward(model: FlowMatchingTransformer, repeats: int, steps: int, every_linear: bool) -> None:
    """Time one guided forward (batch 3), plain vs oneDNN linears (the large ones, or ``every_linear``)."""
    cfg = model.config
    generator = torch.Generator().manual_seed(0)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator)

    batch = 3  # incremental guidance: unconditional, audio, audio + emotion rows in one forward
    x, t = randn(batch, cfg.num_frames, cfg.dim_motion), torch.rand(batch, generator=generator)
    cond = WindowConditions(
        source=randn(batch, cfg.dim_motion),
        audio=randn(batch, cfg.num_frames, cfg.dim_audio),
        emotion=randn(batch, cfg.dim_emotion),
        prev_motion=randn(batch, cfg.num_prev_frames, cfg.dim_motion),
        prev_audio=randn(batch, cfg.num_prev_frames, cfg.dim_audio),
    )
    forwards_per_second = steps * 25.0 / cfg.num_frames
    print(f"whole guided forward (batch {batch} x {cfg.num_tokens} tokens), {steps} steps per window:")
    for dtype in (torch.float32, torch.bfloat16):
        model = model.to(dtype)
        with torch.inference_mode():
            use_onednn_linears(model, False)
            reference = model(x, t, cond).float()
            forward = partial(model, x, t, cond)
            plain = best_seconds(forward, repeats, min_time=0.1)
            switched = use_onednn_linears(model, True, **({"min_weights": 0} if every_linear else {}))
            fast = best_seconds(forward, repeats, min_time=0.1)
            diff = (model(x, t, cond).float() - reference).abs().max().item()
            use_onednn_linears(model, False)
        tag = "fp32" if dtype == torch.float32 else "bf16"
        print(
            f"  {tag}: F.linear {plain * 1e3:.0f} ms, oneDNN ({switched} linears) {fast * 1e3:.0f} ms = "
            f"{plain / fast:.2f}x; flow compute per video second {plain * forwards_per_second:.2f} -> "
            f"{fast * forwards_per_second:.2f} s; max abs diff {diff:.1e} (output max "
            f"{reference.abs().max().item():.1e})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", action="store_true", help="tiny transformer (a quick check of the bench)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats (best of)")
    parser.add_argument("--steps", type=int, default=9, help="ODE steps per window (official: 9)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = (
        FlowMatchingTransformer(dim_hidden=128, depth=2, num_heads=4)
        if args.small
        else FlowMatchingTransformer()
    )
    for parameter in model.parameters():  # the DiT init zeroes AdaLN and the output: give every matmul work
        parameter.data.normal_(0.0, 0.02)
    model.eval()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"oneDNN {torch.backends.mkldnn.is_available()}"
    )
    shape_rates(model, 3 * model.config.num_tokens, args.repeats)
    # --small switches every linear, to show why small ones stay on MKL (use_onednn_linears' min_weights).
    whole_forward(model, args.repeats, args.steps, every_linear=args.small)


if __name__ == "__main__":
    main()
