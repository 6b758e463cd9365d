"""float-emotion's part of the fault battery (issue #29): no downloads unless asked, upright photos, finite
numbers, weight files named for what they are."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from float_emotion import (
    DOWNLOAD_ENV,
    SpeechEmotionRecognizer,
    parse_emotion_option,
    resolve_local_files_only,
    to_pil_images,
)
from float_emotion.checkpoints import read_checkpoint_tensors


def test_downloads_are_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """Item 9: from_pretrained had no local_files_only, so a hub id not in the cache went to the network."""
    monkeypatch.delenv(DOWNLOAD_ENV, raising=False)
    assert resolve_local_files_only() is True
    monkeypatch.setenv(DOWNLOAD_ENV, "1")
    assert resolve_local_files_only() is False
    assert resolve_local_files_only(True) is True and resolve_local_files_only("true") is True
    assert resolve_local_files_only("false") is False
    monkeypatch.setenv(DOWNLOAD_ENV, "maybe")
    with pytest.raises(ValueError, match=DOWNLOAD_ENV):
        resolve_local_files_only()


def test_a_model_missing_locally_fails_at_once_and_says_why(
    monkeypatch: pytest.MonkeyPatch, make_ser: Callable[..., Path]
) -> None:
    """Item 9: the message names the switch; a local folder still loads with downloads off."""
    monkeypatch.delenv(DOWNLOAD_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match=f"downloads are off.*{DOWNLOAD_ENV}=1"):
        SpeechEmotionRecognizer("nobody/not-in-the-cache")
    assert SpeechEmotionRecognizer(make_ser(["neutral", "happy"])).model_labels == ("neutral", "happy")


def test_image_paths_are_turned_upright(tmp_path: Path) -> None:
    """Item 5: EXIF orientation is applied on every read."""
    upright = np.zeros((40, 20, 3), dtype=np.uint8)
    upright[:10] = 255  # a white band at the top
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90).save(tmp_path / "p.jpg", exif=exif)
    (read,) = to_pil_images(tmp_path / "p.jpg")
    assert read.size == (20, 40) and np.asarray(read)[:10].mean() > 200 and np.asarray(read)[30:].mean() < 50


@pytest.mark.parametrize("text", ["happy@inf", "happy=inf,sad=1", "happy=nan", "happy@nan"])
def test_numbers_in_emotion_options_are_finite(text: str) -> None:
    """Item 7: infinite intensities and mix weights are refused."""
    with pytest.raises(ValueError, match="finite"):
        parse_emotion_option(text)


def test_a_bin_that_is_not_torch_is_named_so(tmp_path: Path) -> None:
    """Item 10: a non-torch weights file was reported as an mmap problem."""
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_text("not weights")
    with pytest.raises(ValueError, match="is not a PyTorch weights file") as caught:
        read_checkpoint_tensors(tmp_path, ["classifier.dense.weight"])
    assert "mmap" not in str(caught.value)
