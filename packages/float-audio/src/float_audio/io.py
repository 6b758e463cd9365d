"""Decode any audio (or audio track of a video) to 16 kHz mono float32, with its duration.

Decoding goes through PyAV (ffmpeg's libavformat/libavcodec), so every container and codec ffmpeg reads works:
wav, mp3, m4a/aac, flac, ogg/opus, the audio track of an mp4/mkv. Channel mixing and resampling use ffmpeg's
libswresample through :class:`av.AudioResampler` (band-limited windowed-sinc resampling, ffmpeg's standard
downmix matrix), the same code path as ``ffmpeg -ac 1 -ar 16000``.

Silent audio (every sample below :data:`SILENCE_THRESHOLD`, i.e. -80 dBFS) is refused by default with
:class:`SilentAudioError`: a talking portrait driven by silence is almost always a wrong file or a broken
export.
Pass ``allow_silent=True`` to accept it; a :class:`SilentAudioWarning` is emitted and the waveform is returned
unchanged (the encoders map all-zero input to finite features).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import torch

from float_audio.errors import (
    AudioDecodeError,
    AudioFileNotFoundError,
    EmptyAudioError,
    SilentAudioError,
    SilentAudioWarning,
)
from float_audio.frames import SAMPLE_RATE, num_frames_for_samples

__all__ = ["SILENCE_THRESHOLD", "LoadedAudio", "audio_from_array", "load_audio"]

SILENCE_THRESHOLD = 1e-4
"""Peak absolute amplitude (full scale = 1.0) at or below which a clip counts as silent (-80 dBFS)."""

_SUPPORTED_HINT = "pass a wav, mp3, m4a, flac or ogg file, or a video with an audio track"


@dataclass(frozen=True)
class LoadedAudio:
    """A decoded clip.

    Attributes:
        waveform: ``[N]`` float32 mono samples at ``sample_rate``, full scale = 1.0 (values in about [-1, 1]).
        sample_rate: samples per second (16000 unless asked otherwise).
        source: the file path it came from, or a description such as ``"array"``.
    """

    waveform: torch.Tensor
    sample_rate: int
    source: str

    @property
    def num_samples(self) -> int:
        """Number of samples ``N``."""
        return int(self.waveform.shape[0])

    @property
    def duration(self) -> float:
        """Duration in seconds, ``N / sample_rate``."""
        return self.num_samples / self.sample_rate

    @property
    def num_frames(self) -> int:
        """25 fps frame count ``T = ceil(duration x 25)``, computed exactly from the sample count."""
        return num_frames_for_samples(self.num_samples, self.sample_rate)


def _check_content(samples: np.ndarray, source: str, allow_silent: bool, threshold: float) -> None:
    if samples.size == 0:
        raise EmptyAudioError(f"{source}: contains no audio samples (zero length); {_SUPPORTED_HINT}", source)
    if not np.isfinite(samples).all():
        raise AudioDecodeError(f"{source}: audio contains NaN or infinite samples", source)
    peak = float(np.abs(samples).max())
    if peak <= threshold:
        message = (
            f"{source}: audio is silent (peak amplitude {peak:.2e} <= {threshold:.0e}, i.e. below -80 dBFS); "
            "check the file, or pass allow_silent=True to encode it anyway"
        )
        if not allow_silent:
            raise SilentAudioError(message, source)
        warnings.warn(message, SilentAudioWarning, stacklevel=3)


def load_audio(
    path: str | Path,
    *,
    sample_rate: int = SAMPLE_RATE,
    allow_silent: bool = False,
    silence_threshold: float = SILENCE_THRESHOLD,
) -> LoadedAudio:
    """Decode the first audio stream of ``path`` to mono float32 at ``sample_rate``.

    Raises:
        AudioFileNotFoundError: the path does not exist or is not a file.
        EmptyAudioError: the file is 0 bytes or decodes to no samples.
        AudioDecodeError: not a media file ffmpeg can read, or a media file without an audio stream.
        SilentAudioError: all samples are at or below ``silence_threshold`` and ``allow_silent`` is False.
    """
    path = Path(path)
    source = str(path)
    if not path.exists():
        raise AudioFileNotFoundError(f"audio file not found: {source}; check the path", source)
    if not path.is_file():
        raise AudioFileNotFoundError(f"{source} is not a file (a folder?); pass an audio file", source)
    if path.stat().st_size == 0:
        raise EmptyAudioError(f"{source}: the file is empty (0 bytes); {_SUPPORTED_HINT}", source)
    try:
        container = av.open(source)
    except av.FFmpegError as error:
        raise AudioDecodeError(
            f"{source}: not a readable audio or media file ({error.strerror or error}); {_SUPPORTED_HINT}",
            source,
        ) from error
    with container:
        if not container.streams.audio:
            kinds: list[str] = sorted({str(stream.type) for stream in container.streams}) or ["none"]
            raise AudioDecodeError(
                f"{source}: has no audio stream (streams found: {', '.join(kinds)}); {_SUPPORTED_HINT}",
                source,
            )
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        blocks: list[np.ndarray] = []
        try:
            for frame in container.decode(stream):
                blocks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(frame))
            blocks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(None))
        except av.FFmpegError as error:
            raise AudioDecodeError(
                f"{source}: audio stream could not be decoded ({error.strerror or error}); the file may be "
                "truncated or corrupt",
                source,
            ) from error
    samples = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)
    del blocks
    _check_content(samples, source, allow_silent, silence_threshold)
    return LoadedAudio(torch.from_numpy(samples.astype(np.float32, copy=False)), sample_rate, source)


def _resample_mono(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample a 1-D float32 array with libswresample (the same resampler :func:`load_audio` uses)."""
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[None, :]), format="flt", layout="mono")
    frame.sample_rate = from_rate
    resampler = av.AudioResampler(format="flt", layout="mono", rate=to_rate)
    blocks = [out.to_ndarray().reshape(-1) for out in resampler.resample(frame)]
    blocks += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)


