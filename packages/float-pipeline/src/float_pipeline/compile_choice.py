"""``compile="auto"|"on"|"off"``: whether a generation runs the decoder through ``torch.compile``.

``on`` renders every frame with ``float_motion_ae.ActivationRenderer(compile=True)`` (inductor with
freezing; its cache under ``~/.cache/float-kit/inductor``, see ``float_motion_ae.compiled``); ``off`` keeps
the model's renderer; ``auto`` turns it on only where compiling pays off within the clip: on a CPU with a C++
compiler, when the frames' expected saving exceeds the one-off compile time, which is far shorter with a
warm cache (a graph compiled by an earlier run) than a cold one. The constants below are measured on the
2-core development CPU at 512 px (docs/experiments/2026-12-06-decoder-compile.md); the compile time does not
grow with the resolution, the saving does (with the pixel count).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from float_motion_ae import compiled

CompileMode = Literal["auto", "on", "off"]

COMPILE_SECONDS = {"cold": 45.0, "warm": 20.0}
"""One-off seconds to compile the 512 px decoder (first frame), without and with a warm cache (2 cores:
42.8 / 16.6 s fp32, 29.2 / 18.6 s bf16 in the pipeline bench)."""

SAVED_SECONDS_PER_FRAME = {torch.float32: 0.022, torch.bfloat16: 0.0075}
"""Decoder seconds saved per 512 px frame by the compiled route against the eager default (2 cores, decoder
bench of 08:35 UTC 2026-12-06: 0.2213 vs 0.2429 s fp32, most of it the Winograd convs; bf16 varies from run
to run between 0.000 and 0.020 s, 0.0075 is the 2026-12-06 05:30 run's): ~2000 frames (80 s of video) pay off
a cold compile in fp32, ~900 a warm one; bf16 ~6000 and ~2700."""


@dataclass(frozen=True)
class CompileDecision:
    """Whether to compile, and why (one line for the user)."""

    enabled: bool
    reason: str


def decide_compile(
    mode: CompileMode,
    *,
    frames: int,
    device: torch.device,
    dtype: torch.dtype,
    resolution: int,
    warm: bool | None = None,
) -> CompileDecision:
    """Resolve ``mode`` for a clip of ``frames`` frames (see the module docstring).

    Args:
        warm: whether inductor's cache already holds the graph (None: ask ``compiled.cache_is_warm()``).
    """
    if mode == "off":
        return CompileDecision(False, "compile off")
    if mode == "on":
        return CompileDecision(True, "compile on")
    if device.type != "cpu":
        return CompileDecision(False, f"compile auto: off on {device.type} (measured on CPU only)")
    problem = compiled.compiler_problem()
    if problem is not None:
        return CompileDecision(False, f"compile auto: off, {problem}")
    saving = SAVED_SECONDS_PER_FRAME.get(dtype)
    if saving is None:
        return CompileDecision(False, f"compile auto: off for {dtype} (not measured)")
    cache = "warm" if (compiled.cache_is_warm() if warm is None else warm) else "cold"
    cost = COMPILE_SECONDS[cache]
    saved = frames * saving * (resolution / 512) ** 2
    enabled = saved > cost
    return CompileDecision(
        enabled,
        f"compile auto: {'on' if enabled else 'off'} ({frames} frames save ~{saved:.0f} s against "
        f"~{cost:.0f} s of compiling with a {cache} cache)",
    )
