"""Emotion labels from the dataset itself: RAVDESS file names or a labels file, as FLOAT's 7-class vectors.

FLOAT conditions stage 2 on a 7-probability emotion vector in the order :data:`EMOTIONS` (angry, disgust,
fear, happy, neutral, sad, surprise). A predictor estimates it from speech; a labelled dataset can give it
directly. Hard labels become one-hot vectors; a labels file may also give the 7 probabilities.

RAVDESS names its files ``MM-VV-EE-II-SS-RR-AA``: modality (01 audio-video, 02 video only, 03 audio only),
vocal channel (01 speech, 02 song), emotion (01 neutral, 02 calm, 03 happy, 04 sad, 05 angry, 06 fearful,
07 disgust, 08 surprised), intensity (01 normal, 02 strong), statement (01, 02), repetition (01, 02) and
actor (01-24). FLOAT has no *calm* class: calm maps onto neutral (:data:`RAVDESS_TO_FLOAT`).
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

EMOTIONS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
RAVDESS_EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
RAVDESS_TO_FLOAT = {
    "neutral": "neutral",
    "calm": "neutral",  # FLOAT's 7 classes have no calm; it is the closest one
    "happy": "happy",
    "sad": "sad",
    "angry": "angry",
    "fearful": "fear",
    "disgust": "disgust",
    "surprised": "surprise",
}
# names a labels file may use for FLOAT's classes (lower case): FLOAT's own, RAVDESS's, and common variants
_ALIASES = {**{name: name for name in EMOTIONS}, **RAVDESS_TO_FLOAT, "anger": "angry"}
_RAVDESS_NAME = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")
_KEY_COLUMNS = ("video_id", "source_path")


@dataclass(frozen=True)
class RavdessName:
    """The seven fields of a RAVDESS file name; ``emotion`` is RAVDESS's own name (e.g. ``calm``)."""

    modality: int
    vocal_channel: int
    emotion: str
    intensity: int
    statement: int
    repetition: int
    actor: int

    @property
    def float_emotion(self) -> str:
        """The emotion in FLOAT's classes (calm -> neutral)."""
        return RAVDESS_TO_FLOAT[self.emotion]


def parse_ravdess_name(path: str) -> RavdessName:
    """``Actor_12/01-01-06-01-02-01-12.mp4`` -> its fields; a name that is not RAVDESS's raises ValueError."""
    stem = PurePosixPath(path).stem
    match = _RAVDESS_NAME.match(stem)
    if match is None:
        raise ValueError(f"{path!r} is not a RAVDESS file name (MM-VV-EE-II-SS-RR-AA: 01-01-06-01-02-01-12)")
    m, v, e, i, s, r, a = (int(g) for g in match.groups())
    limits = {"modality": (m, 3), "vocal channel": (v, 2), "emotion": (e, 8), "intensity": (i, 2)}
    limits |= {"statement": (s, 2), "repetition": (r, 2), "actor": (a, 24)}
    for field, (value, top) in limits.items():
        if not 1 <= value <= top:
            raise ValueError(f"{path!r}: RAVDESS {field} code {value:02d} is outside 01-{top:02d}")
    return RavdessName(m, v, RAVDESS_EMOTIONS[e - 1], i, s, r, a)


def one_hot(emotion: str) -> list[float]:
    """An emotion name (FLOAT's, RAVDESS's or ``anger``; any case) -> one-hot [7], :data:`EMOTIONS` order."""
    name = _ALIASES.get(emotion.strip().lower())
    if name is None:
        raise ValueError(f"unknown emotion {emotion!r}: use one of {', '.join(EMOTIONS)} or RAVDESS's names")
    return [1.0 if other == name else 0.0 for other in EMOTIONS]


def emotion_vector(value: str | Sequence[float]) -> list[float]:
    """A name (-> one-hot) or 7 non-negative weights (-> normalised to sum 1) as a [7] probability list."""
    if isinstance(value, str):
        return one_hot(value)
    weights = [float(v) for v in value]
    valid = all(math.isfinite(w) and w >= 0 for w in weights) and sum(weights) > 0
    if len(weights) != len(EMOTIONS) or not valid:
        raise ValueError(f"an emotion vector is 7 non-negative weights, not all 0; got {value!r}")
    total = sum(weights)
    return [w / total for w in weights]


def ravdess_emotion(relative_path: str) -> list[float]:
    """One-hot [7] from a RAVDESS file name (calm counts as neutral)."""
    return one_hot(parse_ravdess_name(relative_path).float_emotion)


def _row_emotion(row: dict, where: str) -> list[float]:
    if row.get("emotion") not in (None, ""):
        return emotion_vector(row["emotion"])
    if all(row.get(name) not in (None, "") for name in EMOTIONS):
        return emotion_vector([float(row[name]) for name in EMOTIONS])
    raise ValueError(f"{where}: give an `emotion` column (a name) or the 7 columns {', '.join(EMOTIONS)}")


def read_labels_file(path: str | Path) -> dict[str, list[float]]:
    """A labels file -> {key: [7] probabilities}; the key is each row's ``video_id`` or ``source_path``.

    CSV (with a header) or JSON lines (``.jsonl``). Each row names its video by ``video_id`` (as in the
    manifest) or ``source_path`` (relative to the source folder, posix) and its emotion by an ``emotion``
    value (a name, or in JSON lines also a list of 7 weights) or by the 7 columns ``angry`` .. ``surprise``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"labels file {path} does not exist")
    if path.suffix.lower() == ".jsonl":
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    else:
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle))
    labels: dict[str, list[float]] = {}
    for number, row in enumerate(rows, start=1):
        where = f"{path} row {number}"
        key = next((str(row[c]) for c in _KEY_COLUMNS if row.get(c) not in (None, "")), None)
        if key is None:
            raise ValueError(f"{where}: a row needs a `video_id` or `source_path`")
        if key in labels:
            raise ValueError(f"{where}: {key!r} is labelled twice")
        labels[key] = _row_emotion(row, where)
    return labels


def resolve_emotions(
    mode: str, labels_file: str | None, ids: dict[str, str]
) -> tuple[dict[str, list[float] | None], list[str]]:
    """The label of every video: ({video id: [7] or None}, labels-file keys that matched no video).

    ``mode``: ``none`` (all None), ``ravdess`` (from file names; None where a name is not RAVDESS's) or
    ``file`` (:func:`read_labels_file`, looked up by video id, then by relative path). ``ids`` maps each
    relative path to its video id.
    """
    if mode == "none":
        return dict.fromkeys(ids.values()), []
    if mode == "ravdess":
        result: dict[str, list[float] | None] = {}
        for relative, video_id in ids.items():
            try:
                result[video_id] = ravdess_emotion(relative)
            except ValueError:
                result[video_id] = None
        return result, []
    if mode != "file":
        raise ValueError(f"labels must be none, ravdess or file, got {mode!r}")
    if labels_file is None:
        raise ValueError("labels='file' needs labels_file (a CSV or JSON-lines file)")
    table = read_labels_file(labels_file)
    result = {video_id: table.get(video_id, table.get(relative)) for relative, video_id in ids.items()}
    known = set(ids) | set(ids.values())
    return result, sorted(key for key in table if key not in known)
