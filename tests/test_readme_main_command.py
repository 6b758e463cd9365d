"""The README's main command, exactly as written there, on the files it names, with the embedded bundle.

A newcomer with only uv runs it on a fresh clone: it must write a playable mp4 with the input audio, 25 fps,
whose frame count follows the audio (T = ceil(seconds x 25)) and whose duration matches it.
"""

from __future__ import annotations

import json
import math
import re
import shlex
import subprocess
import sys
from pathlib import Path

import av
import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_main_command() -> list[str]:
    """The ``uv run float-generate ...`` line of README.md's first code block, split like a shell would."""
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"^uv run (float-generate [^\n]+)$", readme, flags=re.MULTILINE)
    assert match, "README.md must show the main command as `uv run float-generate ...`"
    return shlex.split(match.group(1))


def test_readme_main_command_writes_a_playable_mp4_matching_the_audio(tmp_path: Path, require_tool) -> None:  # type: ignore[no-untyped-def]
    ffprobe = require_tool("ffprobe")
    command = readme_main_command()
    out_index = command.index("--out") + 1
    command[out_index] = str(tmp_path / command[out_index])
    script = Path(sys.executable).with_name("float-generate")  # the entry point `uv run` resolves
    result = subprocess.run(
        [str(script), *command[1:]], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    video = Path(command[out_index])

    audio_path = ROOT / command[command.index("--audio") + 1]
    with av.open(str(audio_path)) as source:
        audio_seconds = float(source.duration) / av.time_base
    expected_frames = math.ceil(audio_seconds * 25 - 1e-6)

    probe = subprocess.run(
        [ffprobe, "-v", "error", "-count_frames", "-show_streams", "-show_format", "-of", "json", str(video)],
        capture_output=True,
        text=True,
        check=True,
    )
    info = json.loads(probe.stdout)
    streams = {stream["codec_type"]: stream for stream in info["streams"]}
    assert set(streams) == {"video", "audio"}
    assert streams["video"]["codec_name"] == "h264" and streams["video"]["pix_fmt"] == "yuv420p"
    assert streams["video"]["avg_frame_rate"] == "25/1"
    assert int(streams["video"]["nb_read_frames"]) == expected_frames
    assert streams["audio"]["codec_name"] == "aac"
    assert float(info["format"]["duration"]) == pytest.approx(audio_seconds, abs=0.1)
    with av.open(str(video)) as container:  # every frame decodes
        decoded = sum(1 for _ in container.decode(video=0))
    assert decoded == expected_frames
