"""Sampling clips of any length as a stream of 50-frame windows.

Window w covers clip frames [w*S, w*S + L) with stride S = L - crossfade. Each window is conditioned on the
L' latents generated just before its start (the previous window's frames, as officially) and is yielded as
soon as it is sampled, so a caller can decode and write it while later windows are sampled. Only the
current window, its context and (with cross-fade) a k-frame tail are alive at any time: memory does not
grow with the clip length (the caller's [B, T, d_a] audio features are the only length-sized input).

Deliberate choices against the official release (see docs/float-flow.md):
- noise: one seeded ``torch.Generator`` per run; each window draws fresh noise from it in turn, so a seed
  reproduces the whole run exactly (official: irreproducible, or, with its ``--fix_noise_seed``, identical
  noise in every window: ``fix_noise_seed=True`` here);
- the first window's context is selectable: ``"zeros"`` (official) or ``"source"`` (the source motion
  repeated, which continues the portrait's own pose);
- optional linear cross-fade of ``crossfade`` overlapping frames at each seam (off by default, official).

A model built with ``motion_reference="source"`` samples motion measured from the source: its contexts stay
in that frame and the source is added back to every yielded frame, so callers always receive latents.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from float_flow.conditions import WindowConditions
from float_flow.config import SamplerConfig
from float_flow.guidance import IncrementalGuidance
from float_flow.path import sample_noise
from float_flow.sampler import integrate
from float_flow.transformer import FlowMatchingTransformer

FirstContext = Literal["zeros", "source"]


@dataclass(frozen=True)
class MotionWindow:
    """One finished piece of the clip: ``motion`` [B, n, d] are the latents of frames start..start+n-1."""

    index: int
    start: int
    motion: Tensor

    @property
    def stop(self) -> int:
        return self.start + int(self.motion.shape[1])


def count_windows(num_frames: int, window: int = 50, crossfade: int = 0) -> int:
    """How many windows a clip of ``num_frames`` frames needs (official, crossfade 0: ceil(T / 50))."""
    if num_frames < 1:
        raise ValueError(f"a clip needs at least 1 frame, got {num_frames}")
    stride = window - crossfade
    return 1 + max(0, math.ceil((num_frames - window) / stride))


def sample_window(
    model: FlowMatchingTransformer,
    cond: WindowConditions,
    *,
    generator: torch.Generator | None = None,
    sampler: SamplerConfig | None = None,
    audio_scale: float = 2.0,
    emotion_scale: float = 1.0,
    batched_guidance: bool = True,
) -> Tensor:
    """Sample the [B, N, d] latents of one window from noise x_0 ~ N(0, I) drawn from ``generator``."""
    guidance = IncrementalGuidance(model, batched=batched_guidance)
    weight = model.x_embedder.proj.weight
    x0 = sample_noise(
        (cond.batch_size, cond.num_frames, model.config.dim_motion),
        generator=generator,
        device=weight.device,
        dtype=weight.dtype,
    )

    field = guidance.field(cond, audio_scale=audio_scale, emotion_scale=emotion_scale)
    with torch.no_grad():
        return integrate(field, x0, sampler)


def _pad_frames(x: Tensor, start: int, length: int) -> Tensor:
    """Frames [start, start + length) of x [B, T, c], replicating the last frame past the end."""
    piece = x[:, start : start + length]
    missing = length - piece.shape[1]
    if missing > 0:
        piece = torch.cat([piece, piece[:, -1:].expand(-1, missing, -1)], dim=1)
    return piece


def generate_windows(
    model: FlowMatchingTransformer,
    source: Tensor,
    audio: Tensor,
    emotion: Tensor,
    *,
    pose: Tensor | None = None,
    generator: torch.Generator | None = None,
    seed: int | None = None,
    sampler: SamplerConfig | None = None,
    audio_scale: float = 2.0,
    emotion_scale: float = 1.0,
    first_context: FirstContext = "zeros",
    crossfade: int = 0,
    batched_guidance: bool = True,
    fix_noise_seed: bool = False,
) -> Iterator[MotionWindow]:
    """Yield the clip's motion window by window (frames in order, each frame exactly once).

    Args:
        model: the flow-matching transformer (its L, L' set the window and context lengths).
        source: [B, d] source motion latent.
        audio: [B, T, d_a] frame-aligned audio features at 25 fps; T = clip length in frames (any T >= 1).
        emotion: [B, d_e] one emotion vector for the clip, or [B, W, d_e] one per window
            (W = ``count_windows(T, L, crossfade)``).
        pose: optional [B, T, p] head pose, for a model built with ``dim_pose > 0``.
        generator / seed: noise source; ``seed`` builds a fresh generator; with neither, torch's global RNG.
        sampler: ODE method and NFE (default Euler, 10 evaluations; ``SamplerConfig.official()`` = 9).
        audio_scale, emotion_scale: guidance scales g_a, g_e (paper: 2, 1).
        first_context: ``"zeros"`` (official) or ``"source"``: context latents of the first window.
        crossfade: k frames of overlap blended linearly at each seam, 0 <= k <= L - L' (0 = official).
        batched_guidance: one batched forward per step (default) or separate forwards.
        fix_noise_seed: every window starts from the same noise, drawn from the generator's state at the
            start (the official ``--fix_noise_seed``); needs ``seed`` or ``generator``.

    Yields:
        :class:`MotionWindow` pieces; concatenated along frames they give [B, T, d]. The last window's
        audio is replicate-padded to L frames and its output truncated to the clip.
    """
    cfg = model.config
    L, P = cfg.num_frames, cfg.num_prev_frames
    if audio.ndim != 3 or audio.shape[0] != source.shape[0]:
        raise ValueError(f"audio must have shape [B={source.shape[0]}, T, d_a], got {tuple(audio.shape)}")
    T = int(audio.shape[1])
    if not 0 <= crossfade <= L - P:
        raise ValueError(f"crossfade must be in [0, L - L' = {L - P}], got {crossfade}")
    if first_context not in ("zeros", "source"):
        raise ValueError(f"first_context must be 'zeros' or 'source', got {first_context!r}")
    num_windows = count_windows(T, L, crossfade)
    if emotion.ndim == 3 and emotion.shape[1] != num_windows:
        raise ValueError(
            f"per-window emotion has {emotion.shape[1]} windows but a {T}-frame clip needs {num_windows} "
            f"(count_windows({T}, {L}, {crossfade})); pass [B, d_e] for one clip-level vector"
        )
    if emotion.ndim not in (2, 3):
        raise ValueError(f"emotion must be [B, d_e] or [B, W, d_e], got {tuple(emotion.shape)}")
    if pose is not None and pose.shape[:2] != audio.shape[:2]:
        raise ValueError(f"pose must have shape [B, T={T}, p], got {tuple(pose.shape)}")
    if seed is not None:
        if generator is not None:
            raise ValueError("pass either generator or seed, not both")
        generator = torch.Generator(device=model.x_embedder.proj.weight.device).manual_seed(seed)
    if fix_noise_seed and generator is None:
        raise ValueError("fix_noise_seed needs a seed or a generator (the noise every window repeats)")
    # The same noise in every window: rewind the generator to this state before each one.
    initial_state = generator.get_state() if fix_noise_seed and generator is not None else None

    B = source.shape[0]
    stride = L - crossfade
    # the model's tokens are measured from origin (zeros, or the source for motion_reference "source")
    origin_of = getattr(model, "motion_origin", None)  # a wrapper without it is an absolute model
    origin = source.new_zeros(B, 1, cfg.dim_motion) if origin_of is None else origin_of(source)  # [B, 1, d]
    if first_context == "source":
        prev_motion = (source[:, None] - origin).expand(-1, P, -1).clone()
    else:
        prev_motion = source.new_zeros(B, P, cfg.dim_motion)
    prev_audio = audio.new_zeros(B, P, audio.shape[2])
    prev_pose = None if pose is None else pose.new_zeros(B, P, pose.shape[2])
    # Blend weight of the NEW window over the held tail, rising across the overlap, never 0 or 1.
    ramp = torch.arange(1, crossfade + 1, dtype=source.dtype, device=source.device) / (crossfade + 1)
    tail: Tensor | None = None

    for w in range(num_windows):
        start = w * stride
        cond = WindowConditions(
            source=source,
            audio=_pad_frames(audio, start, L),
            emotion=emotion if emotion.ndim == 2 else emotion[:, w],
            prev_motion=prev_motion,
            prev_audio=prev_audio,
            pose=None if pose is None else _pad_frames(pose, start, L),
            prev_pose=prev_pose,
        )
        if initial_state is not None and generator is not None:
            generator.set_state(initial_state)
        raw = sample_window(
            model,
            cond,
            generator=generator,
            sampler=sampler,
            audio_scale=audio_scale,
            emotion_scale=emotion_scale,
            batched_guidance=batched_guidance,
        )
        out = raw
        if tail is not None:
            head = torch.lerp(tail, raw[:, :crossfade], ramp[None, :, None].to(raw.dtype))
            out = torch.cat([head, raw[:, crossfade:]], dim=1)
        last = w == num_windows - 1
        keep = min(L if last else stride, T - start)
        yield MotionWindow(index=w, start=start, motion=out[:, :keep] + origin)
        if last:
            break
        tail = raw[:, stride:] if crossfade > 0 else None
        # The next window starts at start + stride: its context is the P frames just before that.
        prev_motion = raw[:, stride - P : stride]
        # stride >= P (crossfade <= L - L'), so the context always lies inside the clip's audio.
        next_start = start + stride
        prev_audio = audio[:, next_start - P : next_start]
        if pose is not None:
            prev_pose = pose[:, next_start - P : next_start]


def generate(
    model: FlowMatchingTransformer, source: Tensor, audio: Tensor, emotion: Tensor, **kwargs: object
) -> Tensor:
    """Whole clip at once: ``cat`` of :func:`generate_windows` -> [B, T, d] (prefer the stream when long)."""
    pieces = [window.motion for window in generate_windows(model, source, audio, emotion, **kwargs)]  # type: ignore[arg-type]
    return torch.cat(pieces, dim=1)
