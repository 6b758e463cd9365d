"""LSE-D and LSE-C: the SyncNet lip-sync protocol of syncnet_python (as wrapped by Wav2Lip's evaluation).

Protocol (``SyncNetInstance.evaluate``): MFCC of 16 kHz int16 audio (python_speech_features defaults,
13 coefficients at 100 Hz); for each video frame ``v`` a 5-frame face stack ``v..v+4`` and the 20 MFCC steps
``4v..4v+20``; embeddings from SyncNet; for every frame the distance to the audio embeddings at offsets
``-vshift..+vshift`` (the audio sequence zero-padded at both ends, as the reference does); the mean over
frames gives one distance per offset. LSE-D is the minimum of that curve, LSE-C its median minus its
minimum, and the AV offset ``vshift - argmin`` (positive when the video lags the audio).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import python_speech_features
import torch
import torch.nn.functional as F

__all__ = [
    "LSEResult",
    "audio_to_int16",
    "lse_from_distances",
    "mfcc",
    "offset_distances",
    "sync_embeddings",
    "syncnet_lse",
    "syncnet_lse_stream",
]

SAMPLES_PER_FRAME = 640  # 16 kHz / 25 fps
MFCC_PER_FRAME = 4  # 100 Hz MFCC / 25 fps


class SyncEmbedder(Protocol):
    """What the offset search needs of SyncNet (:class:`~float_eval.nets.syncnet.SyncNet` or a stand-in)."""

    def forward_lip(self, x: torch.Tensor) -> torch.Tensor: ...

    def forward_aud(self, x: torch.Tensor) -> torch.Tensor: ...


@dataclass(frozen=True)
class LSEResult:
    """One face track's ``lse_d`` (min mean distance), ``lse_c`` (median - min), ``offset`` (frames)."""

    lse_d: float
    lse_c: float
    offset: int
    frames: int


def audio_to_int16(audio: np.ndarray) -> np.ndarray:
    """Audio as the reference reads it (``scipy.io.wavfile`` of 16-bit PCM): int16 values.

    Float input in [-1, 1] is scaled by 32768 and rounded; int16 input is returned unchanged.
    """
    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise ValueError(f"audio must be mono [samples], got shape {audio.shape}")
    if audio.dtype == np.int16:
        return audio
    return np.clip(np.round(audio.astype(np.float64) * 32768.0), -32768, 32767).astype(np.int16)


WINDOW, HOP = 400, 160  # python_speech_features' 25 ms window and 10 ms step at 16 kHz
PREEMPHASIS = 0.97


MIN_CHUNK_STEPS = 256


def mfcc(audio: np.ndarray, sample_rate: int = 16000, chunk_steps: int = 1000) -> np.ndarray:
    """python_speech_features MFCC with its defaults: [13, steps] at 100 Hz (float64).

    Computed about ``chunk_steps`` windows at a time (10 s of audio by default), so memory does not grow
    with the audio's length beyond the result. The pre-emphasis is applied over each chunk with the sample
    before it and every window is then independent, so the values are those of one call on the whole
    signal up to float64 rounding: OpenBLAS rounds the last bit of a row of the filterbank product by where
    the row falls in the matrix (kernel tails, the split between threads), which is also why two whole-signal
    calls on two machines can differ there (seen: 5.5e-14 on coefficients up to 40). Chunks are never
    shorter than 256 windows, where small matrices take yet another kernel. Audio up to ``chunk_steps``
    windows is one call, as the reference makes, and gives its values bit for bit.
    """
    if sample_rate != 16000:
        raise ValueError(f"LSE needs 16 kHz audio, got {sample_rate} Hz: resample it first")
    signal = audio_to_int16(audio)
    n = len(signal)
    steps = 1 if n <= WINDOW else 1 + int(np.ceil((n - WINDOW) / HOP))
    chunk = max(chunk_steps, MIN_CHUNK_STEPS)
    starts = list(range(0, steps, chunk))
    if len(starts) > 1 and steps - starts[-1] < MIN_CHUNK_STEPS:
        starts.pop()  # a short remainder joins the chunk before it
    out = []
    for first, last in zip(starts, [*starts[1:], steps], strict=True):  # windows first .. last - 1
        lo = first * HOP
        hi = n if last == steps else (last - 1) * HOP + WINDOW
        # python_speech_features' pre-emphasis, ``append(x[0], x[1:] - 0.97 * x[:-1])``, on this chunk only.
        if lo == 0:
            emphasised = np.append(signal[0], signal[1:hi] - PREEMPHASIS * signal[: hi - 1])
        else:
            emphasised = signal[lo:hi] - PREEMPHASIS * signal[lo - 1 : hi - 1]
        # preemph=0 leaves the already emphasised samples unchanged (x - 0 * y == x).
        cc = python_speech_features.mfcc(emphasised, sample_rate, preemph=0.0)
        out.append(np.asarray(cc, dtype=np.float64))
    return np.concatenate(out).T


