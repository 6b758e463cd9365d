from __future__ import annotations

import json
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from float_emotion import (
    EMOTIONS,
    MissingHeadError,
    SpeechEmotionRecognizer,
    WindowedEmotionPredictor,
    normalise_waveform,
    window_bounds,
)

FOUR = ["ang", "hap", "neu", "sad"]


def _waveform(batch: int, seconds: float, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return 0.1 * torch.randn(batch, int(seconds * 16000), generator=generator)


def _reference_probs(folder: Path, waveform: torch.Tensor) -> torch.Tensor:
    """Softmax of the saved HF model on normalised clips, computed without float_emotion's batching."""
    from transformers import Wav2Vec2ForSequenceClassification

    model = Wav2Vec2ForSequenceClassification.from_pretrained(folder).eval()
    with torch.no_grad():
        rows = [model(normalise_waveform(clip)[None]).logits.softmax(-1)[0] for clip in waveform]
    return torch.stack(rows)


def test_normalise_waveform_matches_the_wav2vec2_feature_extractor() -> None:
    from transformers import Wav2Vec2FeatureExtractor

    clip = _waveform(1, 0.1)[0] * 3 + 0.5
    reference = Wav2Vec2FeatureExtractor(do_normalize=True)(clip.numpy(), sampling_rate=16000)[
        "input_values"
    ][0]
    torch.testing.assert_close(normalise_waveform(clip), torch.as_tensor(reference), atol=1e-5, rtol=1e-5)


def test_subset_labels_map_to_canonical_slots(make_ser: Callable[..., Path]) -> None:
    folder = make_ser(FOUR)
    ser = SpeechEmotionRecognizer(folder)
    assert isinstance(ser, WindowedEmotionPredictor)
    assert ser.model_labels == tuple(FOUR)
    waveform = _waveform(2, 0.5)
    out = ser.predict(waveform)
    assert out.shape == (2, 7) and out.dtype == torch.float32
    torch.testing.assert_close(out.sum(-1), torch.ones(2))
    reference = _reference_probs(folder, waveform)
    for model_index, canonical in enumerate(["angry", "happy", "neutral", "sad"]):
        torch.testing.assert_close(
            out[:, EMOTIONS.index(canonical)], reference[:, model_index], atol=1e-5, rtol=0
        )
    for missing in ("disgust", "fear", "surprise"):
        assert torch.all(out[:, EMOTIONS.index(missing)] == 0)
    # bias 2, 1, 0, -1 on ang, hap, neu, sad dominates the tiny random weights
    assert out.argmax(-1).tolist() == [0, 0]


def test_label_order_and_spelling_do_not_matter(make_ser: Callable[..., Path]) -> None:
    waveform = _waveform(1, 0.5, seed=1)
    a = SpeechEmotionRecognizer(make_ser(FOUR, name="a", bias=[2.0, 1.0, 0.0, -1.0])).predict(waveform)
    # same biases, other label order/spelling: class k of model b is the emotion of bias k
    labels = ["Sadness", "Anger", "Happiness", "Neutral"]
    b = SpeechEmotionRecognizer(make_ser(labels, name="b", bias=[-1.0, 2.0, 1.0, 0.0])).predict(waveform)
    assert a.argmax().item() == b.argmax().item() == EMOTIONS.index("angry")
    order_a = torch.argsort(a[0], descending=True)[:4].tolist()
    order_b = torch.argsort(b[0], descending=True)[:4].tolist()
    assert order_a == order_b == [0, 3, 4, 5]


def test_unmapped_labels_error_and_mapping_override(make_ser: Callable[..., Path]) -> None:
    folder = make_ser(["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"])
    with pytest.raises(ValueError, match=r"\['calm'\].*label_mapping="):
        SpeechEmotionRecognizer(folder)
    ser = SpeechEmotionRecognizer(folder, label_mapping={"calm": "neutral"})
    assert ser.mapping.as_dict()["calm"] == "neutral"
    waveform = _waveform(1, 0.4)
    out = ser.predict(waveform)
    reference = _reference_probs(folder, waveform)[0]
    torch.testing.assert_close(out[0, 4], reference[0] + reference[1], atol=1e-5, rtol=0)
    torch.testing.assert_close(out.sum(), torch.tensor(1.0))


def test_windowed_predictions_equal_clip_predictions_of_each_window(make_ser: Callable[..., Path]) -> None:
    ser = SpeechEmotionRecognizer(make_ser(FOUR))
    waveform = _waveform(2, 0.65, seed=2)
    windows = ser.predict_windows(waveform, window_seconds=0.25, hop_seconds=0.125)
    bounds = window_bounds(waveform.shape[1], 4000, 2000)
    assert bounds == [(0, 4000), (2000, 6000), (4000, 8000), (6000, 10000), (6400, 10400)]
    assert windows.shape == (2, len(bounds), 7)
    torch.testing.assert_close(windows.sum(-1), torch.ones(2, len(bounds)))
    for w, (start, end) in enumerate(bounds):
        torch.testing.assert_close(windows[:, w], ser.predict(waveform[:, start:end]), atol=1e-5, rtol=0)
    # windows see different audio, so they differ from one another
    assert not torch.allclose(windows[0, 0], windows[0, 1])


def test_clips_of_different_lengths_are_not_padded(make_ser: Callable[..., Path]) -> None:
    ser = SpeechEmotionRecognizer(make_ser(FOUR), max_batch=1)
    long, short = _waveform(1, 0.45, seed=3)[0], _waveform(1, 0.15, seed=4)[0]
    out = ser.predict([long, short.numpy()])
    torch.testing.assert_close(out[1], ser.predict(short)[0], atol=1e-6, rtol=0)
    windows = ser.predict_windows([long, short], window_seconds=0.15)
    assert windows.shape == (2, 3, 7)
    # the short clip has one window; its row repeats it
    torch.testing.assert_close(windows[1, 2], windows[1, 0])


def test_real_speech_fixture(make_ser: Callable[..., Path], speech_wav: Path) -> None:
    with wave.open(str(speech_wav)) as handle:
        assert handle.getframerate() == 16000
        pcm = np.frombuffer(handle.readframes(handle.getnframes()), dtype=np.int16)
    waveform = torch.from_numpy(pcm.astype(np.float32) / 32768.0)
    ser = SpeechEmotionRecognizer(make_ser(FOUR))
    clip = ser.predict(waveform)
    windows = ser.predict_windows(waveform, window_seconds=2.0)
    assert clip.shape == (1, 7) and windows.shape == (1, 2, 7)  # 3.74 s -> windows at 0 s and 1.74 s
    torch.testing.assert_close(clip.sum(), torch.tensor(1.0))


def test_preprocessor_config_controls_normalisation(make_ser: Callable[..., Path]) -> None:
    from transformers import Wav2Vec2FeatureExtractor

    folder = make_ser(FOUR)
    assert SpeechEmotionRecognizer(folder).normalize is True  # no preprocessor_config.json: official default
    Wav2Vec2FeatureExtractor(do_normalize=False).save_pretrained(folder)
    assert SpeechEmotionRecognizer(folder).normalize is False
    assert SpeechEmotionRecognizer(folder, normalize=True).normalize is True


def test_bad_audio_inputs_are_explained(make_ser: Callable[..., Path]) -> None:
    ser = SpeechEmotionRecognizer(make_ser(FOUR))
    with pytest.raises(ValueError, match="resample"):
        ser.predict(_waveform(1, 0.5), sample_rate=44100)
    with pytest.raises(ValueError, match="at least 20"):  # conv kernels 10, 3 with strides 5, 2
        ser.predict(torch.zeros(19))
    with pytest.raises(ValueError, match="mono"):
        ser.predict(torch.zeros(1, 2, 8000))


def test_bare_encoder_without_head_is_rejected(
    tmp_path: Path, tiny_wav2vec2_config: Callable[..., Any]
) -> None:
    from transformers import Wav2Vec2Model

    torch.manual_seed(0)
    Wav2Vec2Model(tiny_wav2vec2_config(FOUR)).save_pretrained(tmp_path / "encoder")
    with pytest.raises(MissingHeadError, match=r"no trained audio-classification head.*classifier\.weight"):
        SpeechEmotionRecognizer(tmp_path / "encoder")


def test_non_audio_model_is_rejected(tmp_path: Path) -> None:
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    BertModel(config).save_pretrained(tmp_path / "bert")
    with pytest.raises(MissingHeadError, match=r"'bert' model.*no audio-classification head"):
        SpeechEmotionRecognizer(tmp_path / "bert")


def test_missing_folder_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"config\.json.*save_pretrained"):
        SpeechEmotionRecognizer(tmp_path / "nowhere")


