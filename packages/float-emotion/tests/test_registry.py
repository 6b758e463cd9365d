from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError

from float_emotion import (
    ENTRY_POINT_GROUP,
    EmotionMix,
    EmotionPredictor,
    FixedEmotion,
    PredictorSpec,
    SpeechEmotionRecognizer,
    WithIntensity,
    available_predictors,
    create_predictor,
    get_predictor_factory,
    parse_emotion_option,
    register_predictor,
    unregister_predictor,
)

PLUGIN_SOURCE = '''
import torch


class ConstantSad:
    """A third-party predictor: always 'sad' with the given confidence, the rest on neutral."""

    modality = "none"

    def __init__(self, confidence: float = 0.9) -> None:
        self.confidence = confidence

    def predict(self, inputs=None):
        out = torch.zeros(1, 7)
        out[0, 5] = self.confidence
        out[0, 4] = 1.0 - self.confidence
        return out
'''


@pytest.fixture
def plugin_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fake installed distribution (``*.dist-info`` + module) that declares a float_emotion entry point."""
    site = tmp_path / "site"
    dist_info = site / "fake_emotion_plugin-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-emotion-plugin\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\n"
        "constant-sad = fake_emotion_plugin:ConstantSad\n"
        "broken = fake_emotion_plugin:Nope\n"
    )
    (site / "fake_emotion_plugin.py").write_text(PLUGIN_SOURCE)
    monkeypatch.syspath_prepend(str(site))
    yield site
    sys.modules.pop("fake_emotion_plugin", None)


def test_builtins_are_available_by_name() -> None:
    assert {"speech", "image", "fixed", "mix"} <= set(available_predictors())
    assert get_predictor_factory("speech") is SpeechEmotionRecognizer
    redirect = create_predictor("fixed", emotion="surprise")
    assert isinstance(redirect, FixedEmotion)
    assert torch.equal(redirect.predict(), torch.eye(7)[[6]])
    mix = create_predictor("mix", weights={"angry": 1, "fear": 1})
    assert torch.equal(mix.predict(), torch.tensor([[0.5, 0, 0.5, 0, 0, 0, 0]]))


def test_unknown_predictor_lists_available_names() -> None:
    with pytest.raises(KeyError, match=r"unknown emotion predictor 'nope'.*fixed, image, mix, speech"):
        create_predictor("nope")


def test_third_party_entry_point_is_found(plugin_on_path: Path) -> None:
    assert "constant-sad" in available_predictors()
    predictor = create_predictor("constant-sad", confidence=0.75)
    assert isinstance(predictor, EmotionPredictor)
    assert type(predictor).__module__ == "fake_emotion_plugin"
    torch.testing.assert_close(predictor.predict(), torch.tensor([[0, 0, 0, 0, 0.25, 0.75, 0]]))
    with pytest.raises(ImportError, match="broken"):
        create_predictor("broken")


def test_entry_points_vanish_with_their_distribution() -> None:
    assert "constant-sad" not in available_predictors()


def test_in_process_registration_and_protocol_check() -> None:
    factory: Callable[..., EmotionPredictor] = lambda: EmotionMix({"happy": 1, "neutral": 1})  # noqa: E731
    register_predictor("half-happy", factory)
    try:
        assert "half-happy" in available_predictors()
        assert torch.equal(
            create_predictor("half-happy").predict(), torch.tensor([[0, 0, 0, 0.5, 0.5, 0, 0]])
        )
        with pytest.raises(ValueError, match="already registered"):
            register_predictor("half-happy", factory)
        with pytest.raises(ValueError, match="already registered"):
            register_predictor("fixed", factory)
        register_predictor("not-a-predictor", lambda: object())
        with pytest.raises(TypeError, match="does not implement EmotionPredictor"):
            create_predictor("not-a-predictor")
    finally:
        unregister_predictor("half-happy")
        unregister_predictor("not-a-predictor")
    assert "half-happy" not in available_predictors()


def test_predictor_spec_from_config_applies_intensity() -> None:
    spec = PredictorSpec.model_validate({"name": "fixed", "options": {"emotion": "angry"}, "intensity": 0.5})
    predictor = spec.build()
    assert isinstance(predictor, WithIntensity)
    assert torch.equal(predictor.predict(), torch.tensor([[0.5, 0, 0, 0, 0.5, 0, 0]]))
    assert isinstance(PredictorSpec(name="fixed", options={"emotion": "sad"}).build(), FixedEmotion)
    with pytest.raises(ValidationError, match="intensity"):
        PredictorSpec(name="fixed", intensity=-1)
    with pytest.raises(ValidationError, match="extra"):
        PredictorSpec.model_validate({"name": "fixed", "model": "x"})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("happy", torch.eye(7)[[3]]),
        ("Hap@0.5", torch.tensor([[0, 0, 0, 0.5, 0.5, 0, 0]])),
        ("happy=3,surprise=1", torch.tensor([[0, 0, 0, 0.75, 0, 0, 0.25]])),
        ("fixed:emotion=fear", torch.eye(7)[[2]]),
    ],
)
def test_cli_emotion_option(value: str, expected: torch.Tensor) -> None:
    torch.testing.assert_close(parse_emotion_option(value).build().predict(), expected)


def test_cli_emotion_option_names_predictors_and_rejects_garbage() -> None:
    spec = parse_emotion_option("speech:model=checkpoints/ser,device=cpu@2")
    assert spec == PredictorSpec(
        name="speech", options={"model": "checkpoints/ser", "device": "cpu"}, intensity=2.0
    )
    assert parse_emotion_option("constant-sad").name == "constant-sad"
    with pytest.raises(ValueError, match="intensity number"):
        parse_emotion_option("happy@strong")
    with pytest.raises(ValueError, match="not a number"):
        parse_emotion_option("happy=lots")
    with pytest.raises(ValueError, match="key=value"):
        parse_emotion_option("speech:checkpoints/ser")
    with pytest.raises(ValueError, match="valid emotions are"):
        parse_emotion_option("happy=1,glee=2").build()
