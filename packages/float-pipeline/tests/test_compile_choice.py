"""``compile="auto"|"on"|"off"``: the decision, the renderer it sets for one call, the eager fallback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from float_motion_ae import ActivationRenderer, compiled
from float_pipeline import GenerateOptions, Pipeline
from float_pipeline.compile_choice import COMPILE_SECONDS, SAVED_SECONDS_PER_FRAME, decide_compile

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def fresh_compile_state():
    compiled.reset_compiled()
    yield
    compiled.reset_compiled()


def frames_to_pay_off(cache: str) -> int:
    return int(COMPILE_SECONDS[cache] / SAVED_SECONDS_PER_FRAME[torch.float32]) + 1


def test_auto_compiles_only_clips_long_enough_to_pay_off(monkeypatch) -> None:
    monkeypatch.setattr(compiled, "compiler_problem", lambda: None)
    warm, cold = frames_to_pay_off("warm"), frames_to_pay_off("cold")
    assert warm < cold  # a warm cache pays off on shorter clips

    def decide(frames: int, warm_cache: bool) -> bool:
        return decide_compile(
            "auto", frames=frames, device=CPU, dtype=torch.float32, resolution=512, warm=warm_cache
        ).enabled

    assert decide(warm, True) and not decide(warm - 2, True)
    assert decide(cold, False) and not decide(cold - 2, False)
    # A 4x smaller image saves 16x less per frame: the same clip no longer pays off.
    assert not decide_compile(
        "auto", frames=cold, device=CPU, dtype=torch.float32, resolution=128, warm=False
    ).enabled


def test_auto_stays_off_without_a_compiler_or_off_the_cpu(monkeypatch) -> None:
    monkeypatch.setenv("CXX", "/nonexistent/c++-for-the-test")
    decision = decide_compile("auto", frames=10**6, device=CPU, dtype=torch.float32, resolution=512)
    assert not decision.enabled and "no C++ compiler" in decision.reason
    meta = decide_compile(
        "auto", frames=10**6, device=torch.device("meta"), dtype=torch.float32, resolution=512
    )
    assert not meta.enabled
    assert decide_compile("on", frames=1, device=CPU, dtype=torch.float32, resolution=32).enabled
    assert not decide_compile("off", frames=10**6, device=CPU, dtype=torch.float32, resolution=512).enabled


def test_the_option_is_validated() -> None:
    assert GenerateOptions().compile == "off"
    with pytest.raises(ValueError):
        GenerateOptions(compile="sometimes")


def test_compile_on_without_a_compiler_falls_back_and_restores_the_renderer(
    pipeline: Pipeline, portrait_png: Path, speech_wav: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("CXX", "/nonexistent/c++-for-the-test")
    motion_ae = pipeline.bundle.motion_ae
    before = motion_ae.renderer
    seen: list[object] = []
    decode = motion_ae.decode

    def spy(*args: object, **kwargs: object) -> torch.Tensor:
        seen.append(motion_ae.renderer)
        return decode(*args, **kwargs)

    monkeypatch.setattr(motion_ae, "decode", spy)
    eager = np.stack(list(pipeline.frames(portrait_png, speech_wav, seed=3)))
    result = pipeline.generate(portrait_png, speech_wav, tmp_path / "c.mp4", seed=3, compile="on")
    on = np.stack(list(pipeline.frames(portrait_png, speech_wav, seed=3, compile="on")))
    assert motion_ae.renderer == before  # set for the call only
    assert any(isinstance(r, ActivationRenderer) and r.compile for r in seen)
    assert result.compile_seconds == 0.0
    assert any("fell back to eager" in note for note in result.notes)
    assert "eager mode" in capsys.readouterr().err
    # Another route of the same maths: uint8 frames within a level or two of the default route's.
    assert np.abs(on.astype(int) - eager.astype(int)).max() <= 2