@torch.no_grad()
def sync_embeddings(
    model: SyncEmbedder,
    faces: torch.Tensor,
    audio: np.ndarray,
    batch_size: int = 20,
    device: str | torch.device = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """SyncNet embeddings of every 5-frame stack and its 20-step MFCC window.

    Args:
        model: anything with ``forward_lip`` / ``forward_aud`` like :class:`~float_eval.nets.syncnet.SyncNet`.
        faces: face crops [T, 3, 224, 224] as uint8 or floats in [0, 255], **RGB** (converted to the BGR order
            the reference reads with OpenCV).
        audio: 16 kHz mono audio (int16 or float in [-1, 1]) aligned with frame 0.
    Returns:
        (video [N, E], audio [N, E]) with ``N = min(T, len(audio) // 640) - 5``.
    """
    if faces.ndim != 4 or faces.shape[1] != 3:
        raise ValueError(f"faces must have shape [T, 3, H, W], got {list(faces.shape)}")
    cc = torch.from_numpy(mfcc(audio)).float()
    n = min(faces.shape[0], len(audio) // SAMPLES_PER_FRAME) - 5
    if n < 1:
        raise ValueError(f"need more than 5 frames of video and audio for LSE, got {faces.shape[0]} frames")
    video = faces.flip(1).float().permute(1, 0, 2, 3)  # [3, T, H, W], BGR
    vid_out, aud_out = [], []
    for start in range(0, n, batch_size):
        idx = range(start, min(n, start + batch_size))
        lips = torch.stack([video[:, v : v + 5] for v in idx]).to(device)
        auds = torch.stack([cc[:, v * MFCC_PER_FRAME : v * MFCC_PER_FRAME + 20] for v in idx]).unsqueeze(1)
        vid_out.append(model.forward_lip(lips).float().cpu())
        aud_out.append(model.forward_aud(auds.to(device)).float().cpu())
    return torch.cat(vid_out), torch.cat(aud_out)


def offset_distances(video: torch.Tensor, audio: torch.Tensor, vshift: int = 15) -> torch.Tensor:
    """Distances [N, 2 * vshift + 1]: row i, column j compares video i with audio ``i + j - vshift``.

    Audio beyond either end is a zero vector (the reference zero-pads rather than skipping), and the distance
    is ``F.pairwise_distance`` (with its 1e-6 epsilon), as in syncnet_python's ``calc_pdist``.
    """
    if video.shape != audio.shape or video.ndim != 2:
        raise ValueError(f"video and audio embeddings must both be [N, E], got {video.shape}, {audio.shape}")
    win = 2 * vshift + 1
    padded = F.pad(audio, (0, 0, vshift, vshift))
    rows = [
        F.pairwise_distance(video[i : i + 1].expand(win, -1), padded[i : i + win]) for i in range(len(video))
    ]
    return torch.stack(rows)


def lse_from_distances(dists: torch.Tensor, vshift: int = 15) -> LSEResult:
    """LSE-D, LSE-C and offset from the [N, 2 * vshift + 1] distance table."""
    mdist = dists.mean(dim=0)
    minval, minidx = torch.min(mdist, 0)
    return LSEResult(
        lse_d=float(minval),
        lse_c=float(torch.median(mdist) - minval),
        offset=int(vshift - int(minidx)),
        frames=int(dists.shape[0]),
    )


def _lip_batch(crops: list[torch.Tensor], count: int) -> torch.Tensor:
    """``count`` 5-frame stacks [count, 3, 5, H, W] (BGR float) from ``count + 4`` consecutive RGB crops."""
    video = torch.stack(crops[: count + 4]).flip(1).float().permute(1, 0, 2, 3)  # [3, T, H, W], BGR
    return torch.stack([video[:, v : v + 5] for v in range(count)])


@torch.no_grad()
def syncnet_lse_stream(
    model: SyncEmbedder,
    crop_batches: Iterable[torch.Tensor],
    num_frames: int,
    audio: np.ndarray,
    vshift: int = 15,
    batch_size: int = 20,
    device: str | torch.device = "cpu",
) -> LSEResult:
    """:func:`syncnet_lse` of a face track whose crops arrive in batches: the same result, bit for bit.

    Args:
        crop_batches: the track's face crops in order, [B, 3, 224, 224] RGB 0..255 (any B), ``num_frames``
            of them in all.
        audio: the track's 16 kHz mono audio, aligned with its first frame.
    Only ``batch_size + 4`` crops and the audio embeddings within ``vshift`` of the current batch are held;
    the network sees the same batches as :func:`sync_embeddings`, and the distance table is the same.
    """
    cc = torch.from_numpy(mfcc(audio)).float()
    n = min(num_frames, len(audio) // SAMPLES_PER_FRAME) - 5
    if n < 1:
        raise ValueError(f"need more than 5 frames of video and audio for LSE, got {num_frames} frames")
    win = 2 * vshift + 1

    def audio_batch(k: int) -> torch.Tensor:
        idx = range(k * batch_size, min(n, (k + 1) * batch_size))
        auds = torch.stack([cc[:, v * MFCC_PER_FRAME : v * MFCC_PER_FRAME + 20] for v in idx]).unsqueeze(1)
        return model.forward_aud(auds.to(device)).float().cpu()

    audio_cache: dict[int, torch.Tensor] = {}

    def audio_rows(lo: int, hi: int) -> torch.Tensor:
        """Audio embeddings lo .. hi - 1 within [0, n), computed in the batches sync_embeddings uses."""
        parts = []
        for k in range(lo // batch_size, (hi - 1) // batch_size + 1):
            if k not in audio_cache:
                audio_cache[k] = audio_batch(k)
            block = audio_cache[k]
            parts.append(block[max(lo - k * batch_size, 0) : hi - k * batch_size])
        return torch.cat(parts)

    table: torch.Tensor | None = None  # [n, win], filled row by row (one allocation, not one per frame)
    buffer: list[torch.Tensor] = []
    start = 0
    crops = iter(crop_batches)
    while start < n:
        count = min(batch_size, n - start)
        while len(buffer) < count + 4:
            batch = next(crops, None)
            if batch is None:
                raise ValueError(f"the track gave fewer than the {num_frames} crops announced")
            buffer.extend(batch)
        video = model.forward_lip(_lip_batch(buffer, count).to(device)).float().cpu()
        emb_dim = video.shape[1]
        for i in range(start, start + count):
            lo, hi = max(i - vshift, 0), min(i + vshift + 1, n)
            window = torch.zeros(win, emb_dim)
            window[lo - (i - vshift) : hi - (i - vshift)] = audio_rows(lo, hi)
            row = F.pairwise_distance(video[i - start : i - start + 1].expand(win, -1), window)
            if table is None:
                table = torch.empty(n, win, dtype=row.dtype)
            table[i] = row
        for k in [k for k in audio_cache if (k + 1) * batch_size <= start + count - vshift]:
            del audio_cache[k]
        buffer = buffer[count:]
        start += count
    assert table is not None
    return lse_from_distances(table, vshift)


def syncnet_lse(
    model: SyncEmbedder,
    faces: torch.Tensor,
    audio: np.ndarray,
    vshift: int = 15,
    batch_size: int = 20,
    device: str | torch.device = "cpu",
) -> LSEResult:
    """LSE of one face track: face crops [T, 3, 224, 224] (RGB, 0..255) and its 16 kHz audio."""
    vid, aud = sync_embeddings(model, faces, audio, batch_size=batch_size, device=device)
    return lse_from_distances(offset_distances(vid, aud, vshift), vshift)
