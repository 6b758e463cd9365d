from __future__ import annotations

import gc
from collections.abc import Callable

import pytest
import torch

from float_flow import (
    FlowMatchingTransformer,
    SamplerConfig,
    WindowConditions,
    count_windows,
    generate,
    generate_windows,
    sample_window,
)

FAST = SamplerConfig(method="euler", nfe=2)


class Recorder(torch.nn.Module):
    """Wraps a model and keeps the conditions of every forward (to inspect contexts and emotions)."""

    def __init__(self, model: FlowMatchingTransformer) -> None:
        super().__init__()
        self.model = model
        self.config = model.config
        self.x_embedder = model.x_embedder
        self.conds: list[WindowConditions] = []

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: WindowConditions) -> torch.Tensor:
        self.conds.append(cond)
        return self.model(x, t, cond)


def clip(
    T: int, batch: int = 1, seed: int = 0, dim: int = 8
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return (
        torch.randn(batch, dim, generator=gen),
        torch.randn(batch, T, 6, generator=gen),
        torch.rand(batch, 7),
    )


def test_count_windows() -> None:
    assert [count_windows(t, 50) for t in (1, 49, 50, 51, 100, 101, 1000)] == [1, 1, 1, 2, 2, 3, 20]
    # with a 5-frame cross-fade the stride is 45
    assert [count_windows(t, 50, 5) for t in (50, 51, 95, 96)] == [1, 2, 2, 3]
    with pytest.raises(ValueError, match="at least 1 frame"):
        count_windows(0)


@pytest.mark.parametrize("T", [1, 11, 12, 13, 30])
def test_any_length_gives_exactly_the_clip_frames(tiny_model: FlowMatchingTransformer, T: int) -> None:
    source, audio, emotion = clip(T, batch=2)
    windows = list(generate_windows(tiny_model, source, audio, emotion, seed=0, sampler=FAST))
    assert len(windows) == count_windows(T, 12)
    assert [w.start for w in windows] == [12 * k for k in range(len(windows))]
    assert windows[-1].stop == T
    out = torch.cat([w.motion for w in windows], dim=1)
    assert out.shape == (2, T, 8) and torch.isfinite(out).all()


def test_one_and_49_frame_clips_at_the_official_window(randomize: Callable) -> None:
    torch.manual_seed(0)
    model = randomize(
        FlowMatchingTransformer(dim_motion=8, dim_hidden=16, depth=1, num_heads=2, dim_audio=6, freq_dim=16)
    )
    assert model.config.num_frames == 50 and model.config.num_prev_frames == 10
    for T in (1, 49):
        source, audio, emotion = clip(T)
        out = generate(model, source, audio, emotion, seed=0, sampler=FAST)
        assert out.shape == (1, T, 8) and torch.isfinite(out).all()
    # a 49-frame clip's window is padded by repeating the last audio frame: it matches a 50-frame run
    source, audio, emotion = clip(49)
    padded = torch.cat([audio, audio[:, -1:]], dim=1)
    short = generate(model, source, audio, emotion, seed=3, sampler=FAST)
    full = generate(model, source, padded, emotion, seed=3, sampler=FAST)
    assert torch.allclose(short, full[:, :49])


def test_seed_reproduces_a_run_and_windows_get_fresh_noise(tiny_model: FlowMatchingTransformer) -> None:
    source, audio, emotion = clip(36)
    a = generate(tiny_model, source, audio, emotion, seed=5, sampler=FAST)
    b = generate(tiny_model, source, audio, emotion, seed=5, sampler=FAST)
    c = generate(tiny_model, source, audio, emotion, seed=6, sampler=FAST)
    assert torch.equal(a, b) and not torch.allclose(a, c)
    gen = torch.Generator().manual_seed(5)
    d = generate(tiny_model, source, audio, emotion, generator=gen, sampler=FAST)
    assert torch.equal(a, d)
    with pytest.raises(ValueError, match="either generator or seed"):
        next(generate_windows(tiny_model, source, audio, emotion, seed=1, generator=gen))


def test_contexts_chain_windows_and_first_context_is_selectable(tiny_model: FlowMatchingTransformer) -> None:
    source, audio, emotion = clip(30)
    spy = Recorder(tiny_model)
    windows = list(generate_windows(spy, source, audio, emotion, seed=0, sampler=FAST, audio_scale=1.0))  # type: ignore[arg-type]
    per_window = [spy.conds[i * FAST.nfe] for i in range(len(windows))]
    first = per_window[0]
    assert torch.count_nonzero(first.prev_motion) == 0 and torch.count_nonzero(first.prev_audio) == 0
    for k in (1, 2):
        # context = the last L' = 4 latents of the previous window, and the audio of those frames
        assert torch.equal(per_window[k].prev_motion, windows[k - 1].motion[:, -4:])
        start = windows[k].start
        assert torch.equal(per_window[k].prev_audio, audio[:, start - 4 : start])
    spy.conds.clear()
    sourced = list(
        generate_windows(  # type: ignore[arg-type]
            spy, source, audio, emotion, seed=0, sampler=FAST, audio_scale=1.0, first_context="source"
        )
    )
    assert torch.equal(spy.conds[0].prev_motion, source[:, None].expand(-1, 4, -1))
    assert not torch.allclose(sourced[0].motion, windows[0].motion)
    # the second window continues from the first window's output as usual
    assert torch.equal(spy.conds[FAST.nfe].prev_motion, sourced[0].motion[:, -4:])
    with pytest.raises(ValueError, match="first_context"):
        next(generate_windows(tiny_model, source, audio, emotion, first_context="mean"))  # type: ignore[arg-type]


def test_emotion_per_window(tiny_model: FlowMatchingTransformer) -> None:
    source, audio, _ = clip(30)
    per_window = torch.eye(7)[[3, 5, 0]][None]  # happy, sad, angry for windows 0, 1, 2
    spy = Recorder(tiny_model)
    list(
        generate_windows(
            spy, source, audio, per_window, seed=0, sampler=FAST, emotion_scale=1.0, audio_scale=1.0
        )
    )  # type: ignore[arg-type]
    seen = [int(spy.conds[i * FAST.nfe].emotion.argmax()) for i in range(3)]
    assert seen == [3, 5, 0]
    with pytest.raises(ValueError, match="needs 3"):
        next(generate_windows(tiny_model, source, audio, per_window[:, :2]))


def test_pose_sequence_is_windowed(randomize: Callable, tiny_config: dict) -> None:
    torch.manual_seed(0)
    model = randomize(FlowMatchingTransformer(**{**tiny_config, "dim_pose": 6}))
    source, audio, emotion = clip(20)
    pose = torch.randn(1, 20, 6)
    spy = Recorder(model)
    windows = generate_windows(  # type: ignore[arg-type]
        spy, source, audio, emotion, pose=pose, seed=0, sampler=FAST, audio_scale=1.0
    )
    out = torch.cat([w.motion for w in windows], dim=1)
    assert out.shape == (1, 20, 8)
    second = spy.conds[FAST.nfe]
    assert second.pose is not None and second.prev_pose is not None
    assert torch.equal(second.pose[:, :8], pose[:, 12:20]) and torch.equal(second.prev_pose, pose[:, 8:12])


def test_crossfade_blends_the_seams(tiny_model: FlowMatchingTransformer) -> None:
    source, audio, emotion = clip(40)
    plain = generate(tiny_model, source, audio, emotion, seed=0, sampler=FAST)
    windows = list(generate_windows(tiny_model, source, audio, emotion, seed=0, sampler=FAST, crossfade=4))
    assert [w.start for w in windows] == [0, 8, 16, 24, 32]  # stride 12 - 4
    faded = torch.cat([w.motion for w in windows], dim=1)
    assert faded.shape == plain.shape == (1, 40, 8)
    # the first window's emitted frames (before its held-back tail) are untouched by the fade
    assert torch.equal(faded[:, :8], plain[:, :8])
    with pytest.raises(ValueError, match="crossfade"):
        next(generate_windows(tiny_model, source, audio, emotion, crossfade=9))


def test_crossfade_is_a_linear_blend_of_the_overlap(tiny_model: FlowMatchingTransformer) -> None:
    """Reconstruct one seam by hand: held tail of window 0 and head of window 1, weights 1/5..4/5."""
    source, audio, emotion = clip(20)
    gen = torch.Generator().manual_seed(0)
    windows = list(
        generate_windows(tiny_model, source, audio, emotion, generator=gen, sampler=FAST, crossfade=4)
    )
    gen = torch.Generator().manual_seed(0)
    zeros = torch.zeros(1, 4, 8)
    cond0 = WindowConditions(source, audio[:, :12], emotion, zeros, torch.zeros(1, 4, 6))
    raw0 = sample_window(tiny_model, cond0, generator=gen, sampler=FAST)
    cond1 = WindowConditions(source, audio[:, 8:20], emotion, raw0[:, 4:8], audio[:, 4:8])
    raw1 = sample_window(tiny_model, cond1, generator=gen, sampler=FAST)
    ramp = torch.tensor([1, 2, 3, 4.0])[None, :, None] / 5
    expected_seam = (1 - ramp) * raw0[:, 8:12] + ramp * raw1[:, :4]
    assert torch.allclose(windows[1].motion[:, :4], expected_seam, atol=1e-6)
    assert torch.equal(windows[0].motion, raw0[:, :8])


def _live_tensor_bytes() -> int:
    """Bytes held by all live CPU tensors (distinct storages) that Python can reach."""
    seen: set[int] = set()
    total = 0
    for obj in gc.get_objects():
        # type() rather than isinstance(): some torch objects warn when their __class__ is probed.
        if not issubclass(type(obj), torch.Tensor) or obj.is_meta:
            continue
        try:
            storage = obj.untyped_storage()
            pointer = storage.data_ptr()
        except (RuntimeError, NotImplementedError):
            # No storage to read: oneDNN-packed or fake tensors that a compiled graph elsewhere in the
            # session keeps alive. The streamed windows are ordinary tensors.
            continue
        if pointer not in seen:
            seen.add(pointer)
            total += storage.nbytes()
    return total


def _peak_while_streaming(model: FlowMatchingTransformer, T: int, keep: bool) -> tuple[int, int]:
    """Peak extra tensor memory (over the inputs), sampled at the end of every transformer forward.

    A forward's end sees the most that is alive: noise, the 3x guidance batch, the sampler state, the
    context and whatever the generator (or the caller) still holds from earlier windows.
    """
    source, audio, emotion = clip(T, seed=1, dim=model.config.dim_motion)
    gc.collect()
    base = _live_tensor_bytes()
    peak = 0

    def probe(*_: object) -> None:
        nonlocal peak
        peak = max(peak, _live_tensor_bytes() - base)

    handle = model.register_forward_hook(probe)
    kept: list[torch.Tensor] = []
    frames = 0
    try:
        # one Euler step per window keeps the probe count (a full gc scan each) low
        one_step = SamplerConfig(method="euler", nfe=1)
        for window in generate_windows(model, source, audio, emotion, seed=0, sampler=one_step):
            frames += window.motion.shape[1]
            if keep:
                kept.append(window.motion)
    finally:
        handle.remove()
    return peak, frames


def test_memory_does_not_grow_with_length(randomize: Callable) -> None:
    torch.manual_seed(0)
    # 128-d latents so one window (50 x 128 floats = 25.6 kB) stands out over bookkeeping tensors.
    model = randomize(
        FlowMatchingTransformer(dim_motion=128, dim_hidden=32, depth=1, num_heads=2, dim_audio=6, freq_dim=16)
    ).eval()
    short_peak, short_frames = _peak_while_streaming(model, 200, keep=False)
    long_peak, long_frames = _peak_while_streaming(model, 1000, keep=False)
    assert (short_frames, long_frames) == (200, 1000)
    window_bytes = 50 * 128 * 4
    # Streaming 1,000 frames needs no more live tensor memory than 200 frames (within half a window;
    # measured: 242,740 bytes for both).
    assert abs(long_peak - short_peak) < window_bytes / 2, (short_peak, long_peak)
    # ... and that peak is a few windows' worth (3x guidance batch, activations), not 1,000 frames' worth.
    assert long_peak < 1000 * 128 * 4, long_peak
    # The probe does see accumulation: a caller that keeps every window grows by >= 250 frames of latents.
    hoard_peak, _ = _peak_while_streaming(model, 400, keep=True)
    assert hoard_peak - long_peak >= 250 * 128 * 4, (hoard_peak, long_peak)


@pytest.mark.parametrize(("method", "nfe"), [("euler", 1), ("euler", 8), ("midpoint", 2), ("midpoint", 8)])
def test_sample_window_methods_and_guidance_modes(
    tiny_model: FlowMatchingTransformer, make_cond: Callable[..., WindowConditions], method: str, nfe: int
) -> None:
    cond = make_cond(batch=2)
    sampler = SamplerConfig(method=method, nfe=nfe)  # type: ignore[arg-type]
    batched = sample_window(tiny_model, cond, generator=torch.Generator().manual_seed(0), sampler=sampler)
    separate = sample_window(
        tiny_model, cond, generator=torch.Generator().manual_seed(0), sampler=sampler, batched_guidance=False
    )
    assert batched.shape == (2, 12, 8) and torch.isfinite(batched).all()
    assert torch.allclose(batched, separate, atol=1e-4)


def test_fix_noise_seed_repeats_the_same_noise_in_every_window(
    tiny_model: FlowMatchingTransformer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The official --fix_noise_seed: every window starts from the noise a fresh seeded generator gives."""
    import float_flow.windows as windows_module

    drawn: list[torch.Tensor] = []
    original = windows_module.sample_noise

    def recording(*args: object, **kwargs: object) -> torch.Tensor:
        drawn.append(original(*args, **kwargs))  # type: ignore[arg-type]
        return drawn[-1]

    monkeypatch.setattr(windows_module, "sample_noise", recording)
    source, audio, emotion = clip(30)
    fixed = generate(tiny_model, source, audio, emotion, seed=5, sampler=FAST, fix_noise_seed=True)
    assert len(drawn) == 3 and all(torch.equal(d, drawn[0]) for d in drawn)
    expected = torch.randn(drawn[0].shape, generator=torch.Generator().manual_seed(5))
    assert torch.equal(drawn[0], expected)  # the noise of a fresh generator seeded with the seed
    drawn.clear()
    fresh = generate(tiny_model, source, audio, emotion, seed=5, sampler=FAST)
    assert torch.equal(drawn[0], expected) and not torch.equal(drawn[1], drawn[0])
    assert torch.equal(fixed[:, :12], fresh[:, :12]) and not torch.equal(fixed, fresh)
    with pytest.raises(ValueError, match="fix_noise_seed needs a seed"):
        generate(tiny_model, source, audio, emotion, sampler=FAST, fix_noise_seed=True)


def test_a_source_referenced_model_samples_displacements_and_yields_latents(
    randomize: Callable, tiny_config: dict
) -> None:
    """motion_reference 'source': the same weights sample the same displacement; the source is added back."""
    absolute = randomize(FlowMatchingTransformer(**tiny_config))
    relative = FlowMatchingTransformer(**tiny_config, motion_reference="source")
    relative.load_state_dict(absolute.state_dict())
    source, audio, emotion = clip(30)
    kwargs = {"seed": 3, "sampler": FAST}
    spy = Recorder(relative)
    spy.motion_origin = relative.motion_origin  # type: ignore[method-assign]
    moved = list(generate_windows(spy, source, audio, emotion, **kwargs))  # type: ignore[arg-type]
    plain = list(generate_windows(absolute, source, audio, emotion, **kwargs))
    for a, b in zip(moved, plain, strict=True):
        torch.testing.assert_close(a.motion, b.motion + source[:, None])
    # the second window's context is the first window's frames measured from the source
    # (guidance batches three copies of the window; each holds the same context)
    torch.testing.assert_close(spy.conds[FAST.nfe].prev_motion[:1], moved[0].motion[:, -4:] - source[:, None])
    # first_context "source" is the source itself: a zero displacement
    spy.conds.clear()
    list(generate_windows(spy, source, audio, emotion, first_context="source", **kwargs))  # type: ignore[arg-type]
    assert torch.count_nonzero(spy.conds[0].prev_motion) == 0
    assert relative.motion_origin(source).shape == (1, 1, 8)
    assert torch.count_nonzero(absolute.motion_origin(source)) == 0
