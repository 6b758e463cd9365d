"""Random-weight parity guard: converted official-layout weights vs independent reference computations.

The references below are written from the paper and the public architecture descriptions (LIA's encoder:
StyleGAN2 equalised convolutions, [1, 3, 3, 1] blur, residual blocks; FMT: a DiT with frame-wise AdaLN and a
+-2 band; incremental guidance; Euler on ``linspace(0, 1, 10)``; 50-frame windows with 10 context frames), as
plain tensor algebra read straight off the official-named state dict, sharing no code with our modules.
They guard that a refactor of ours cannot silently move the models away from what the official weights
mean. The "official" case runs at the release's shapes (206.7 M random parameters, slow); the "tiny" case
runs the same references on small shapes in the fast suite.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from float_audio import AudioProjection
from float_audio import convert_official as convert_projection
from float_flow import FlowMatchingTransformer, SamplerConfig, WindowConditions, generate
from float_flow import convert_official as convert_flow
from float_motion_ae import MotionAutoEncoder, ReferenceRenderer, default_renderer
from float_motion_ae import convert_official as convert_motion_ae
from float_pipeline import convert_official_state

MANIFEST = Path(__file__).parent / "fixtures" / "official_float_pth.json"
SQRT2 = math.sqrt(2.0)
Tensor = torch.Tensor
State = dict[str, Tensor]

# ---------------------------------------------------------------------------------------------- references


def _blur(x: Tensor, pad: int) -> Tensor:
    """Depthwise [1, 3, 3, 1] (outer product, sum 1) FIR filter after zero padding ``pad`` on every side."""
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=x.dtype)
    kernel = torch.outer(taps, taps) / 64.0
    channels = x.shape[1]
    return F.conv2d(F.pad(x, (pad,) * 4), kernel.expand(channels, 1, 4, 4), groups=channels)


def _equal_conv(x: Tensor, weight: Tensor, stride: int = 1, padding: int = 0) -> Tensor:
    """Equalised learning rate: the stored weight scaled by 1 / sqrt(fan_in) at run time."""
    return F.conv2d(x, weight / math.sqrt(weight[0].numel()), stride=stride, padding=padding)


def _fused_lrelu(x: Tensor, bias: Tensor) -> Tensor:
    return F.leaky_relu(x + bias.reshape(1, -1, 1, 1), 0.2) * SQRT2


def reference_encoder(sd: State, image: Tensor) -> tuple[Tensor, list[Tensor], Tensor, Tensor]:
    """(identity, feature maps coarse to fine, coefficients, motion) of the LIA-style encoder."""
    p = "motion_autoencoder.enc.net_app.convs."
    h = _fused_lrelu(_equal_conv(image, sd[p + "0.0.weight"]), sd[p + "0.1.bias"])
    maps = [h]
    i = 1
    while f"{p}{i}.conv1.0.weight" in sd:
        q = f"{p}{i}."
        main = _fused_lrelu(_equal_conv(h, sd[q + "conv1.0.weight"], padding=1), sd[q + "conv1.1.bias"])
        # downsampling conv: blur (pad 2) then a stride-2 3x3 conv; skip: blur (pad 1), stride-2 1x1 conv
        main = _fused_lrelu(
            _equal_conv(_blur(main, 2), sd[q + "conv2.1.weight"], stride=2), sd[q + "conv2.2.bias"]
        )
        skip = _equal_conv(_blur(h, 1), sd[q + "skip.1.weight"], stride=2)
        h = (main + skip) / SQRT2
        maps.append(h)
        i += 1
    identity = _equal_conv(h, sd[f"{p}{i}.weight"]).flatten(1)
    coeffs = identity
    j = 0
    while f"motion_autoencoder.enc.fc.{j}.weight" in sd:
        weight = sd[f"motion_autoencoder.enc.fc.{j}.weight"]
        coeffs = F.linear(
            coeffs, weight / math.sqrt(weight.shape[1]), sd[f"motion_autoencoder.enc.fc.{j}.bias"]
        )
        j += 1
    basis = torch.linalg.qr(sd["motion_autoencoder.dec.direction.weight"] + 1e-8).Q  # [d, M]
    return identity, maps[:-1][::-1], coeffs, coeffs @ basis.T


def reference_projection(sd: State, raw: Tensor) -> Tensor:
    p = "audio_encoder.audio_projection."
    h = F.linear(raw, sd[p + "0.weight"], sd[p + "0.bias"])
    return F.silu(F.layer_norm(h, h.shape[-1:], sd[p + "1.weight"], sd[p + "1.bias"], eps=1e-5))


@dataclass
class Window:
    """One window's conditions: current audio [B, L, a], emotion [B, 7], context motion/audio [B, L', .]."""

    source: Tensor
    audio: Tensor
    emotion: Tensor
    prev_x: Tensor
    prev_audio: Tensor


def reference_fmt(sd: State, x: Tensor, t: float, w: Window, heads: int, band: int = 2) -> Tensor:
    """Velocity of the current frames: DiT blocks with one AdaLN condition per frame, band attention."""

    def lin(h: Tensor, name: str) -> Tensor:
        return F.linear(h, sd[f"fmt.{name}.weight"], sd[f"fmt.{name}.bias"])

    context = w.prev_x.shape[1]
    tokens = torch.cat([w.prev_x, x], dim=1)
    n = tokens.shape[1]
    h = lin(tokens, "x_embedder.proj") + sd["fmt.pos_embed"][:, :n]
    half = sd["fmt.t_embedder.mlp.0.weight"].shape[1] // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    angles = t * freqs
    t_emb = torch.cat([torch.cos(angles), torch.sin(angles)])[None].expand(x.shape[0], -1)
    t_emb = lin(F.silu(lin(t_emb, "t_embedder.mlp.0")), "t_embedder.mlp.2")
    frames = torch.cat(
        [
            w.source[:, None].expand(-1, n, -1),
            torch.cat([w.prev_audio, w.audio], dim=1),
            w.emotion[:, None].expand(-1, n, -1),
        ],
        dim=-1,
    )
    c = lin(frames, "c_embedder") + t_emb[:, None]
    position = torch.arange(n)
    allowed = (position[:, None] - position[None, :]).abs() <= band
    width = h.shape[-1]
    head_dim = width // heads

    def norm(v: Tensor) -> Tensor:
        return F.layer_norm(v, (width,), eps=1e-6)

    k = 0
    while f"fmt.blocks.{k}.attn.qkv.weight" in sd:
        b = f"blocks.{k}."
        shift_a, scale_a, gate_a, shift_m, scale_m, gate_m = lin(F.silu(c), b + "adaLN_modulation.1").chunk(
            6, -1
        )
        y = norm(h) * (1 + scale_a) + shift_a
        q, key, v = lin(y, b + "attn.qkv").reshape(h.shape[0], n, 3, heads, head_dim).permute(2, 0, 3, 1, 4)
        scores = (q @ key.transpose(-1, -2)) / math.sqrt(head_dim)
        attention = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1) @ v
        h = h + gate_a * lin(attention.transpose(1, 2).reshape(h.shape[0], n, width), b + "attn.proj")
        y = norm(h) * (1 + scale_m) + shift_m
        h = h + gate_m * lin(F.gelu(lin(y, b + "mlp.fc1"), approximate="tanh"), b + "mlp.fc2")
        k += 1
    shift, scale = lin(F.silu(c), "decoder.adaLN_modulation.1").chunk(2, -1)
    return lin(norm(h) * (1 + scale) + shift, "decoder.linear")[:, context:]


def reference_guided(sd: State, x: Tensor, t: float, w: Window, heads: int, g_a: float, g_e: float) -> Tensor:
    """v = v(0, 0) + g_a (v(a, 0) - v(0, 0)) + g_e (v(a, e) - v(a, 0)); null: zeroed current audio/emotion."""
    no_emotion = torch.zeros_like(w.emotion)
    v_null = reference_fmt(
        sd, x, t, Window(w.source, torch.zeros_like(w.audio), no_emotion, w.prev_x, w.prev_audio), heads
    )
    v_audio = reference_fmt(sd, x, t, Window(w.source, w.audio, no_emotion, w.prev_x, w.prev_audio), heads)
    v_full = reference_fmt(sd, x, t, w, heads)
    return v_null + g_a * (v_audio - v_null) + g_e * (v_full - v_audio)


def reference_generate(
    sd: State, source: Tensor, audio: Tensor, emotion: Tensor, noise: list[Tensor], heads: int, steps: int = 9
) -> Tensor:
    """Windows of L frames, each integrated by Euler on linspace(0, 1, steps + 1) from its own noise; the
    first window's context is zeros, later ones take the previous window's last L' latents and audio."""
    context = 10
    length = sd["fmt.pos_embed"].shape[1] - context
    total = audio.shape[1]
    prev_x = torch.zeros(source.shape[0], context, source.shape[1])
    prev_audio = torch.zeros(source.shape[0], context, audio.shape[2])
    times = torch.linspace(0.0, 1.0, steps + 1)
    pieces = []
    for k in range(math.ceil(total / length)):
        window_audio = audio[:, k * length : (k + 1) * length]
        pad = length - window_audio.shape[1]
        window_audio = torch.cat([window_audio, window_audio[:, -1:].expand(-1, pad, -1)], dim=1)
        w = Window(source, window_audio, emotion, prev_x, prev_audio)
        x = noise[k]
        for i in range(steps):
            x = x + (times[i + 1] - times[i]) * reference_guided(sd, x, float(times[i]), w, heads, 2.0, 1.0)
        pieces.append(x)
        prev_x, prev_audio = x[:, -context:], window_audio[:, -context:]
    return torch.cat(pieces, dim=1)[:, :total]