def _official_like_checkpoint(folder: Path, config: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    """Write a checkpoint laid out like r-f/wav2vec-english-speech-emotion-recognition into ``folder``.

    Custom dense/tanh/out_proj head, weights in pytorch_model.bin. Returns the reference waveform -> probs.
    """
    from transformers import Wav2Vec2Model

    torch.manual_seed(0)
    encoder = Wav2Vec2Model(config).eval()
    dense, out_proj = torch.nn.Linear(32, 32), torch.nn.Linear(32, 7)
    state = {f"wav2vec2.{k}": v for k, v in encoder.state_dict().items()}
    state |= {f"classifier.dense.{k}": v for k, v in dense.state_dict().items()}
    state |= {f"classifier.out_proj.{k}": v for k, v in out_proj.state_dict().items()}
    folder.mkdir(parents=True)
    torch.save(state, folder / "pytorch_model.bin")
    config_dict = config.to_dict() | {
        "architectures": ["Wav2Vec2ForSpeechClassification"],
        "pooling_mode": "mean",
    }
    (folder / "config.json").write_text(json.dumps(config_dict))

    def reference(waveform: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            normalised = torch.stack([normalise_waveform(c) for c in waveform])
            pooled = encoder(normalised).last_hidden_state.mean(dim=1)
            return torch.softmax(out_proj(torch.tanh(dense(pooled))), dim=-1)

    return reference


def test_dense_tanh_head_layout_of_the_official_ser(
    tmp_path: Path, tiny_wav2vec2_config: Callable[..., Any]
) -> None:
    reference = _official_like_checkpoint(tmp_path / "official-like", tiny_wav2vec2_config(EMOTIONS))
    ser = SpeechEmotionRecognizer(tmp_path / "official-like")
    assert ser.dense_head is not None
    waveform = _waveform(2, 0.5, seed=5)
    # labels are already canonical, so the mapping is the identity
    torch.testing.assert_close(ser.predict(waveform), reference(waveform), atol=1e-5, rtol=1e-5)


def test_hub_id_is_read_from_the_local_cache_offline(
    tmp_path: Path, tiny_wav2vec2_config: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    repo = "r-f/wav2vec-english-speech-emotion-recognition"
    commit = "0123456789abcdef0123456789abcdef01234567"
    entry = tmp_path / "hub" / f"models--{repo.replace('/', '--')}"
    reference = _official_like_checkpoint(entry / "snapshots" / commit, tiny_wav2vec2_config(EMOTIONS))
    (entry / "refs").mkdir()
    (entry / "refs" / "main").write_text(commit)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)

    ser = SpeechEmotionRecognizer(repo)
    waveform = _waveform(1, 0.5, seed=7)
    torch.testing.assert_close(ser.predict(waveform), reference(waveform), atol=1e-5, rtol=1e-5)
    with pytest.raises(FileNotFoundError, match="not a local folder"):
        SpeechEmotionRecognizer("someone/not-in-the-cache")


@pytest.mark.gpu
def test_cuda_matches_cpu(make_ser: Callable[..., Path]) -> None:
    folder = make_ser(FOUR)
    waveform = _waveform(2, 0.5, seed=6)
    cpu = SpeechEmotionRecognizer(folder).predict(waveform)
    cuda = SpeechEmotionRecognizer(folder, device="cuda").predict(waveform)
    assert cuda.device.type == "cpu"  # outputs always come back on the CPU
    torch.testing.assert_close(cuda, cpu, atol=1e-4, rtol=0)
