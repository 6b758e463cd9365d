"""Per-clip feature cache for training: one safetensors file per (audio file content, encoder fingerprint).

The key is ``sha256(file sha256 + ":" + encoder.fingerprint())``, so renaming or moving a clip keeps its
entry, while editing the audio or changing the encoder's settings or weights gives a new one. Files are
written to a temporary name in the same folder and moved into place with :func:`os.replace`, so a reader
(another DataLoader worker, a crashed run) never sees a half-written file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from float_audio.io import load_audio
from float_audio.protocol import AudioEncoder

__all__ = ["FeatureCache", "file_sha256"]

_CHUNK_BYTES = 1 << 20


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(_CHUNK_BYTES):
            digest.update(block)
    return digest.hexdigest()


class FeatureCache:
    """Folder of cached ``[T, D]`` float features, one file per clip and encoder.

    Example: ``FeatureCache("~/.cache/float-audio").get_or_compute("clip.wav", encoder)`` encodes once, then
    reads the stored tensor on every later call.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()
        self._hashes: dict[tuple[str, int, int], str] = {}

    def _audio_hash(self, audio_path: Path) -> str:
        stat = audio_path.stat()
        key = (str(audio_path.resolve()), stat.st_size, stat.st_mtime_ns)
        if key not in self._hashes:
            self._hashes[key] = file_sha256(audio_path)
        return self._hashes[key]

    def key(self, audio_path: str | Path, fingerprint: str) -> str:
        """Cache key of a clip under an encoder fingerprint (hex sha256)."""
        audio_hash = self._audio_hash(Path(audio_path))
        return hashlib.sha256(f"{audio_hash}:{fingerprint}".encode()).hexdigest()

    def path_for(self, audio_path: str | Path, fingerprint: str) -> Path:
        """Where the features of ``audio_path`` live: ``root/<2 hex>/<key>.safetensors``."""
        key = self.key(audio_path, fingerprint)
        return self.root / key[:2] / f"{key}.safetensors"

    def load(self, audio_path: str | Path, fingerprint: str) -> torch.Tensor | None:
        """Stored ``[T, D]`` features, or None when absent or unreadable (an unreadable file is reported)."""
        target = self.path_for(audio_path, fingerprint)
        if not target.is_file():
            return None
        try:
            return load_file(target)["features"]
        except (SafetensorError, KeyError, OSError) as error:
            message = f"ignoring unreadable cache entry {target} ({error}); it will be rewritten"
            warnings.warn(message, stacklevel=2)
            return None

    def save(self, audio_path: str | Path, fingerprint: str, features: torch.Tensor) -> Path:
        """Store ``[T, D]`` features atomically; returns the file written."""
        if features.ndim != 2:
            raise ValueError(f"features must have shape [T, D], got {list(features.shape)}")
        target = self.path_for(audio_path, fingerprint)
        target.parent.mkdir(parents=True, exist_ok=True)
        metadata = {"source": Path(audio_path).name, "fingerprint": fingerprint, "fps": "25"}
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=".tmp")
        os.close(handle)
        try:
            save_file({"features": features.detach().to("cpu").contiguous()}, temporary, metadata=metadata)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return target

    def get_or_compute(
        self, audio_path: str | Path, encoder: AudioEncoder, *, allow_silent: bool = False
    ) -> torch.Tensor:
        """``[T, D]`` features of one clip: read from the cache, or load + encode + store them."""
        fingerprint = encoder.fingerprint()
        cached = self.load(audio_path, fingerprint)
        if cached is not None:
            return cached
        audio = load_audio(audio_path, allow_silent=allow_silent)
        features = encoder.encode(audio.waveform[None], num_frames=audio.num_frames)[0].float()
        self.save(audio_path, fingerprint, features)
        return features
