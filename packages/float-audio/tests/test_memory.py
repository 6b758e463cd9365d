"""Bounded memory for long audio: a 10-minute file against a 30-second one, each in a fresh process (slow).

``python -m float_tools.bench.audio_memory`` runs the same measurement with a wav2vec2-base-sized
encoder.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CHILD = """
import json, sys, torch
from transformers import Wav2Vec2Config
from float_audio import Wav2Vec2FrameEncoder, load_audio

def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024

torch.manual_seed(0)
config = Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
    conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
encoder = Wav2Vec2FrameEncoder.from_config(config, output_dim=16)
base = rss("VmRSS")
clip = load_audio(sys.argv[1])
features = encoder.encode(clip.waveform[None], num_frames=clip.num_frames)
print(json.dumps({"frames": features.shape[1], "finite": bool(torch.isfinite(features).all()),
                  "base": base, "peak": rss("VmHWM")}))
"""


def _measure(path: Path) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


@pytest.mark.slow
def test_ten_minutes_needs_about_the_memory_of_thirty_seconds(
    tmp_path: Path, speech_wav: Path, require_tool
) -> None:
    require_tool("ffmpeg")
    clips = {}
    for seconds in (30, 600):
        clips[seconds] = tmp_path / f"speech_{seconds}.wav"
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-stream_loop", "-1", "-i", str(speech_wav), "-t", str(seconds),
             "-c:a", "pcm_s16le", str(clips[seconds])],
            check=True,
        )  # fmt: skip
    short, long = _measure(clips[30]), _measure(clips[600])
    assert (short["frames"], long["frames"]) == (750, 15_000)
    assert short["finite"] and long["finite"]
    assert long["peak"] <= 1.5 * short["peak"]
    # Above the process baseline the long clip holds its waveform (37 MiB) and features, plus one chunk's
    # activations; whole-clip attention over 15000 frames would need 2 x 15000^2 x 4 B = 1.7 GiB alone.
    assert long["peak"] - long["base"] < 300
