"""The fused inference kernels compute the official formulation (exact in float64, bounded error in fp32)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from float_motion_ae import FusedRenderer, MotionAutoEncoder, ReferenceRenderer, default_renderer
from float_motion_ae.decoder import StyledConv
from float_motion_ae.layers import depthwise_fir, make_blur_kernel
from float_motion_ae.renderers.fused import POLYPHASE_MIN_PIXELS
from float_motion_ae.renderers.kernels import conv3x3, upsample_phase_kernel, winograd_available

TINY = {"size": 32, "latent_dim": 32, "motion_dim": 8, "channel_base": 512, "channel_max": 32}
# 128x128 images, channels 64@4..32, 32@64, 16@128: every decoder route (transposed conv + blur on the
# coarse maps, polyphase and Winograd on the fine ones) runs, in well under a second.
MID = {"size": 128, "latent_dim": 64, "motion_dim": 8, "channel_base": 2048, "channel_max": 64}


def _decode_pair(decode_case, config: dict[str, int], dtype: torch.dtype, seed: int):
    """(reference decode in float64, decode with ``FusedRenderer`` (Winograd unless float64) in ``dtype``)."""
    case = decode_case(config, seed)
    model, enc = case.model, case.encoded
    model.set_renderer(FusedRenderer(winograd=dtype != torch.float64))
    model = model.to(dtype)
    with torch.no_grad():
        out = model.decode(
            enc.identity.to(dtype), case.motions.to(dtype), tuple(f.to(dtype) for f in enc.features)
        )
    return case.reference, out.double()


def test_polyphase_kernel_equals_transposed_conv_then_blur() -> None:
    torch.manual_seed(0)
    weight = torch.randn(5, 4, 3, 3, dtype=torch.float64)
    x = torch.randn(2, 4, 7, 9, dtype=torch.float64)
    blur = make_blur_kernel(gain=4.0).double()
    reference = depthwise_fir(F.conv_transpose2d(x, weight.transpose(0, 1), stride=2), blur, (1, 1))
    phases = upsample_phase_kernel(weight, blur)
    assert phases.shape == (20, 4, 3, 3)
    fused = F.pixel_shuffle(F.conv2d(x, phases, padding=1), 2)
    assert fused.shape == reference.shape == (2, 5, 14, 18)
    assert (fused - reference).abs().max().item() <= 1e-12
    with pytest.raises(ValueError, match="3x3"):
        upsample_phase_kernel(torch.randn(5, 4, 1, 1), blur)


@pytest.mark.parametrize("upsample", [False, True])
@pytest.mark.parametrize("side", [8, 64])  # 8: transposed conv + blur route, 64: polyphase route
def test_fused_styled_conv_matches_reference_in_float64(upsample: bool, side: int) -> None:
    assert 8 * 8 < POLYPHASE_MIN_PIXELS <= 64 * 64
    torch.manual_seed(1)
    layer = StyledConv(6, 5, 3, style_dim=7, upsample=upsample).double().eval()
    layer.activate.bias.data.normal_()
    x = torch.randn(1, 6, side, side, dtype=torch.float64)
    style = torch.randn(1, 7, dtype=torch.float64)
    with torch.no_grad():
        layer.set_renderer(ReferenceRenderer())
        reference = layer(x, style)
        layer.set_renderer(FusedRenderer())
        fused = layer(x, style)
    out_side = 2 * side if upsample else side
    assert fused.shape == reference.shape == (1, 5, out_side, out_side)
    assert (fused - reference).abs().max().item() <= 1e-12


@pytest.mark.parametrize(("config", "seed"), [(TINY, 2), (MID, 3)])
def test_fused_decoder_matches_reference_in_float64(config: dict[str, int], seed: int, decode_case) -> None:
    reference, fused = _decode_pair(decode_case, config, torch.float64, seed)
    assert fused.shape == reference.shape == (3, 3, config["size"], config["size"])
    assert (fused - reference).abs().max().item() <= 1e-9


@pytest.mark.skipif(not winograd_available(), reason="this PyTorch build has no NNPACK")
def test_winograd_conv3x3_error_is_bounded() -> None:
    torch.manual_seed(4)
    x = torch.randn(1, 32, 64, 64)
    weight = torch.randn(16, 32, 3, 3) / (9 * 32) ** 0.5  # unit-variance outputs, like a demodulated conv
    exact = F.conv2d(x.double(), weight.double(), padding=1)
    direct = conv3x3(x, weight, None, winograd=False)
    winograd = conv3x3(x, weight, None, winograd=True)
    print(
        f"3x3 conv fp32 max error vs float64: direct {(direct - exact).abs().max().item():.2e}, "
        f"Winograd {(winograd - exact).abs().max().item():.2e}"
    )
    assert (direct - exact).abs().max().item() <= 2e-5
    # Winograd F(6x6, 3x3) transforms amplify rounding: measured ~6e-5 at unit scale.
    assert (winograd - exact).abs().max().item() <= 3e-4


@pytest.mark.skipif(not winograd_available(), reason="this PyTorch build has no NNPACK")
def test_winograd_decoder_fp32_error_is_bounded(decode_case) -> None:
    reference, fast = _decode_pair(decode_case, MID, torch.float32, 5)
    err = (fast - reference).abs()
    scale = reference.abs().max().item()
    print(f"fp32 Winograd decode vs float64: mean {err.mean():.2e}, max {err.max():.2e}, range {scale:.2f}")
    # Random-weight flow warps amplify rounding at a few pixels; the bulk of the image stays at fp32 level.
    assert err.mean().item() <= 1e-4 * scale
    assert err.max().item() <= 1e-2 * scale


def test_kernels_follow_weight_updates_and_skip_the_fused_path_for_gradients() -> None:
    torch.manual_seed(6)
    model = MotionAutoEncoder(**TINY).eval()
    other = MotionAutoEncoder(**TINY).eval()
    with torch.no_grad():
        enc = model.encode(torch.rand(1, 3, 32, 32) * 2 - 1)
        motion = model.motion(torch.randn(1, 8))
        first = model.decode(enc.identity, motion, enc.features)  # fills the weight-derived caches
        model.load_state_dict(other.state_dict())  # in-place copy: the caches must be rebuilt
        fused = model.decode(enc.identity, motion, enc.features)
        model.set_renderer(ReferenceRenderer())
        reference = model.decode(enc.identity, motion, enc.features)
    assert (fused - first).abs().max().item() > 1e-2
    assert (fused - reference).abs().max().item() <= 1e-4
    conv = model.dec.convs[0].conv
    renderer = default_renderer()
    assert not renderer.accepts(conv, torch.zeros(1, conv.in_ch, 4, 4))  # grad enabled: reference path
    with torch.no_grad():
        assert renderer.accepts(conv, torch.zeros(1, conv.in_ch, 4, 4))
    with pytest.raises(TypeError, match="renderer must be a"):
        model.set_renderer("fast")  # type: ignore[arg-type]


def test_model_built_under_inference_mode_decodes() -> None:
    torch.manual_seed(7)
    with torch.inference_mode():
        model = MotionAutoEncoder(**TINY).eval()
        enc = model.encode(torch.rand(1, 3, 32, 32) * 2 - 1)
        motions = model.motion(torch.randn(2, 8))
        fused = model.decode(enc.identity, motions, enc.features)
        model.set_renderer(ReferenceRenderer())
        reference = model.decode(enc.identity, motions, enc.features)
    assert (fused - reference).abs().max().item() <= 1e-4
