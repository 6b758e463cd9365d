"""The activation route (constant weights, style on the activations) computes the official formulation;
its compiled form falls back to eager, never crashing, when there is no C++ compiler or compiling fails."""

from __future__ import annotations

import pytest
import torch

from float_motion_ae import ActivationRenderer, ChannelsLastRenderer, ReferenceRenderer, compiled
from float_motion_ae.decoder import StyledConv, ToFlow
from float_motion_ae.renderers import activation

TINY = {"size": 32, "latent_dim": 32, "motion_dim": 8, "channel_base": 512, "channel_max": 32}
MID = {"size": 128, "latent_dim": 64, "motion_dim": 8, "channel_base": 2048, "channel_max": 64}
# 256 channels up to 32 px: its 16 and 32 px 3x3 convs take the Winograd route.
WIDE = {"size": 32, "latent_dim": 32, "motion_dim": 8, "channel_base": 8192, "channel_max": 256}


@pytest.fixture
def winograd_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, ...]]:
    """Records the input shape of every Winograd conv the activation route runs."""
    calls: list[tuple[int, ...]] = []
    real = activation.winograd_conv3x3

    def spy(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        calls.append(tuple(x.shape))
        return real(x, weight)

    monkeypatch.setattr(activation, "winograd_conv3x3", spy)
    return calls


@pytest.fixture(autouse=True)
def fresh_compile_state():
    compiled.reset_compiled()
    yield
    compiled.reset_compiled()


@pytest.mark.parametrize(("config", "seed"), [(TINY, 2), (MID, 3), (WIDE, 4)])
def test_activation_decoder_matches_reference_in_float64(
    config: dict[str, int], seed: int, decode_case, winograd_calls
) -> None:
    case = decode_case(config, seed)
    model, enc = case.model, case.encoded
    model.set_renderer(ActivationRenderer())
    with torch.no_grad():
        out = model.decode(enc.identity, case.motions, enc.features)
        prepared = model.decode(enc.identity, case.motions, model.prepare_features(enc.features))
    assert out.shape == case.reference.shape
    assert out.is_contiguous()
    assert (out - case.reference).abs().max().item() <= 1e-9
    assert torch.equal(prepared, out)
    if config is WIDE:  # the 16 and 32 px convs, once per frame and per decode
        assert sorted({shape[2] for shape in winograd_calls}) == [16, 32]
    else:
        assert winograd_calls == []


@pytest.mark.parametrize("upsample", [False, True])
def test_layers_alone_follow_the_activation_route(upsample: bool) -> None:
    torch.manual_seed(5)
    layer = StyledConv(6, 5, 3, style_dim=7, upsample=upsample).double().eval()
    layer.activate.bias.data.normal_()
    flow = ToFlow(5, style_dim=7).double().eval()
    x = torch.randn(2, 6, 16, 16, dtype=torch.float64)
    style = torch.randn(2, 7, dtype=torch.float64)
    feature = torch.randn(1, 5, 32 if upsample else 16, 32 if upsample else 16, dtype=torch.float64)
    results = {}
    with torch.no_grad():
        for renderer in (ReferenceRenderer(), ActivationRenderer()):
            for module in (layer, flow.conv):
                module.set_renderer(renderer)
            styled = layer(x, style)  # a batch of 2, modulated per sample on the activations
            conv = layer.conv(x, style)
            warped, mask, pre = flow(styled, style, feature)
            results[type(renderer).__name__] = (styled, conv, warped, mask, pre)
    for got, expected in zip(results["ActivationRenderer"], results["ReferenceRenderer"], strict=True):
        assert got.shape == expected.shape
        assert (got - expected).abs().max().item() <= 1e-10


def test_uncached_constants_equal_the_cached_ones() -> None:
    # Inside torch.compile the constants are computed from the parameters (freezing folds them).
    torch.manual_seed(6)
    layer = StyledConv(6, 5, 3, style_dim=7, upsample=True).eval()
    for cached in (True, False):
        assert activation.kernel(layer.conv, cached).is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(activation.kernel(layer.conv, True), activation.kernel(layer.conv, False))
    assert torch.equal(activation.energy(layer.conv, True), activation.energy(layer.conv, False))


def test_activation_fp32_stays_at_float_rounding(decode_case) -> None:
    case = decode_case(MID, 6)
    model = case.model.float()
    enc = case.encoded
    model.set_renderer(ActivationRenderer())
    with torch.no_grad():
        out = model.decode(enc.identity.float(), case.motions.float(), tuple(f.float() for f in enc.features))
    err = (out.double() - case.reference).abs()
    scale = case.reference.abs().max().item()
    assert err.mean().item() <= 1e-5 * scale
    assert err.max().item() <= 1e-3 * scale


def test_winograd_conv_is_a_3x3_conv() -> None:
    from float_motion_ae.renderers.winograd import winograd_conv3x3, winograd_weight

    generator = torch.Generator().manual_seed(11)
    x = torch.randn(1, 256, 16, 24, generator=generator, dtype=torch.float64)
    w = torch.randn(96, 256, 3, 3, generator=generator, dtype=torch.float64) / 48
    expected = torch.nn.functional.conv2d(x, w, padding=1)
    got = winograd_conv3x3(x, winograd_weight(w))
    assert got.shape == expected.shape and got.is_contiguous(memory_format=torch.channels_last)
    assert (got - expected).abs().max().item() <= 1e-12 * expected.abs().max().item()
    # float32: no less accurate than the channels_last direct conv the route runs otherwise (measured
    # mean abs error 2.7e-7 vs 5.6e-7; the transforms' coefficients are 0, +-1 and +-1/2).
    got32 = winograd_conv3x3(x.float(), winograd_weight(w.float()))
    cl = torch.channels_last
    direct32 = torch.nn.functional.conv2d(
        x.float().contiguous(memory_format=cl), w.float().contiguous(memory_format=cl), padding=1
    )
    assert (got32.double() - expected).abs().mean() <= (direct32.double() - expected).abs().mean()


def test_winograd_conv_refuses_what_it_cannot_compute() -> None:
    from float_motion_ae.renderers.winograd import winograd_conv3x3, winograd_weight

    weight = winograd_weight(torch.randn(4, 8, 3, 3))
    with pytest.raises(ValueError, match="one frame"):
        winograd_conv3x3(torch.randn(2, 8, 16, 16), weight)  # a batch would silently lose frames
    with pytest.raises(ValueError, match="even H and W"):
        winograd_conv3x3(torch.randn(1, 8, 15, 16), weight)
    with pytest.raises(ValueError, match=r"weight must be \[16, 6, out\]"):
        winograd_conv3x3(torch.randn(1, 6, 16, 16), weight)


def test_winograd_fp32_stays_at_float_rounding(decode_case, winograd_calls) -> None:
    case = decode_case(WIDE, 12)
    model = case.model.float()
    enc = case.encoded
    errors = {}
    with torch.no_grad():
        for winograd in (True, False):
            model.set_renderer(ActivationRenderer(winograd=winograd))
            features = tuple(f.float() for f in enc.features)
            out = model.decode(enc.identity.float(), case.motions.float(), features)
            errors[winograd] = (out.double() - case.reference).abs()
    scale = case.reference.abs().max().item()
    assert len(winograd_calls) == 2 * case.motions.shape[0]  # 16 and 32 px, each frame, Winograd run only
    assert errors[True].mean().item() <= 1e-5 * scale
    assert errors[True].max().item() <= 1e-3 * scale
    assert errors[True].mean().item() <= 1.25 * errors[False].mean().item()


def test_bf16_keeps_the_direct_conv_on_wide_layers(decode_case, winograd_calls) -> None:
    case = decode_case(WIDE, 13)
    model = case.model.to(torch.bfloat16)
    enc = case.encoded
    errors = {}
    with torch.no_grad():
        features = model.prepare_features(enc.features)
        for renderer in (ActivationRenderer(), ChannelsLastRenderer()):
            model.set_renderer(renderer)
            out = model.decode(enc.identity.bfloat16(), case.motions.bfloat16(), features)
            errors[type(renderer).__name__] = (out.double() - case.reference).abs().mean().item()
    print(f"bf16 mean abs error vs float64: {errors}")
    assert winograd_calls == []  # WINOGRAD_DTYPES: bf16 Winograd cost precision for ~2% speed
    assert errors["ActivationRenderer"] <= 1.25 * errors["ChannelsLastRenderer"]


def test_activation_bf16_error_is_no_worse_than_todays_route(decode_case) -> None:
    case = decode_case(MID, 7)
    model = case.model.to(torch.bfloat16)
    enc = case.encoded
    errors = {}
    with torch.no_grad():
        features = model.prepare_features(enc.features)
        for renderer in (ActivationRenderer(), ChannelsLastRenderer(), ReferenceRenderer()):
            model.set_renderer(renderer)
            out = model.decode(enc.identity.bfloat16(), case.motions.bfloat16(), features)
            assert out.dtype == torch.bfloat16
            errors[type(renderer).__name__] = (out.double() - case.reference).abs().mean().item()
    scale = case.reference.abs().max().item()
    print(f"bf16 mean abs error vs float64: {errors}")
    assert errors["ActivationRenderer"] <= 0.03 * scale
    assert errors["ActivationRenderer"] <= 1.25 * errors["ChannelsLastRenderer"]
    assert errors["ActivationRenderer"] <= 1.5 * errors["ReferenceRenderer"]


def decode_tiny(renderer: ActivationRenderer) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(8)
    from float_motion_ae import MotionAutoEncoder

    model = MotionAutoEncoder(**TINY).eval()
    with torch.no_grad():
        enc = model.encode(torch.rand(1, 3, 32, 32) * 2 - 1)
        motion = torch.randn(2, TINY["latent_dim"]) * 0.5
        features = model.prepare_features(enc.features)
        model.set_renderer(ActivationRenderer())
        eager = model.decode(enc.identity, motion, features)
        model.set_renderer(renderer)
        return model.decode(enc.identity, motion, features), eager


def test_compile_without_a_compiler_falls_back_to_eager_with_one_notice(monkeypatch, capsys) -> None:
    monkeypatch.setenv("CXX", "/nonexistent/c++-for-the-test")
    out, eager = decode_tiny(ActivationRenderer(compile=True))
    assert torch.equal(out, eager)
    assert "no C++ compiler" in (compiled.compile_failure() or "")
    notices = [line for line in capsys.readouterr().err.splitlines() if "eager mode" in line]
    assert len(notices) == 1  # two frames, one line


def test_a_failing_compile_falls_back_to_eager(monkeypatch, capsys) -> None:
    def broken(*args: object, **kwargs: object) -> torch.Tensor:
        raise RuntimeError("inductor exploded\nlong traceback")

    monkeypatch.setattr(compiled, "_function", lambda: broken)
    monkeypatch.setattr(compiled, "compiler_problem", lambda: None)
    out, eager = decode_tiny(ActivationRenderer(compile=True))
    assert torch.equal(out, eager)
    assert compiled.compile_failure() == "RuntimeError: inductor exploded"
    assert "torch.compile failed" in capsys.readouterr().err


def test_user_cache_dir_follows_xdg(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv(compiled.CACHE_ENV, raising=False)
    assert compiled.use_user_cache_dir() == tmp_path / "float-kit" / "inductor"
    monkeypatch.setenv(compiled.CACHE_ENV, str(tmp_path / "mine"))
    assert compiled.use_user_cache_dir() == tmp_path / "mine"  # an explicit setting wins


@pytest.mark.slow
@pytest.mark.skipif(compiled.compiler_problem() is not None, reason="no C++ compiler for torch.compile")
@pytest.mark.parametrize("config", [TINY, WIDE], ids=["tiny", "wide-winograd"])
def test_compiled_route_matches_eager_and_follows_weight_changes(
    config: dict[str, int], monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv(compiled.CACHE_ENV, str(tmp_path / "inductor"))
    torch.manual_seed(9)
    from float_motion_ae import MotionAutoEncoder

    model = MotionAutoEncoder(**config).eval()
    with torch.no_grad():
        enc = model.encode(torch.rand(1, 3, 32, 32) * 2 - 1)
        motion = torch.randn(1, config["latent_dim"]) * 0.5
        features = model.prepare_features(enc.features)
        outputs = []
        for _ in range(2):  # the second round runs after an in-place weight change
            model.set_renderer(ReferenceRenderer())
            reference = model.decode(enc.identity, motion, features)
            model.set_renderer(ActivationRenderer(compile=True))
            out = model.decode(enc.identity, motion, features)
            assert compiled.compile_failure() is None
            err = (out - reference).abs()
            scale = reference.abs().max().item()
            assert err.mean().item() <= 1e-5 * scale
            assert err.max().item() <= 1e-3 * scale
            outputs.append(out)
            model.dec.convs[0].conv.weight.mul_(1.5)
    assert compiled.compile_seconds() > 0
    assert not torch.equal(outputs[0], outputs[1])  # frozen weights were recompiled, not reused


@pytest.mark.slow
@pytest.mark.skipif(compiled.compiler_problem() is not None, reason="no C++ compiler for torch.compile")
def test_compiled_bf16_error_is_no_worse_than_todays_route(decode_case, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(compiled.CACHE_ENV, str(tmp_path / "inductor"))
    case = decode_case(MID, 7)
    model = case.model.to(torch.bfloat16)
    enc = case.encoded
    errors = {}
    with torch.no_grad():
        features = model.prepare_features(enc.features)
        for renderer in (ActivationRenderer(compile=True), ChannelsLastRenderer()):
            model.set_renderer(renderer)
            out = model.decode(enc.identity.bfloat16(), case.motions.bfloat16(), features)
            errors[type(renderer).__name__ + str(getattr(renderer, "compile", ""))] = (
                (out.double() - case.reference).abs().mean().item()
            )
    assert compiled.compile_failure() is None
    print(f"bf16 mean abs error vs float64: {errors}")
    assert errors["ActivationRendererTrue"] <= 1.25 * errors["ChannelsLastRenderer"]
