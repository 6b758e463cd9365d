"""LSE-D and LSE-C: the SyncNet lip-sync protocol of syncnet_python (as wrapped by Wav2Lip's evaluation).

Protocol (``SyncNetInstance.evaluate``): MFCC of 16 kHz int16 audio (python_speech_features defaults,
13 coefficients at 100 Hz); for each video frame ``v`` a 5-frame face stack ``v..v+4`` and the 20 MFCC steps
``4v..4v+20``; embeddings from SyncNet; for every frame the distance to the audio embeddings at offsets
``-vshift..+vshift`` (the audio sequence zero-padded at both ends, as the reference does); the mean over
frames gives one distance per offset. LSE-D is the minimum of that curve, LSE-C its median minus its
minimum, and the AV offset ``vshift - argmin`` (positive when the video lags the audio).
"""

from __future__ import annotations

from dataclasses import dataclass

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
]

SAMPLES_PER_FRAME = 640  # 16 kHz / 25 fps
MFCC_PER_FRAME = 4  # 100 Hz MFCC / 25 fps


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


def mfcc(audio: np.ndarray, sample_rate: int = 16000) -> np.ndarray:
    """python_speech_features MFCC with its defaults: [13, steps] at 100 Hz (float64)."""
    if sample_rate != 16000:
        raise ValueError(f"LSE needs 16 kHz audio, got {sample_rate} Hz: resample it first")
    return np.asarray(python_speech_features.mfcc(audio_to_int16(audio), sample_rate), dtype=np.float64).T


@torch.no_grad()
def sync_embeddings(
    model: torch.nn.Module,
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


def syncnet_lse(
    model: torch.nn.Module,
    faces: torch.Tensor,
    audio: np.ndarray,
    vshift: int = 15,
    batch_size: int = 20,
    device: str | torch.device = "cpu",
) -> LSEResult:
    """LSE of one face track: face crops [T, 3, 224, 224] (RGB, 0..255) and its 16 kHz audio."""
    vid, aud = sync_embeddings(model, faces, audio, batch_size=batch_size, device=device)
    return lse_from_distances(offset_distances(vid, aud, vshift), vshift)