# ------------------------------------------------------------------------------------------------ set-ups


def _random_state(shapes: dict[str, tuple[int, ...]], seed: int = 0) -> State:
    """Official-named random weights at scales that keep every activation O(1)."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in shapes.items():
        value = torch.randn(shape, generator=generator)
        if name.startswith("motion_autoencoder."):
            value = value if name.endswith("weight") else 0.1 * value  # equalised: scaled at run time
        elif name == "audio_encoder.audio_projection.1.weight":
            value = 1.0 + 0.1 * value
        else:
            value = 0.02 * value
        state[name] = value
    return state


@dataclass
class Case:
    state: State
    motion_ae: MotionAutoEncoder
    flow: FlowMatchingTransformer
    projection: AudioProjection
    heads: int


def _tiny_case() -> Case:
    ae_config = {"size": 32, "latent_dim": 32, "motion_dim": 4, "channel_max": 16, "motion_layers": 3}
    flow_config = {"dim_motion": 32, "dim_hidden": 32, "depth": 2, "num_heads": 2, "num_frames": 12}
    flow_config |= {"num_prev_frames": 10, "dim_audio": 16, "freq_dim": 16}
    shapes = {
        f"motion_autoencoder.{k}": tuple(v.shape)
        for k, v in MotionAutoEncoder(**ae_config).state_dict().items()
    }
    shapes |= {
        f"fmt.{k}": tuple(v.shape) for k, v in FlowMatchingTransformer(**flow_config).state_dict().items()
    }
    shapes |= {
        "audio_encoder.audio_projection.0.weight": (16, 24),
        "audio_encoder.audio_projection.0.bias": (16,),
    }
    shapes |= {
        "audio_encoder.audio_projection.1.weight": (16,),
        "audio_encoder.audio_projection.1.bias": (16,),
    }
    state = _random_state(shapes)
    with pytest.warns(UserWarning, match="CC BY-NC"):
        motion_ae = convert_motion_ae(state, **ae_config)
    with pytest.warns(UserWarning, match="CC BY-NC"):
        flow = convert_flow(state, num_heads=2)
    with pytest.warns(UserWarning, match="CC BY-NC"):
        projection = convert_projection(state, in_dim=24, out_dim=16)
    return Case(state, motion_ae, flow, projection, heads=2)


def _official_case() -> Case:
    shapes = {k: tuple(v) for k, v in json.loads(MANIFEST.read_text())["tensors"].items()}
    state = _random_state(shapes)
    converted = convert_official_state(state)
    return Case(state, converted.motion_ae, converted.flow, converted.audio_projection, heads=8)


@pytest.fixture(scope="module", params=["tiny", pytest.param("official", marks=pytest.mark.slow)])
def case(request: pytest.FixtureRequest) -> Case:
    torch.manual_seed(0)
    return _tiny_case() if request.param == "tiny" else _official_case()


def _close(ours: Tensor, reference: Tensor, tolerance: float = 2e-6) -> None:
    """Max abs difference within ``tolerance`` x the reference's largest magnitude (float32 rounding)."""
    scale = float(reference.abs().max())
    error = float((ours - reference).abs().max())
    print(f"parity: max abs error {error:.2e} at scale {scale:.2e}")  # shown with pytest -s
    assert error <= tolerance * max(scale, 1.0), f"max abs error {error:.3g} at scale {scale:.3g}"


