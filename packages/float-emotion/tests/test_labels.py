from __future__ import annotations

import pytest
import torch

from float_emotion import EMOTIONS, NEUTRAL_INDEX, LabelMapping, emotion_index, one_hot


def test_canonical_order_matches_the_flow_model() -> None:
    assert EMOTIONS == ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
    assert NEUTRAL_INDEX == 4


@pytest.mark.parametrize(
    ("name", "index"),
    [
        ("angry", 0),
        ("ANG", 0),
        ("Anger", 0),
        ("disgusted", 1),
        ("fearful", 2),
        ("hap", 3),
        ("joy", 3),
        (" neu ", 4),
        ("sadness", 5),
        ("surprised", 6),
    ],
)
def test_emotion_index_accepts_aliases(name: str, index: int) -> None:
    assert emotion_index(name) == index


def test_unknown_emotion_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown emotion 'ecstatic'") as info:
        emotion_index("ecstatic")
    for name in EMOTIONS:
        assert name in str(info.value)


def test_one_hot_by_name_and_index() -> None:
    assert torch.equal(one_hot("happy", batch_size=2), torch.eye(7)[[3, 3]])
    assert torch.equal(one_hot(6), torch.eye(7)[[6]])
    with pytest.raises(ValueError, match=r"0\.\.6"):
        one_hot(7)


def test_mapping_subset_in_other_order_puts_mass_in_canonical_slots() -> None:
    mapping = LabelMapping.from_id2label({"0": "sad", "1": "ang", "2": "neu", "3": "hap"})
    assert mapping.as_dict() == {"sad": "sad", "ang": "angry", "neu": "neutral", "hap": "happy"}
    probs = torch.tensor([[0.1, 0.2, 0.3, 0.4]])
    out = mapping.apply(probs)
    expected = torch.tensor([[0.2, 0.0, 0.0, 0.4, 0.3, 0.1, 0.0]])
    torch.testing.assert_close(out, expected)


def test_unmapped_labels_are_listed_with_the_fix() -> None:
    with pytest.raises(ValueError, match=r"\['calm', 'excited'\]") as info:
        LabelMapping(["ang", "calm", "hap", "excited"])
    assert "label_mapping=" in str(info.value)


def test_overrides_merge_and_drop_classes() -> None:
    mapping = LabelMapping(["ang", "calm", "hap", "other"], {"calm": "neutral", "Other": None})
    assert mapping.targets == (0, 4, 3, None)
    out = mapping.apply(torch.tensor([[0.1, 0.2, 0.3, 0.4], [0.0, 0.0, 0.0, 1.0]]))
    # row 0: "other" (0.4) is dropped and the remaining 0.6 renormalised
    torch.testing.assert_close(out[0], torch.tensor([1 / 6, 0, 0, 3 / 6, 2 / 6, 0, 0]))
    # row 1: all mass on a dropped class -> uniform over the emotions the model can express
    torch.testing.assert_close(out[1], torch.tensor([1 / 3, 0, 0, 1 / 3, 1 / 3, 0, 0]))


def test_overrides_can_merge_two_classes_and_reject_unknown_keys() -> None:
    mapping = LabelMapping(["happy", "excited", "neutral"], {"excited": "happy"})
    out = mapping.apply(torch.tensor([[0.5, 0.25, 0.25]]))
    torch.testing.assert_close(out, torch.tensor([[0, 0, 0, 0.75, 0.25, 0, 0]]))
    with pytest.raises(ValueError, match="does not have"):
        LabelMapping(["happy", "sad"], {"calm": "neutral"})
    with pytest.raises(ValueError, match="unknown emotion 'glad'"):
        LabelMapping(["happy", "glad"], {"glad": "glad"})
