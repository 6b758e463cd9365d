from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from pydantic import ValidationError

from float_audio import (
    AudioEncoder,
    AudioProjection,
    BackboneNotFoundError,
    LoadedAudio,
    Wav2Vec2FrameEncoder,
    Wav2Vec2FrameEncoderConfig,
    encode_audio,
    load_audio,
    plan_chunks,
)


def _relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def test_end_to_end_on_committed_speech(speech_wav: Path, tiny_encoder: Wav2Vec2FrameEncoder) -> None:
    assert isinstance(tiny_encoder, AudioEncoder)
    assert (tiny_encoder.layer_dim, tiny_encoder.feature_dim) == (64, 16)
    features = encode_audio(speech_wav, tiny_encoder)
    assert features.shape == (1, 94, 16)
    assert torch.isfinite(features).all() and not features.requires_grad
    assert float(features.min()) >= -0.2785  # SiLU output
    # speech varies over time: features are not one repeated vector
    assert float(features[0].std(dim=0).mean()) > 0.05


@pytest.mark.parametrize(
    ("key", "frames"),
    [("wav_0.2", 5), ("wav_2.0", 50), ("wav_7.3", 183), ("flac", 183), ("stereo48k", 183), ("mp3", None),
     ("m4a", None), ("ogg", None), ("mp4", None)],
)  # fmt: skip
def test_exact_frame_count_for_every_format(
    speech_media: dict[str, Path], tiny_encoder: Wav2Vec2FrameEncoder, key: str, frames: int | None
) -> None:
    audio = load_audio(speech_media[key])
    features = encode_audio(audio, tiny_encoder)
    expected = frames if frames is not None else audio.num_frames
    assert features.shape == (1, expected, 16)
    assert torch.isfinite(features).all()


def test_cnn_features_are_every_other_50hz_frame(
    speech_wav: Path, tiny_encoder: Wav2Vec2FrameEncoder
) -> None:
    """Frame t of the 25 fps sequence is exactly CNN frame 2t (t / 25 s): the linear resampling is aligned."""
    prepared, frames = tiny_encoder.prepare(load_audio(speech_wav).waveform)
    assert prepared.shape == (1, frames * 640)
    with torch.no_grad():
        cnn = tiny_encoder.backbone.feature_extractor(prepared)
    assert cnn.shape[-1] == 2 * frames - 1
    seen: list[torch.Tensor] = []
    handle = tiny_encoder.backbone.feature_projection.register_forward_pre_hook(
        lambda _m, inputs: seen.append(inputs[0])
    )
    try:
        tiny_encoder.encode(prepared[0, :59_828])
    finally:
        handle.remove()
    torch.testing.assert_close(seen[0], cnn[..., ::2].transpose(1, 2))


def test_num_frames_override_pads_by_repetition(speech_wav: Path, tiny_encoder: Wav2Vec2FrameEncoder) -> None:
    waveform = load_audio(speech_wav).waveform
    assert tiny_encoder.encode(waveform, num_frames=100).shape == (1, 100, 16)
    assert tiny_encoder.encode(waveform, num_frames=10).shape == (1, 10, 16)


