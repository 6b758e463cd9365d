"""MotionAutoEncoder: shapes, basis, batched decoding, save/load, input validation, official equivalence."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from float_motion_ae import Encoded, MotionAEConfig, MotionAutoEncoder, default_renderer
from float_motion_ae.decoder import ModulatedConv2d
from float_motion_ae.layers import depthwise_fir, depthwise_upsample2x, make_blur_kernel

TINY = {"size": 32, "latent_dim": 32, "motion_dim": 8, "channel_base": 512, "channel_max": 32}


def test_default_config_is_the_official_model(fixture_json: Path) -> None:
    manifest = json.loads(fixture_json.read_text())
    expected = {k.removeprefix("motion_autoencoder."): v for k, v in manifest["tensors"].items()}
    torch.manual_seed(0)
    model = MotionAutoEncoder()
    state = model.state_dict()
    assert len(state) == manifest["num_tensors"] == 177
    assert {k: list(v.shape) for k, v in state.items()} == expected
    assert sum(p.numel() for p in model.parameters()) == manifest["num_params"] == 45_239_560
    assert model.config.feature_shapes() == [
        (512, 8, 8),
        (512, 16, 16),
        (512, 32, 32),
        (256, 64, 64),
        (128, 128, 128),
        (64, 256, 256),
        (32, 512, 512),
    ]


def test_basis_is_orthonormal_and_matches_qr(tiny_model: MotionAutoEncoder) -> None:
    q = tiny_model.basis()
    assert q.shape == (32, 8)
    assert torch.allclose(q.T @ q, torch.eye(8), atol=1e-5)
    official_q = torch.linalg.qr(tiny_model.dec.direction.weight + 1e-8).Q
    assert torch.equal(q, official_q)
    coeffs = torch.randn(5, 8)
    motion = tiny_model.motion(coeffs)
    assert torch.allclose(motion, coeffs @ q.T, atol=1e-6)
    # orthonormal columns: the motion's norm is the coefficients' norm
    assert torch.allclose(motion.norm(dim=1), coeffs.norm(dim=1), atol=1e-5)


@pytest.mark.parametrize("size", [8, 16, 32, 64])
def test_encode_decode_shapes(size: int) -> None:
    torch.manual_seed(0)
    model = MotionAutoEncoder(size=size, latent_dim=24, motion_dim=6, channel_base=256, channel_max=16).eval()
    images = torch.rand(2, 3, size, size) * 2 - 1
    with torch.no_grad():
        enc = model.encode(images)
        assert isinstance(enc, Encoded)
        assert enc.identity.shape == (2, 24)
        assert enc.coeffs.shape == (2, 6)
        assert [tuple(f.shape[1:]) for f in enc.features] == model.config.feature_shapes()
        assert len(enc.features) == int(math.log2(size)) - 2
        out = model.decode(enc.identity, model.motion(enc.coeffs), enc.features)
        assert out.shape == (2, 3, size, size)
        assert torch.isfinite(out).all()
        assert model.reconstruct(images[:1], images).shape == (2, 3, size, size)


def test_batched_decode_of_one_source_equals_single_decodes(tiny_model: MotionAutoEncoder) -> None:
    torch.manual_seed(1)
    source = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        enc = tiny_model.encode(source)
        motions = tiny_model.motion(torch.randn(6, 8) * 2)
        batched = tiny_model.decode(enc.identity, motions, enc.features)  # features broadcast from batch 1
        singles = torch.cat([tiny_model.decode(enc.identity, m[None], enc.features) for m in motions])
        repeated = tiny_model.decode(
            enc.identity.expand(6, -1), motions, tuple(f.expand(6, -1, -1, -1) for f in enc.features)
        )
    assert batched.shape == (6, 3, 32, 32)
    assert (batched - singles).abs().max().item() <= 1e-5
    assert (batched - repeated).abs().max().item() <= 1e-6
    # different motions really give different frames
    assert (batched[0] - batched[1]).abs().max().item() > 1e-3


def test_save_load_round_trip(tiny_model: MotionAutoEncoder, tmp_path: Path) -> None:
    torch.manual_seed(2)
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    tiny_model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config == {**TINY, "motion_layers": 5}
    assert (tmp_path / "model.safetensors").is_file()
    loaded = MotionAutoEncoder.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        assert torch.equal(tiny_model.reconstruct(images[:1], images), loaded.reconstruct(images[:1], images))
        assert torch.equal(tiny_model.encode(images).coeffs, loaded.encode(images).coeffs)


def test_bad_images_raise_value_error_naming_the_shape(tiny_model: MotionAutoEncoder) -> None:
    expected = r"\[B, 3, 32, 32\]"
    with pytest.raises(ValueError, match=expected + r".*got \[1, 3, 64, 64\]"):
        tiny_model.encode(torch.zeros(1, 3, 64, 64))
    with pytest.raises(ValueError, match=expected + r".*got \[1, 1, 32, 32\]"):
        tiny_model.encode(torch.zeros(1, 1, 32, 32))
    with pytest.raises(ValueError, match=r"permute"):
        tiny_model.encode(torch.zeros(1, 32, 32, 3))
    with pytest.raises(ValueError, match=r"batch axis"):
        tiny_model.encode(torch.zeros(3, 32, 32))
    with pytest.raises(ValueError, match=r"\[-1, 1\].*max 255"):
        tiny_model.encode(torch.full((1, 3, 32, 32), 255.0))
    with pytest.raises(ValueError, match=r"floating point"):
        tiny_model.encode(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"driving"):
        tiny_model.reconstruct(torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 16, 16))


def test_bad_decode_inputs(tiny_model: MotionAutoEncoder) -> None:
    with torch.no_grad():
        enc = tiny_model.encode(torch.zeros(1, 3, 32, 32))
    with pytest.raises(ValueError, match=r"motion must have shape \[N, 32\]"):
        tiny_model.decode(enc.identity, torch.zeros(2, 16), enc.features)
    with pytest.raises(ValueError, match=r"features must be the 3 encoder maps"):
        tiny_model.decode(enc.identity, torch.zeros(2, 32), enc.features[:2])
    bad = (enc.features[0], enc.features[1][:, :4], enc.features[2])
    with pytest.raises(ValueError, match=r"features\[1\] must have shape \[1 or 2, 32, 16, 16\]"):
        tiny_model.decode(enc.identity, torch.zeros(2, 32), bad)
    with pytest.raises(ValueError, match=r"coeffs must have shape \[\.\.\., 8\]"):
        tiny_model.motion(torch.zeros(3, 5))


def test_config_validation_names_the_field() -> None:
    with pytest.raises(ValueError, match="size must be a power of two"):
        MotionAutoEncoder(size=48)
    with pytest.raises(ValueError, match="motion_dim"):
        MotionAEConfig(latent_dim=8, motion_dim=9)


# ---------------------------------------------------------------- equivalence with the official formulation
def _fir_per_map(x: torch.Tensor, kernel: torch.Tensor, up: int, pad: tuple[int, int]) -> torch.Tensor:
    """Reference: zero-insertion upsampling, padding and a 1-channel convolution per feature map."""
    b, c, h, w = x.shape
    x = x.reshape(b * c, 1, h, 1, w, 1)
    x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1]).reshape(b * c, 1, h * up, w * up)
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    x = F.conv2d(x, torch.flip(kernel, [0, 1])[None, None])
    return x.reshape(b, c, x.shape[-2], x.shape[-1])


def _modconv_grouped(mc: ModulatedConv2d, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """Reference: one modulated weight per sample and a grouped convolution (groups = batch)."""
    b, cin, h, w = x.shape
    weight = mc.scale * mc.weight * mc.modulation(style).view(b, 1, cin, 1, 1)
    if mc.demodulate:
        weight = weight * torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8).view(b, -1, 1, 1, 1)
    k = mc.kernel_size
    if mc.upsample:
        weight = weight.transpose(1, 2).reshape(b * cin, mc.out_ch, k, k)
        out = F.conv_transpose2d(x.reshape(1, b * cin, h, w), weight, stride=2, groups=b)
        out = out.view(b, mc.out_ch, out.shape[-2], out.shape[-1])
        return _fir_per_map(out, mc.blur.kernel, 1, mc.blur.pad)
    out = F.conv2d(
        x.reshape(1, b * cin, h, w), weight.view(b * mc.out_ch, cin, k, k), padding=k // 2, groups=b
    )
    return out.view(b, mc.out_ch, h, w)


def test_depthwise_fir_matches_per_map_reference() -> None:
    torch.manual_seed(3)
    x = torch.randn(2, 5, 9, 7)
    kernel = make_blur_kernel()
    assert torch.allclose(depthwise_fir(x, kernel, (2, 1)), _fir_per_map(x, kernel, 1, (2, 1)), atol=1e-6)
    up_kernel = make_blur_kernel(gain=4.0)
    fast = depthwise_upsample2x(x, up_kernel)
    assert fast.shape == (2, 5, 18, 14)
    assert torch.allclose(fast, _fir_per_map(x, up_kernel, 2, (2, 1)), atol=1e-6)


@pytest.mark.parametrize("strategy", ["weights", "activations"])
@pytest.mark.parametrize(
    ("upsample", "demodulate", "kernel"), [(False, True, 3), (True, True, 3), (False, False, 1)]
)
def test_modulated_conv_matches_grouped_reference(
    upsample: bool, demodulate: bool, kernel: int, strategy: str
) -> None:
    torch.manual_seed(4)
    mc = ModulatedConv2d(6, 5, kernel, style_dim=7, demodulate=demodulate, upsample=upsample)
    mc.set_renderer(default_renderer(batch=strategy))  # type: ignore[arg-type]
    x = torch.randn(3, 6, 8, 8)
    style = torch.randn(3, 7)
    with torch.no_grad():
        batched = mc(x, style)
        single = torch.cat([mc(x[i : i + 1], style[i : i + 1]) for i in range(3)])
        reference = _modconv_grouped(mc, x, style)
    assert batched.shape == reference.shape == (3, 5, 16 if upsample else 8, 16 if upsample else 8)
    assert (batched - reference).abs().max().item() <= 1e-5
    assert (single - reference).abs().max().item() <= 1e-5


def test_activation_strategy_decodes_like_weight_strategy(tiny_model: MotionAutoEncoder) -> None:
    torch.manual_seed(7)
    with torch.no_grad():
        enc = tiny_model.encode(torch.rand(1, 3, 32, 32) * 2 - 1)
        motions = tiny_model.motion(torch.randn(4, 8))
        exact = tiny_model.decode(enc.identity, motions, enc.features)
        tiny_model.set_renderer(default_renderer(batch="activations"))
        dense = tiny_model.decode(enc.identity, motions, enc.features)
    assert (dense - exact).abs().max().item() <= 1e-4
    with pytest.raises(ValueError, match="strategy"):
        default_renderer(batch="grouped")  # type: ignore[arg-type]


def test_gradients_reach_every_trained_parameter(tiny_model: MotionAutoEncoder) -> None:
    torch.manual_seed(5)
    source, driving = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    tiny_model.train()
    loss = (tiny_model(source, driving) - driving).abs().mean()
    loss.backward()
    unused = {"dec.to_rgb1", "noise.weight"}  # unused by the official forward, kept for the 1:1 mapping
    for name, p in tiny_model.named_parameters():
        if any(u in name for u in unused):
            assert p.grad is None, name
            continue
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name


def test_bf16_decode_stays_close_to_fp32(tiny_model: MotionAutoEncoder) -> None:
    torch.manual_seed(6)
    with torch.no_grad():
        enc = tiny_model.encode(torch.rand(1, 3, 32, 32) * 2 - 1)
        motion = tiny_model.motion(torch.randn(2, 8))
        ref = tiny_model.decode(enc.identity, motion, enc.features)
        half = MotionAutoEncoder(**TINY)
        half.load_state_dict(tiny_model.state_dict())
        half = half.to(torch.bfloat16).eval()
        out = half.decode(
            enc.identity.bfloat16(), motion.bfloat16(), tuple(f.bfloat16() for f in enc.features)
        ).float()
    # bf16 keeps 8 mantissa bits; the flow warps amplify rounding at a few pixels (random weights), so the
    # bound is on the mean error, with the worst pixel still well inside the output range.
    err = (out - ref).abs()
    scale = ref.abs().max().item()
    print(f"bf16 vs fp32: mean {err.mean().item():.4f}, max {err.max().item():.4f}, range {scale:.3f}")
    assert err.mean().item() <= 0.01 * ref.abs().max().item()
    assert err.max().item() <= 0.3 * ref.abs().max().item()


def test_bf16_autocast_keeps_activations_in_bf16(tiny_model: MotionAutoEncoder) -> None:
    # float-train's `mixed_precision: bf16`: a float32 activation bias used to promote every conv output to
    # float32 (and the next conv cast it back), the slow path python -m float_tools.bench.train_step times.
    torch.manual_seed(8)
    source, driving = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    tiny_model.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        features = tiny_model.encode(source).features
        recon = tiny_model(source, driving)
    assert {f.dtype for f in features} == {torch.bfloat16}
    (recon.float() - driving).abs().mean().backward()
    bias = tiny_model.enc.net_app.convs[1].conv1[1].bias  # a FusedLeakyReLU
    assert bias.dtype == torch.float32 and bias.grad is not None and bias.grad.dtype == torch.float32
    assert bias.grad.abs().sum() > 0


def test_freeze_motion_trains_the_renderer_only() -> None:
    """After ``freeze_motion`` a reconstruction loss reaches the decoder but neither the encoder nor the
    motion basis, so motion latents of any image stay exactly as they were."""
    torch.manual_seed(0)
    model = MotionAutoEncoder(**TINY)
    model.freeze_motion()
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    motion = model.encode_motion(images).detach()
    model.reconstruct(images[:1], images).abs().mean().backward()
    frozen = [p for n, p in model.named_parameters() if n.startswith(("enc.", "dec.direction."))]
    assert frozen and all(not p.requires_grad and p.grad is None for p in frozen)
    trainable = [p for n, p in model.named_parameters() if p.requires_grad]
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in trainable)
    assert all(n.startswith("dec.") for n, p in model.named_parameters() if p.requires_grad)
    torch.testing.assert_close(model.encode_motion(images), motion, rtol=0, atol=0)


def test_zero_flow_heads_and_copy_weights_from() -> None:
    torch.manual_seed(0)
    model = MotionAutoEncoder(**TINY)
    model.zero_flow_heads()
    assert all(h.conv.weight.abs().sum() == 0 and h.bias.abs().sum() == 0 for h in model.dec.to_flows)
    torch.manual_seed(1)
    other = MotionAutoEncoder(**TINY)
    model.copy_weights_from(other)
    mine, theirs = model.state_dict(), other.state_dict()
    assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)
    wider = MotionAutoEncoder(**(TINY | {"latent_dim": TINY["latent_dim"] * 2}))
    with pytest.raises(ValueError, match="run-7 holds a model with config"):
        model.copy_weights_from(wider, "run-7")
