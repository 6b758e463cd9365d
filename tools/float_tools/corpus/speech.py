"""Real speech from espeak-ng: voice checks, synthesis, resampling to 16 kHz, silence padding."""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
import wave

import numpy as np

from float_tools.corpus.config import SAMPLE_RATE, SAMPLES_PER_FRAME
from float_tools.corpus.dsp import resample

ESPEAK = "espeak-ng"


def _espeak_binary() -> str:
    path = shutil.which(ESPEAK)
    if path is None:
        raise FileNotFoundError(
            f"{ESPEAK} is not installed: install it (apt-get install espeak-ng) to build a corpus"
        )
    return path


@functools.lru_cache(maxsize=4)
def _voice_names(kind: str) -> frozenset[str]:
    """Names espeak-ng accepts for ``-v``: language codes, voice names and file names (lower case)."""
    args = [_espeak_binary(), "--voices" if kind == "voice" else "--voices=variant"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    names: set[str] = set()
    for line in out.splitlines()[1:]:
        cols = line.split()
        if len(cols) < 5:
            continue
        lang, name, file = cols[1], cols[3], cols[4]
        if kind == "voice":
            names.update({lang.lower(), name.lower(), file.lower(), file.rsplit("/", 1)[-1].lower()})
        else:
            names.update({name.lower(), file.rsplit("/", 1)[-1].lower()})
    return frozenset(names)


def check_voice(voice: str) -> str:
    """Return ``voice`` if espeak-ng knows it (``LANG`` or ``LANG+VARIANT``, e.g. ``en-us+f3``).

    espeak-ng silently falls back to a default voice for unknown variants, so the lists are checked here.
    """
    base, _, variant = voice.partition("+")
    if not base or base.lower() not in _voice_names("voice"):
        raise ValueError(
            f"unknown espeak-ng voice {voice!r}: list the voices with `espeak-ng --voices` "
            "(e.g. en-us, en-gb)"
        )
    if variant and variant.lower() not in _voice_names("variant"):
        raise ValueError(
            f"unknown espeak-ng voice variant {variant!r} in {voice!r}: list them with "
            "`espeak-ng --voices=variant` (e.g. en-us+f3, en-gb+m2)"
        )
    return voice


def synthesize(text: str, voice: str, rate: int, pitch: int) -> np.ndarray:
    """Speak ``text`` with espeak-ng. Returns float32 mono [N] in [-1, 1] at 16 kHz.

    ``rate`` is words per minute (espeak-ng ``-s``), ``pitch`` 0-99 (``-p``). espeak-ng is deterministic, so
    the same arguments give the same samples.
    """
    check_voice(voice)
    args = [_espeak_binary(), "-v", voice, "-s", str(rate), "-p", str(pitch), "--stdout", text]
    done = subprocess.run(args, capture_output=True, check=False)
    if done.returncode != 0 or not done.stdout:
        raise RuntimeError(
            f"espeak-ng failed for voice {voice!r}: {done.stderr.decode(errors='replace').strip()}"
        )
    with wave.open(io.BytesIO(done.stdout)) as wav:
        rate_in = wav.getframerate()
        n_channels = wav.getnchannels()
        # espeak-ng writes the data size as "unknown" on a pipe; read what is there.
        raw = wav.readframes(wav.getnframes() if wav.getnframes() < 2**30 else 2**30)
    samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    if n_channels > 1:
        samples = samples.reshape(-1, n_channels).mean(axis=1)
    if rate_in != SAMPLE_RATE:
        samples = resample(samples, rate_in, SAMPLE_RATE)
    return np.clip(samples, -1.0, 1.0)


def trim_silence(samples: np.ndarray, threshold: float = 1e-3) -> np.ndarray:
    """Drop leading/trailing samples quieter than ``threshold`` (espeak-ng adds its own short silences)."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    if loud.size == 0:
        raise ValueError(
            "espeak-ng produced silence only: is the sentence empty or unspeakable in this voice?"
        )
    return samples[loud[0] : loud[-1] + 1]


def pad_to_frames(speech: np.ndarray, pad_start_s: float, pad_end_s: float) -> tuple[np.ndarray, int]:
    """Put digital silence before and after ``speech`` and round the length up to whole 25 fps frames.

    Returns (audio float32 [T * 640], number of leading silent samples). The video then has exactly
    ``len(audio) / 640`` frames, so frame count and audio duration agree.
    """
    start = round(pad_start_s * SAMPLE_RATE)
    end = round(pad_end_s * SAMPLE_RATE)
    total = start + speech.size + end
    total = -(-total // SAMPLES_PER_FRAME) * SAMPLES_PER_FRAME
    audio = np.zeros(total, dtype=np.float32)
    audio[start : start + speech.size] = speech
    return audio, start