def test_batch_matches_single_clips(speech_wav: Path, tiny_encoder: Wav2Vec2FrameEncoder) -> None:
    waveform = load_audio(speech_wav).waveform
    batch = torch.stack([waveform, 0.3 * waveform.flip(0)])
    together = tiny_encoder.encode(batch)
    torch.testing.assert_close(together[0], tiny_encoder.encode(batch[0])[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(together[1], tiny_encoder.encode(batch[1])[0], atol=1e-5, rtol=1e-4)


def test_normalisation_makes_features_gain_invariant(
    speech_wav: Path, tiny_encoder: Wav2Vec2FrameEncoder
) -> None:
    waveform = load_audio(speech_wav).waveform
    torch.testing.assert_close(
        tiny_encoder.encode(waveform), tiny_encoder.encode(0.25 * waveform), atol=1e-4, rtol=0
    )


def test_silent_waveform_gives_finite_features(tiny_encoder: Wav2Vec2FrameEncoder) -> None:
    features = tiny_encoder.encode(torch.zeros(1, 16_000))
    assert features.shape == (1, 25, 16) and torch.isfinite(features).all()


def test_chunked_encoding_stays_close_to_whole_clip(
    speech_media: dict[str, Path], make_encoder: Callable[..., Wav2Vec2FrameEncoder]
) -> None:
    waveform = load_audio(speech_media["wav_7.3"]).waveform[None]
    blended = make_encoder(0, chunk_seconds=2.0, overlap_seconds=0.6)
    hard_cut = make_encoder(0, chunk_seconds=2.0, overlap_seconds=0.0)
    with torch.no_grad():
        whole = blended(waveform)  # forward(): one pass over all 183 frames
    chunked = blended.encode(waveform)  # 5 chunks of 50 frames, overlaps >= 15 frames
    assert len(plan_chunks(183, 50, 15)) == 5
    cut = hard_cut.encode(waveform)
    cosine = F.cosine_similarity(chunked, whole, dim=-1)
    assert float(cosine.mean()) > 0.998 and float(cosine.min()) > 0.97
    assert _relative_error(chunked, whole) < 0.05
    # overlapping, cross-faded chunks are much closer to the whole clip than hard cuts
    assert _relative_error(chunked, whole) < 0.5 * _relative_error(cut, whole)


def test_chunks_see_whole_clip_cnn_features(
    speech_media: dict[str, Path], make_encoder: Callable[..., Wav2Vec2FrameEncoder]
) -> None:
    """With whole-clip GroupNorm statistics each chunk's CNN features equal the whole-clip ones."""
    encoder = make_encoder(0, chunk_seconds=2.0, overlap_seconds=0.6)
    waveform = load_audio(speech_media["wav_7.3"]).waveform[None]
    seen: list[torch.Tensor] = []
    handle = encoder.backbone.feature_projection.register_forward_pre_hook(lambda _m, i: seen.append(i[0]))
    try:
        with torch.no_grad():
            encoder(waveform)
        encoder.encode(waveform)
    finally:
        handle.remove()
    whole, pieces = seen[0], seen[1:]
    spans = plan_chunks(183, 50, 15)
    assert len(pieces) == len(spans)
    for (start, end), piece in zip(spans, pieces, strict=True):
        torch.testing.assert_close(piece, whole[:, start:end], atol=2e-4, rtol=1e-3)


def test_single_chunk_encode_equals_forward(speech_wav: Path, tiny_encoder: Wav2Vec2FrameEncoder) -> None:
    waveform = load_audio(speech_wav).waveform[None]
    with torch.no_grad():
        torch.testing.assert_close(tiny_encoder.encode(waveform), tiny_encoder(waveform))


def test_layer_choices(speech_wav: Path, make_encoder: Callable[..., Wav2Vec2FrameEncoder]) -> None:
    waveform = load_audio(speech_wav).waveform
    raw_all = make_encoder(0, project=False)
    raw_last = Wav2Vec2FrameEncoder(
        raw_all.backbone, config=Wav2Vec2FrameEncoderConfig(layers="last", project=False)
    )
    assert raw_all.projection is None and (raw_all.feature_dim, raw_last.feature_dim) == (64, 32)
    everything, last = raw_all.encode(waveform), raw_last.encode(waveform)
    assert everything.shape == (1, 94, 64) and last.shape == (1, 94, 32)
    torch.testing.assert_close(everything[..., 32:], last)
    # the concatenation holds transformers' own hidden states of the two layers, given the same 25 fps input
    prepared, frames = raw_all.prepare(waveform)
    handle = raw_all.backbone.feature_extractor.register_forward_hook(
        lambda _m, _i, out: F.interpolate(out, size=frames, mode="linear", align_corners=True)
    )
    try:
        with torch.no_grad():
            hidden = raw_all.backbone(prepared, output_hidden_states=True).hidden_states
    finally:
        handle.remove()
    torch.testing.assert_close(everything, torch.cat(hidden[-2:], dim=-1))
    projected_last = make_encoder(0, layers="last")
    assert projected_last.projection is not None and projected_last.projection.in_dim == 32


def test_only_the_projection_trains(speech_wav: Path, tiny_encoder: Wav2Vec2FrameEncoder) -> None:
    tiny_encoder.train()
    assert tiny_encoder.projection is not None and tiny_encoder.projection.training
    assert not tiny_encoder.backbone.training
    features = tiny_encoder(load_audio(speech_wav).waveform[None])
    features.square().mean().backward()
    assert tiny_encoder.projection.linear.weight.grad is not None
    assert float(tiny_encoder.projection.linear.weight.grad.abs().sum()) > 0
    assert all(p.grad is None and not p.requires_grad for p in tiny_encoder.backbone.parameters())


def test_fingerprint_tracks_settings_and_weights(
    tiny_encoder: Wav2Vec2FrameEncoder, make_encoder: Callable[..., Wav2Vec2FrameEncoder]
) -> None:
    same = make_encoder(0)
    assert tiny_encoder.fingerprint() == same.fingerprint() == tiny_encoder.fingerprint()
    assert make_encoder(1).fingerprint() != tiny_encoder.fingerprint()
    assert make_encoder(0, layers="last").fingerprint() != tiny_encoder.fingerprint()
    with torch.no_grad():
        same.projection.linear.bias.add_(1.0)
    assert same.fingerprint(refresh=True) != tiny_encoder.fingerprint()


def test_local_folders_round_trip(
    tmp_path: Path, speech_wav: Path, tiny_encoder: Wav2Vec2FrameEncoder
) -> None:
    tiny_encoder.backbone.save_pretrained(tmp_path / "backbone")
    tiny_encoder.projection.save_pretrained(tmp_path / "projection")
    loaded = Wav2Vec2FrameEncoder.from_pretrained(tmp_path / "backbone", tmp_path / "projection")
    assert loaded.config.backbone == str(tmp_path / "backbone")
    waveform = load_audio(speech_wav).waveform
    torch.testing.assert_close(loaded.encode(waveform), tiny_encoder.encode(waveform))


def test_missing_backbone_names_it_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(BackboneNotFoundError, match=r"no_such_folder.*hf download facebook/wav2vec2-base"):
        Wav2Vec2FrameEncoder.from_pretrained(tmp_path / "no_such_folder")
    with pytest.raises(BackboneNotFoundError, match="float-kit-test/not-a-model"):
        Wav2Vec2FrameEncoder.from_pretrained("float-kit-test/not-a-model")


def test_hubert_backbone_plugs_in(speech_wav: Path, tiny_config: Callable[..., object]) -> None:
    from transformers import HubertConfig

    torch.manual_seed(0)
    config = HubertConfig(**tiny_config().to_diff_dict() | {"model_type": "hubert"})
    encoder = Wav2Vec2FrameEncoder.from_config(config, output_dim=16)
    assert type(encoder.backbone).__name__ == "HubertModel"
    features = encode_audio(speech_wav, encoder)
    assert features.shape == (1, 94, 16) and torch.isfinite(features).all()


def test_bad_inputs_are_reported(tiny_encoder: Wav2Vec2FrameEncoder) -> None:
    with pytest.raises(ValueError, match=r"shape \[B, N\] or \[N\]"):
        tiny_encoder.encode(torch.zeros(1, 1, 100))
    with pytest.raises(ValueError, match="no samples"):
        tiny_encoder.encode(torch.zeros(1, 0))
    with pytest.raises(ValueError, match="NaN"):
        tiny_encoder.encode(torch.full((1, 1000), float("nan")))
    with pytest.raises(ValueError, match="num_frames must be > 0"):
        tiny_encoder.encode(torch.randn(1, 1000), num_frames=0)
    with pytest.raises(ValueError, match=r"clip\.wav: encoders take 16 kHz audio, got 8000 Hz"):
        encode_audio(LoadedAudio(torch.randn(800), 8_000, "clip.wav"), tiny_encoder)


def test_bad_construction_is_reported(
    make_encoder: Callable[..., Wav2Vec2FrameEncoder], tiny_config: Callable[..., object]
) -> None:
    from transformers import Wav2Vec2ForCTC

    torch.manual_seed(0)
    with pytest.raises(TypeError, match="not a task head"):
        Wav2Vec2FrameEncoder(Wav2Vec2ForCTC(tiny_config(vocab_size=8)))
    backbone = make_encoder(0).backbone
    with pytest.raises(ValueError, match=r"projection maps 9216 -> 512 but the backbone gives 64"):
        Wav2Vec2FrameEncoder(backbone, AudioProjection())
    with pytest.raises(ValidationError, match="overlap_seconds"):
        Wav2Vec2FrameEncoderConfig(chunk_seconds=2.0, overlap_seconds=1.0)
    with pytest.raises(ValidationError, match="layers"):
        Wav2Vec2FrameEncoderConfig(layers="middle")


def test_chunk_seconds_zero_encodes_the_whole_clip_as_officially(
    speech_media: dict[str, Path], make_encoder: Callable[..., Wav2Vec2FrameEncoder]
) -> None:
    waveform = load_audio(speech_media["wav_7.3"]).waveform[None]
    chunked = make_encoder(0, chunk_seconds=2.0, overlap_seconds=0.6)
    whole = chunked.with_chunking(0)
    assert whole.config.whole_clip and not chunked.config.whole_clip
    assert whole.backbone is chunked.backbone and whole.projection is chunked.projection  # no weight copy
    with torch.no_grad():
        one_pass = chunked(waveform)
    assert torch.equal(whole.encode(waveform), one_pass)
    assert not torch.equal(chunked.encode(waveform), one_pass)
    # an overlap that does not fit a shorter chunk is shortened to a quarter of it
    assert chunked.with_chunking(1.0).config.overlap_seconds == 0.25
    assert chunked.with_chunking(4.0).config.overlap_seconds == 0.6
    with pytest.raises(ValidationError):
        chunked.with_chunking(-1.0)
