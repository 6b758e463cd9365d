"""The channels-last inference route computes the official formulation (exact in float64, bf16 bounded)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from float_motion_ae import ChannelsLastRenderer, ReferenceRenderer, default_renderer
from float_motion_ae.decoder import ModulatedConv2d, StyledConv, ToFlow
from float_motion_ae.renderers.channels_last import gather_bilinear, map_rows
from float_motion_ae.renderers.constants import weight_constant

TINY = {"size": 32, "latent_dim": 32, "motion_dim": 8, "channel_base": 512, "channel_max": 32}
# 128x128, channels 64@4..32, 32@64, 16@128: both modulation sides (activations on the coarse maps, weights
# on the fine ones) and every layer type run.
MID = {"size": 128, "latent_dim": 64, "motion_dim": 8, "channel_base": 2048, "channel_max": 64}


@pytest.mark.parametrize(("config", "seed"), [(TINY, 2), (MID, 3)])
def test_channels_last_decoder_matches_reference_in_float64(
    config: dict[str, int], seed: int, decode_case
) -> None:
    case = decode_case(config, seed)
    model, enc, motions, reference = case.model, case.encoded, case.motions, case.reference
    model.set_renderer(ChannelsLastRenderer())
    with torch.no_grad():
        out = model.decode(enc.identity, motions, enc.features)
        prepared = model.decode(enc.identity, motions, model.prepare_features(enc.features))
    assert out.shape == reference.shape == (3, 3, config["size"], config["size"])
    assert out.is_contiguous()
    assert (out - reference).abs().max().item() <= 1e-9
    assert torch.equal(prepared, out)


def test_gather_bilinear_equals_grid_sample_including_outside_points() -> None:
    torch.manual_seed(4)
    feature = torch.randn(1, 5, 9, 13)
    # Positions inside, on the border and well outside the map (zeros padding), with random sub-pixel parts.
    grid = torch.rand(1, 7, 11, 2) * 2.6 - 1.3
    expected = F.grid_sample(feature, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    table = map_rows(feature.contiguous(memory_format=torch.channels_last))
    rows = gather_bilinear(table, 9, 13, grid.reshape(-1, 2))
    got = rows.reshape(1, 7, 11, 5).permute(0, 3, 1, 2)
    assert (got - expected).abs().max().item() <= 1e-6
    assert (grid.abs() > 1.2).any()  # some positions really fall outside


def test_gather_bilinear_takes_a_bf16_grid_on_a_float32_table() -> None:
    # Under autocast (float-train validating a bf16 run) the grid comes out of a bf16 matmul.
    torch.manual_seed(5)
    feature = torch.randn(1, 4, 8, 8)
    grid = torch.rand(20, 2) * 2 - 1
    table = map_rows(feature.contiguous(memory_format=torch.channels_last))
    exact = gather_bilinear(table, 8, 8, grid)
    rounded = gather_bilinear(table, 8, 8, grid.bfloat16())
    assert rounded.dtype == torch.float32
    assert (rounded - exact).abs().max().item() < 0.1  # only the grid's bf16 rounding


@pytest.mark.parametrize("upsample", [False, True])
def test_layers_alone_follow_the_route(upsample: bool) -> None:
    torch.manual_seed(5)
    layer = StyledConv(6, 5, 3, style_dim=7, upsample=upsample).double().eval()
    layer.activate.bias.data.normal_()
    flow = ToFlow(5, style_dim=7).double().eval()
    x = torch.randn(2, 6, 16, 16, dtype=torch.float64)
    style = torch.randn(2, 7, dtype=torch.float64)
    feature = torch.randn(1, 5, 32 if upsample else 16, 32 if upsample else 16, dtype=torch.float64)
    results = {}
    with torch.no_grad():
        for renderer in (ReferenceRenderer(), ChannelsLastRenderer()):
            for module in (layer, flow.conv):
                module.set_renderer(renderer)
            styled = torch.cat([layer(x[i : i + 1], style[i : i + 1]) for i in range(2)])
            conv = layer.conv(x, style)  # ModulatedConv2d alone, a batch of 2
            warped, mask, pre = flow(styled, style, feature)
            results[type(renderer).__name__] = (styled, conv, warped, mask, pre)
    for got, expected in zip(results["ChannelsLastRenderer"], results["ReferenceRenderer"], strict=True):
        assert got.shape == expected.shape
        assert (got - expected).abs().max().item() <= 1e-10


def test_channels_last_fp32_stays_at_float_rounding(decode_case) -> None:
    case = decode_case(MID, 6)
    model, enc, motions, reference = case.model, case.encoded, case.motions, case.reference
    model = model.float()
    model.set_renderer(ChannelsLastRenderer())
    with torch.no_grad():
        out = model.decode(enc.identity.float(), motions.float(), tuple(f.float() for f in enc.features))
    err = (out.double() - reference).abs()
    scale = reference.abs().max().item()
    assert err.mean().item() <= 1e-5 * scale
    assert err.max().item() <= 1e-3 * scale


def test_bf16_decode_runs_the_route_and_stays_close(decode_case) -> None:
    case = decode_case(MID, 7)
    model, enc, motions, reference = case.model, case.encoded, case.motions, case.reference
    model = model.to(torch.bfloat16)
    model.set_renderer(default_renderer())
    conv = model.dec.convs[0].conv
    with torch.no_grad():
        # bf16 takes the fast route only where the default is the channels-last one
        assert model.renderer.accepts(conv, torch.zeros(1, conv.in_ch, 4, 4, dtype=torch.bfloat16)) == (
            isinstance(default_renderer(), ChannelsLastRenderer)
        )
        model.set_renderer(ChannelsLastRenderer())
        features = model.prepare_features(enc.features)
        assert all(f.dtype == torch.float32 for f in features)  # the warp reads float32 maps
        assert all(f.is_contiguous(memory_format=torch.channels_last) for f in features)
        out = model.decode(enc.identity.bfloat16(), motions.bfloat16(), features)
        model.set_renderer(ReferenceRenderer())
        official_order = model.decode(enc.identity.bfloat16(), motions.bfloat16(), features)
    assert out.dtype == torch.bfloat16
    err = (out.double() - reference).abs().mean().item()
    err_official = (official_order.double() - reference).abs().mean().item()
    scale = reference.abs().max().item()
    print(f"bf16 mean abs error vs float64: channels_last {err:.2e}, official order {err_official:.2e}")
    # bf16 keeps 8 mantissa bits (0.4% per rounding); the random-weight warps amplify it at a few pixels,
    # so the bound is on the mean, and the route must be no worse than bf16 in the official order.
    assert err <= 0.03 * scale
    assert err <= 1.5 * err_official


def test_channels_last_constants_follow_in_place_weight_updates() -> None:
    torch.manual_seed(8)
    conv = ModulatedConv2d(64, 32, 3, style_dim=8, upsample=True).eval()
    conv.set_renderer(ChannelsLastRenderer())
    x = torch.randn(1, 64, 4, 4)  # small map, big weight: the activation side reads the cached CL weight
    style = torch.randn(1, 8)
    with torch.no_grad():
        conv(x, style)  # fills the caches
        conv.weight.add_(torch.randn_like(conv.weight))  # in-place update: every cached constant is stale
        # Read the channels_last constant first, before anything else could refresh the cache.
        fresh = weight_constant(conv, "transposed_cl")
        expected = (conv.weight[0] * conv.scale).transpose(0, 1)
        assert torch.equal(fresh, expected)
        assert fresh.is_contiguous(memory_format=torch.channels_last)
        out = conv(x, style)
        conv.set_renderer(ReferenceRenderer())
        reference = conv(x, style)
    assert (out - reference).abs().max().item() <= 1e-5