# --------------------------------------------------------------------------------------------------- tests


@torch.no_grad()
def test_encoder_matches_the_reference(case: Case) -> None:
    size = case.motion_ae.config.size
    image = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(1)) * 2 - 1
    encoded = case.motion_ae.encode(image)
    identity, maps, coeffs, motion = reference_encoder(case.state, image)
    _close(encoded.identity, identity)
    assert len(encoded.features) == len(maps)
    for ours, reference in zip(encoded.features, maps, strict=True):
        _close(ours, reference)
    _close(encoded.coeffs, coeffs)
    _close(case.motion_ae.motion(encoded.coeffs), motion)


@torch.no_grad()
def test_audio_projection_matches_the_reference(case: Case) -> None:
    raw = torch.randn(1, 30, case.projection.in_dim, generator=torch.Generator().manual_seed(2))
    _close(case.projection(raw), reference_projection(case.state, raw))


def _window(case: Case, seed: int) -> Window:
    cfg = case.flow.config
    generator = torch.Generator().manual_seed(seed)
    return Window(
        source=torch.randn(1, cfg.dim_motion, generator=generator),
        audio=torch.randn(1, cfg.num_frames, cfg.dim_audio, generator=generator),
        emotion=torch.softmax(torch.randn(1, 7, generator=generator), dim=-1),
        prev_x=torch.randn(1, cfg.num_prev_frames, cfg.dim_motion, generator=generator),
        prev_audio=torch.randn(1, cfg.num_prev_frames, cfg.dim_audio, generator=generator),
    )


