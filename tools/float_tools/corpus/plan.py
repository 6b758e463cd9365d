"""What each clip says and how: a deterministic function of the corpus config and the clip index."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from float_tools.corpus.config import CorpusConfig

SENTENCES_DIR = Path(__file__).parent / "sentences"
DEFAULT_SENTENCES = SENTENCES_DIR / "train_en.txt"
"""Packaged training sentences (written for this project); ``heldout_en.txt`` holds disjoint ones."""


@dataclass(frozen=True)
class ClipPlan:
    """Choices for one clip. ``seed`` feeds its pose, blink and noise; rate in words/min, pitch 0-99,
    ``gain_db`` the loudness change applied to the espeak-ng speech."""

    index: int
    name: str
    sentence: str
    voice: str
    portrait: int
    rate: int
    pitch: int
    pad_start_s: float
    pad_end_s: float
    gain_db: float
    seed: tuple[int, int]


def read_sentences(path: Path) -> list[str]:
    """One sentence per line; blank lines and lines starting with ``#`` are skipped."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"sentences file {path} does not exist: pass a text file with one sentence per line"
        )
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    sentences = [line for line in lines if line and not line.startswith("#")]
    if not sentences:
        raise ValueError(f"sentences file {path} has no sentences (one per line, '#' starts a comment)")
    return sentences


def _deal(seed: int, stream: int, index: int, n: int) -> int:
    """Item of ``n`` for clip ``index``: every block of ``n`` clips uses each item once, in seeded order."""
    return int(np.random.default_rng([seed, stream, index // n]).permutation(n)[index % n])


def plan_clip(config: CorpusConfig, index: int) -> ClipPlan:
    """The plan of clip ``index``: same config and index always give the same plan.

    Sentences, and (voice, portrait) pairs, are dealt like cards, in a fresh random order every full
    round, so all are used evenly and every voice meets every portrait; rate, pitch and padding are
    drawn per clip.
    """
    sentence = _deal(config.seed, 1, index, len(config.sentences))
    n_voices = len(config.voices)
    pair = _deal(config.seed, 4, index, n_voices * len(config.portraits))
    voice, portrait = config.voices[pair % n_voices], pair // n_voices
    rng = np.random.default_rng([config.seed, 2, index])
    rate = int(rng.integers(config.rate_range[0], config.rate_range[1] + 1))
    pitch = int(rng.integers(config.pitch_range[0], config.pitch_range[1] + 1))
    pad_start = float(rng.uniform(*config.pad_range_s))
    pad_end = float(rng.uniform(*config.pad_range_s))
    gain_db = float(rng.uniform(*config.gain_range_db))
    return ClipPlan(
        index=index,
        name=f"clip_{index:05d}",
        sentence=config.sentences[sentence],
        voice=voice,
        portrait=portrait,
        rate=rate,
        pitch=pitch,
        pad_start_s=round(pad_start, 3),
        pad_end_s=round(pad_end, 3),
        gain_db=round(gain_db, 2),
        seed=(config.seed, index),
    )
