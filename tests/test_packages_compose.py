"""The packages compose through plain tensors exactly as docs/architecture.md's interface table says.

Tiny random models from every model package are wired the way the inference app will wire them: the
real portrait goes through the motion auto-encoder, the real speech through the audio encoder, a fixed
emotion through float-emotion, and float-flow streams motion windows that the auto-encoder decodes in
batches. Random weights say nothing about quality; these tests pin the shapes, frame counts and
determinism of the contract.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from float_audio import SAMPLE_RATE, Wav2Vec2FrameEncoder, load_audio, num_frames
from float_emotion import EMOTIONS, FixedEmotion
from float_flow import FlowMatchingTransformer, SamplerConfig, TransformerConfig, generate_windows
from float_motion_ae import MotionAutoEncoder

IMAGE_SIZE = 32
LATENT = 32
AUDIO_DIM = 16


def _tiny_models() -> tuple[MotionAutoEncoder, Wav2Vec2FrameEncoder, FlowMatchingTransformer]:
    from transformers import Wav2Vec2Config

    torch.manual_seed(0)
    autoencoder = MotionAutoEncoder(
        size=IMAGE_SIZE, latent_dim=LATENT, motion_dim=4, channel_base=256, channel_max=32, motion_layers=2
    ).eval()
    backbone = Wav2Vec2Config(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(16,) * 7,
        conv_stride=(5, 2, 2, 2, 2, 2, 2),
        conv_kernel=(10, 3, 3, 3, 3, 2, 2),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
    )
    audio_encoder = Wav2Vec2FrameEncoder.from_config(backbone, output_dim=AUDIO_DIM).eval()
    transformer = FlowMatchingTransformer(
        dim_motion=LATENT,
        dim_hidden=32,
        depth=1,
        num_heads=2,
        num_frames=10,
        num_prev_frames=2,
        dim_audio=AUDIO_DIM,
        dim_emotion=len(EMOTIONS),
    ).eval()
    return autoencoder, audio_encoder, transformer


def _portrait_tensor(path: Path) -> torch.Tensor:
    """The committed portrait as the [1, 3, S, S] tensor in [-1, 1] the auto-encoder takes."""
    image = Image.open(path).convert("RGB").resize((IMAGE_SIZE, IMAGE_SIZE), Image.LANCZOS)
    array = torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).float()
    return (array / 127.5 - 1.0)[None]


def _talking_frames(speech_wav: Path, portrait_png: Path, seed: int, batch: int = 7) -> torch.Tensor:
    autoencoder, audio_encoder, transformer = _tiny_models()
    clip = load_audio(speech_wav)
    with torch.no_grad():
        source = autoencoder.encode(_portrait_tensor(portrait_png))
        source_motion = autoencoder.motion(source.coeffs)  # [1, d]
        audio = audio_encoder.encode(clip.waveform[None])  # [1, T, 16]
        emotion = FixedEmotion("happy").predict(clip.waveform[None])  # [1, 7]
        frames = []
        for window in generate_windows(
            transformer, source_motion, audio, emotion, seed=seed, sampler=SamplerConfig(nfe=2)
        ):
            motion = window.motion[0]  # [n, d]
            for start in range(0, motion.shape[0], batch):  # decode in batches, features computed once
                chunk = motion[start : start + batch]
                frames.append(autoencoder.decode(source.identity, chunk, source.features))
    return torch.cat(frames)


@pytest.mark.slow
def test_portrait_and_speech_become_one_frame_per_25fps_tick(speech_wav: Path, portrait_png: Path) -> None:
    clip = load_audio(speech_wav)
    assert clip.waveform.ndim == 1 and SAMPLE_RATE == 16_000
    expected = math.ceil(clip.waveform.shape[0] / SAMPLE_RATE * 25)
    assert num_frames(clip.duration) == expected == 94  # 3.74 s of speech

    frames = _talking_frames(speech_wav, portrait_png, seed=3)

    assert frames.shape == (expected, 3, IMAGE_SIZE, IMAGE_SIZE)
    assert torch.isfinite(frames).all()
    # Different motion latents give different frames: the flow output really reaches the decoder.
    assert (frames[1:] - frames[:-1]).abs().amax() > 1e-4
    # The same seed reproduces the whole clip bit for bit.
    again = _talking_frames(speech_wav, portrait_png, seed=3)
    assert torch.equal(frames, again)


def test_emotion_vector_matches_the_flow_models_condition_width() -> None:
    probabilities = FixedEmotion("surprise").predict(torch.zeros(2, SAMPLE_RATE))
    assert probabilities.shape == (2, len(EMOTIONS)) == (2, TransformerConfig().dim_emotion)
    assert torch.allclose(probabilities.sum(-1), torch.ones(2))
    assert probabilities[:, EMOTIONS.index("surprise")].eq(1).all()