def _cond(w: Window) -> WindowConditions:
    return WindowConditions(
        source=w.source, audio=w.audio, emotion=w.emotion, prev_motion=w.prev_x, prev_audio=w.prev_audio
    )


@torch.no_grad()
def test_fmt_forward_and_guided_field_match_the_reference(case: Case) -> None:
    from float_flow import IncrementalGuidance

    w = _window(case, 3)
    x = torch.randn(1, case.flow.config.num_frames, case.flow.config.dim_motion)
    _close(case.flow(x, torch.tensor([0.3]), _cond(w)), reference_fmt(case.state, x, 0.3, w, case.heads))
    field = IncrementalGuidance(case.flow).field(_cond(w), audio_scale=2.0, emotion_scale=1.0)
    _close(field(x, torch.tensor([0.7])), reference_guided(case.state, x, 0.7, w, case.heads, 2.0, 1.0))


@torch.no_grad()
def test_windowed_sampling_matches_the_reference(case: Case) -> None:
    cfg = case.flow.config
    total = cfg.num_frames + 10  # two windows: a full one and a padded, truncated one
    generator = torch.Generator().manual_seed(4)
    source = torch.randn(1, cfg.dim_motion, generator=generator)
    audio = torch.randn(1, total, cfg.dim_audio, generator=generator)
    emotion = torch.softmax(torch.randn(1, 7, generator=generator), dim=-1)
    ours = generate(case.flow, source, audio, emotion, seed=9, sampler=SamplerConfig.official())
    noise_source = torch.Generator().manual_seed(9)  # the same draws, in window order
    noise = [torch.randn(1, cfg.num_frames, cfg.dim_motion, generator=noise_source) for _ in range(2)]
    reference = reference_generate(case.state, source, audio, emotion, noise, case.heads)
    assert ours.shape == reference.shape == (1, total, cfg.dim_motion)
    _close(ours, reference, tolerance=1e-5)


@torch.no_grad()
def test_default_renderer_matches_the_reference_route(case: Case) -> None:
    """Decoded frames: our default (fast) route against our reference renderer."""
    config = case.motion_ae.config
    image = torch.rand(1, 3, config.size, config.size, generator=torch.Generator().manual_seed(5)) * 2 - 1
    encoded = case.motion_ae.encode(image)
    coeffs = torch.randn(1, config.motion_dim, generator=torch.Generator().manual_seed(6))
    motion = case.motion_ae.motion(coeffs)
    fast = case.motion_ae.decode(encoded.identity, motion, encoded.features)
    case.motion_ae.set_renderer(ReferenceRenderer())
    reference = case.motion_ae.decode(encoded.identity, motion, encoded.features)
    # The warp (grid_sample of tanh flows) amplifies float32 rounding at a few pixels: compare with the
    # reference route's own change when its input latent moves by one ulp.
    nudged = torch.nextafter(encoded.identity, torch.full_like(encoded.identity, math.inf))
    sensitivity = case.motion_ae.decode(nudged, motion, encoded.features) - reference
    error = (fast - reference).abs()
    ulp = float(sensitivity.abs().max())
    print(f"decoder: max {error.max():.2e} mean {error.mean():.2e}; 1-ulp sensitivity max {ulp:.2e}")
    scale = float(reference.abs().max())
    # the renderers' fp32 contract (float-motion-ae test_channels_last), and the same order as 1 ulp
    assert float(error.mean()) <= 1e-5 * scale and float(error.max()) <= 1e-3 * scale
    assert float(error.max()) <= 4 * ulp
    case.motion_ae.set_renderer(default_renderer())
