"""Which generated video goes with which reference: same stem, a name pattern, or a mapping file.

:func:`plan_pairs` lists every name of the run once, in name order: the pairs to score and the videos left
without a partner (each with the reason). Shards (:func:`shard_rows`) split that list, so every name lands in
exactly one shard.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from .config import EvalConfig
from .video import list_videos

__all__ = ["PlannedRow", "plan_pairs", "read_pair_map", "shard_rows"]


@dataclass(frozen=True)
class PlannedRow:
    """One row of the report: a pair to score (both paths set) or an unpaired video and why.

    ``name`` is the reference's stem for pairs (the name sources and reports use), else the video's own.
    """

    name: str
    generated: Path | None
    reference: Path | None
    generated_name: str | None = None
    problem: str | None = None
    count_as: str | None = None

    @property
    def paired(self) -> bool:
        return self.generated is not None and self.reference is not None


def read_pair_map(path: Path) -> dict[str, str]:
    """``generated stem -> reference stem`` from a JSON object or a CSV with ``generated,reference`` columns.

    Raises:
        ValueError: unreadable file, missing columns, or a reference named twice.
    """
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text())
            if not isinstance(data, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in data.items()
            ):
                raise ValueError("expected a JSON object {generated name: reference name}")
            mapping = dict(data)
        else:
            with path.open(newline="") as handle:
                reader = csv.DictReader(handle)
                if reader.fieldnames is None or not {"generated", "reference"} <= set(reader.fieldnames):
                    raise ValueError("expected a CSV header with the columns generated,reference")
                mapping = {}
                for row in reader:
                    gen, ref = row["generated"].strip(), row["reference"].strip()
                    if gen in mapping:
                        raise ValueError(f"generated video {gen!r} is listed twice")
                    mapping[gen] = ref
    except (OSError, json.JSONDecodeError, ValueError) as err:
        raise ValueError(f"pairing file {path}: {err}") from err
    seen: dict[str, str] = {}
    for gen, ref in mapping.items():
        if ref in seen:
            raise ValueError(
                f"pairing file {path}: reference {ref!r} is paired with {seen[ref]!r} and {gen!r}"
            )
        seen[ref] = gen
    return mapping


def _pattern_name(pattern: str, stem: str) -> str:
    return pattern.replace("{stem}", stem)


def plan_pairs(config: EvalConfig) -> list[PlannedRow]:
    """Every name of the run in name order, paired by ``config.pair_map``, ``config.pair_pattern`` or stem.

    Raises:
        FileNotFoundError: a video folder does not exist. ValueError: a bad pairing file.
    """
    gen_videos, ref_videos = list_videos(config.generated), list_videos(config.reference)
    rows: list[PlannedRow] = []
    if config.pair_map is not None:
        mapping = read_pair_map(config.pair_map)
    elif config.pair_pattern is not None:
        by_pattern = {_pattern_name(config.pair_pattern, ref): ref for ref in ref_videos}
        mapping = {gen: by_pattern[gen] for gen in gen_videos if gen in by_pattern}
    else:
        mapping = {gen: gen for gen in gen_videos if gen in ref_videos}
    paired_refs = {ref: gen for gen, ref in mapping.items() if gen in gen_videos and ref in ref_videos}
    paired_gens = set(paired_refs.values())
    for ref, gen in paired_refs.items():
        rows.append(PlannedRow(ref, gen_videos[gen], ref_videos[ref], generated_name=gen))
    mapped_gen = {ref: gen for gen, ref in mapping.items()}
    for ref in set(ref_videos) - set(paired_refs):
        if config.pair_map is not None:
            why = (
                f"the pairing file names generated video {mapped_gen[ref]!r}, which is not in the folder"
                if ref in mapped_gen
                else "not in the pairing file"
            )
        elif config.pair_pattern is not None:
            why = f"no generated video named {_pattern_name(config.pair_pattern, ref)!r}"
        else:
            why = "no generated video of this name"
        rows.append(PlannedRow(ref, None, ref_videos[ref], problem=why, count_as="unpaired reference"))
    for gen in set(gen_videos) - paired_gens:
        if config.pair_map is not None:
            why = (
                f"the pairing file names reference {mapping[gen]!r}, which is not in the folder"
                if gen in mapping
                else "not in the pairing file"
            )
        elif config.pair_pattern is not None:
            why = f"no reference video whose name gives {gen!r} under the pattern {config.pair_pattern!r}"
        else:
            why = "no reference video of this name"
        rows.append(PlannedRow(gen, gen_videos[gen], None, problem=why, count_as="unpaired generated"))
    if config.only is not None:
        keep = set(config.only)
        rows = [r for r in rows if r.name in keep]
    return sorted(rows, key=lambda r: (r.name, r.generated_name or "", r.problem or ""))


def shard_rows(rows: list[PlannedRow], index: int, count: int) -> list[PlannedRow]:
    """Shard ``index`` of ``count`` (1-based): every ``count``-th row starting at row ``index - 1``."""
    if not 1 <= index <= count:
        raise ValueError(f"shard must be i/n with 1 <= i <= n, got {index}/{count}")
    return rows[index - 1 :: count]
