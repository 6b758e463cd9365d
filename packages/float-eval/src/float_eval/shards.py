"""Runs split across machines: a shard scores every n-th name and saves its sufficient statistics; merging
the shards gives the report a single run would have given.

``float-eval run --shard i/n`` scores rows ``i - 1, i - 1 + n, ...`` of the run's name-ordered list
(:func:`float_eval.pairing.plan_pairs`) and writes one ``.npz``: the per-video rows, the problems counted per
pair, the run's settings and digests, and each metric's ``state()`` (feature sums, sums of outer products
and counts in float64 for FID, FVD, E-FID, P-FID; per-video scores for CSIM and LSE). ``float-eval merge``
checks that the shards belong to one run and are all there, adds the statistics (``merge_state``) and
computes every metric once. Fréchet distances then equal the single run's to float64 rounding of the sums;
per-video scores and their means are equal exactly.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .config import EvalConfig
from .pairing import plan_pairs, shard_rows
from .protocol import VideoMetric
from .report import Report, VideoResult
from .resources import Components
from .run import assemble_report, build_metrics, run_settings, score

__all__ = ["SHARD_FORMAT", "merge_shards", "parse_shard", "run_shard"]

SHARD_FORMAT = "float-eval-shard/1"
# Settings that may differ between the machines of one run without changing a number.
_LOCAL_SETTINGS = ("generated", "reference", "sources", "weights_dir", "device", "pair_map")


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` -> (i, n), 1 <= i <= n."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError as err:
        raise ValueError(f"--shard takes i/n (e.g. 2/8), got {text!r}") from err
    if not 1 <= index <= count:
        raise ValueError(f"--shard i/n needs 1 <= i <= n, got {text!r}")
    return index, count


def _check_shardable(metrics: list[VideoMetric]) -> None:
    for metric in metrics:
        if not (callable(getattr(metric, "state", None)) and callable(getattr(metric, "merge_state", None))):
            raise ValueError(
                f"metric {metric.name!r} cannot be sharded: it has no state() / merge_state() "
                "(run it without --shard, or give it both methods)"
            )


def _flatten(value: Any, prefix: str, arrays: dict[str, np.ndarray]) -> Any:
    """JSON-able copy of ``value`` with its numpy arrays moved into ``arrays`` (float64 kept bit for bit)."""
    if isinstance(value, np.ndarray):
        arrays[prefix] = value
        return {"__array__": prefix}
    if isinstance(value, dict):
        return {str(k): _flatten(v, f"{prefix}/{k}", arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_flatten(v, f"{prefix}/{i}", arrays) for i, v in enumerate(value)]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _restore(value: Any, arrays: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__array__"}:
            return np.array(arrays[value["__array__"]])
        return {k: _restore(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore(v, arrays) for v in value]
    return value


def run_shard(
    config: EvalConfig,
    index: int,
    count: int,
    out: str | Path,
    components: Components | None = None,
    progress: bool = True,
) -> Path:
    """Score shard ``index`` of ``count`` (1-based) and write its statistics to ``out`` (``.npz``).

    Raises:
        ValueError: a metric has no ``state()`` / ``merge_state()``, or a bad shard index.
    """
    _check_shardable(build_metrics(config))
    rows = shard_rows(plan_pairs(config), index, count)
    state = score(config, components, progress, rows=rows)
    arrays: dict[str, np.ndarray] = {}
    meta = {
        "format": SHARD_FORMAT,
        "shard": [index, count],
        "config": config.model_dump(mode="json"),
        "run_settings": run_settings(state.resources),
        "random_weights": state.resources.random_weights,
        "pairs_scored": state.pairs_scored,
        "per_video": [r.model_dump(mode="json") for r in state.results],
        "problems": dict(state.problems),
        "metrics": {
            m.name: _flatten(m.state(), f"metric/{m.name}", arrays)  # type: ignore[attr-defined]
            for m in state.metrics
        },
    }
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with path.open("wb") as handle:
        payload: dict[str, Any] = {"__meta__": blob, **arrays}
        np.savez(handle, **payload)
    return path


def _read(path: Path) -> tuple[dict[str, Any], Any]:
    try:
        data = np.load(path, allow_pickle=False)
        meta = json.loads(bytes(data["__meta__"]).decode())
    except Exception as err:
        raise ValueError(f"{path} is not a float-eval shard file: {err}") from err
    if meta.get("format") != SHARD_FORMAT:
        raise ValueError(f"{path}: shard format {meta.get('format')!r}, expected {SHARD_FORMAT!r}")
    return meta, data


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k not in _LOCAL_SETTINGS}


def merge_shards(paths: Sequence[str | Path]) -> Report:
    """The report of the single run the shards were cut from.

    Raises:
        ValueError: a file is not a shard, the shards come from different settings or weights, or one is
            missing or given twice.
    """
    if not paths:
        raise ValueError("no shard file given")
    shards = [(Path(p), *_read(Path(p))) for p in paths]
    first_path, first, _ = shards[0]
    count = first["shard"][1]
    seen: dict[int, Path] = {}
    for path, meta, _ in shards:
        index, n = meta["shard"]
        if n != count:
            raise ValueError(
                f"{path} is shard {index}/{n}, {first_path} is one of {count}: not the same split"
            )
        if index in seen:
            raise ValueError(f"shard {index}/{count} given twice: {seen[index]} and {path}")
        seen[index] = path
        for key, label in (("config", "settings"), ("run_settings", "weights")):
            mine = _comparable(meta[key]) if key == "config" else meta[key]
            theirs = _comparable(first[key]) if key == "config" else first[key]
            if mine != theirs:
                diff = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
                raise ValueError(f"{path} and {first_path} differ in their {label} ({', '.join(diff)})")
    missing = sorted(set(range(1, count + 1)) - set(seen))
    if missing:
        raise ValueError(f"shards {', '.join(f'{i}/{count}' for i in missing)} are missing")
    config = EvalConfig.model_validate(first["config"])
    metrics = build_metrics(config)
    placed: list[tuple[int, VideoResult]] = []
    problems: Counter[str] = Counter()
    pairs = 0
    for _, meta, arrays in sorted(shards, key=lambda s: s[1]["shard"][0]):
        # Shard i holds rows i - 1, i - 1 + n, ... of the single run's list, one result per row, in order.
        index = meta["shard"][0]
        placed += [
            (index - 1 + j * count, VideoResult.model_validate(r)) for j, r in enumerate(meta["per_video"])
        ]
        problems.update(meta["problems"])
        pairs += meta["pairs_scored"]
        for metric in metrics:
            metric.merge_state(_restore(meta["metrics"][metric.name], arrays))  # type: ignore[attr-defined]
    results = [result for _, result in sorted(placed, key=lambda item: item[0])]
    return assemble_report(
        config,
        metrics,
        first["run_settings"],
        results,
        problems,
        pairs,
        any(meta["random_weights"] for _, meta, _ in shards),
    )
