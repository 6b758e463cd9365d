"""Reading videos (mp4 and other containers via PyAV, or folders of frames) and their 16 kHz mono audio."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import torch
from PIL import Image

__all__ = [
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "Video",
    "list_videos",
    "read_audio",
    "read_video",
    "resample_fps",
]

VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".m4a")


@dataclass
class Video:
    """Decoded frames [T, 3, H, W] uint8 RGB, their rate, and where they came from."""

    frames: torch.Tensor
    fps: float
    path: Path
    fps_assumed: bool = False


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def list_videos(folder: str | Path) -> dict[str, Path]:
    """Videos of a folder by name: video files (name = stem), sub-folders of frames (name = folder name).

    Hidden entries (``.name``) are skipped: writers use them for files still being written.
    """
    root = Path(folder)
    if root.is_file():
        raise FileNotFoundError(
            f"video folder {root} is a file, not a folder: pass the folder holding the videos"
        )
    if not root.is_dir():
        raise FileNotFoundError(f"video folder {root} does not exist")
    found: dict[str, Path] = {}
    for p in sorted(root.iterdir()):
        if p.name.startswith("."):
            continue
        if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES:
            found[p.stem] = p
        elif p.is_dir() and _image_files(p):
            found[p.name] = p
    return found


def read_video(path: str | Path, folder_fps: float = 25.0) -> Video:
    """Decode a video file or a folder of frames (sorted by name; its rate is ``folder_fps``, assumed)."""
    path = Path(path)
    if path.is_dir():
        files = _image_files(path)
        if not files:
            raise ValueError(f"{path} holds no image frames ({', '.join(sorted(IMAGE_SUFFIXES))})")
        frames = [torch.from_numpy(np.array(Image.open(f).convert("RGB"))).permute(2, 0, 1) for f in files]
        return Video(torch.stack(frames), folder_fps, path, fps_assumed=True)
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError(f"{path} has no video stream")
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or folder_fps)
        frames = [
            torch.from_numpy(f.to_ndarray(format="rgb24")).permute(2, 0, 1) for f in container.decode(stream)
        ]
    if not frames:
        raise ValueError(f"{path} has no decodable frames")
    return Video(torch.stack(frames), fps, path)


def resample_fps(frames: torch.Tensor, fps: float, target: float = 25.0) -> torch.Tensor:
    """Nearest-frame resampling to ``target`` fps (drops or repeats frames, like ``ffmpeg -r``)."""
    if abs(fps - target) < 1e-3:
        return frames
    duration = frames.shape[0] / fps
    n = max(1, round(duration * target))
    idx = torch.clamp((torch.arange(n) * fps / target).round().long(), max=frames.shape[0] - 1)
    return frames[idx]


def read_audio(path: str | Path, sample_rate: int = 16000) -> np.ndarray | None:
    """Mono int16 audio at ``sample_rate`` from a media file, or None when it has no audio stream.

    A frame folder's audio is looked for beside it (``<folder>.wav``) or inside it (``audio.wav``).
    """
    path = Path(path)
    if path.is_dir():
        candidates = [path.with_suffix(s) for s in AUDIO_SUFFIXES] + [
            path / f"audio{s}" for s in AUDIO_SUFFIXES
        ]
        path = next((c for c in candidates if c.is_file()), None)  # type: ignore[assignment]
        if path is None:
            return None
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        resampler = av.AudioResampler(format="s16", layout="mono", rate=sample_rate)
        chunks = []
        for frame in container.decode(container.streams.audio[0]):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    return np.concatenate(chunks).astype(np.int16) if chunks else None