def audio_from_array(
    samples: np.ndarray | torch.Tensor,
    sample_rate: int,
    *,
    target_rate: int = SAMPLE_RATE,
    source: str = "audio array",
    allow_silent: bool = False,
    silence_threshold: float = SILENCE_THRESHOLD,
) -> LoadedAudio:
    """Turn an in-memory waveform into a :class:`LoadedAudio` at ``target_rate``, mono.

    Args:
        samples: ``[N]`` mono or ``[C, N]`` channels-first samples, full scale = 1.0 (int16 arrays are scaled
            by 1/32768). Channels are averaged.
        sample_rate: rate of ``samples`` in Hz; resampled with libswresample when it differs from
            ``target_rate``.
    """
    if sample_rate <= 0:
        raise AudioDecodeError(f"{source}: sample_rate must be > 0, got {sample_rate}", source)
    array = samples.detach().cpu().numpy() if isinstance(samples, torch.Tensor) else np.asarray(samples)
    if array.dtype == np.int16:
        array = array.astype(np.float32) / 32768.0
    if not np.issubdtype(array.dtype, np.floating):
        raise AudioDecodeError(f"{source}: expected float or int16 samples, got dtype {array.dtype}", source)
    if array.ndim == 2:
        array = array.mean(axis=0)
    elif array.ndim != 1:
        raise AudioDecodeError(
            f"{source}: expected shape [N] or [channels, N], got {list(array.shape)}; pass one clip",
            source,
        )
    array = array.astype(np.float32, copy=False)
    _check_content(array, source, allow_silent=True, threshold=-1.0)
    if sample_rate != target_rate:
        array = _resample_mono(array, sample_rate, target_rate)
    _check_content(array, source, allow_silent, silence_threshold)
    return LoadedAudio(torch.from_numpy(np.ascontiguousarray(array)), target_rate, source)
