"""``merge``: the output folders of the shards of one ``prepare`` run -> the dataset a single run would give.

Checks first (nothing is written when one fails): every shard ``0/n`` .. ``n-1/n`` is there once, all saw
the same source listing with the same settings, and each finished all its videos. Then the per-video files
(``data/`` shards, ``state/`` records) are copied (or hard-linked) and the manifest, failure list and dataset
card are written from the states exactly as ``prepare`` writes them, so the result equals a single-machine
run file for file (``prepare.log`` aside: it concatenates the shards' logs). Rerunning a merge skips files
already in place and rewrites the index.
"""

from __future__ import annotations

import filecmp
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from float_data.config import PrepareConfig
from float_data.files import load_json
from float_data.manifest import Failure, ManifestEntry
from float_data.prepare import write_index
from float_data.shards import ShardSpec, read_shard_marker


@dataclass
class MergeReport:
    """What ``merge_shards`` wrote: the joined entries and failures, and the files copied or linked now."""

    out_dir: Path
    entries: list[ManifestEntry] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    copied: int = 0


def _check_shards(dirs: list[Path]) -> tuple[list[dict], PrepareConfig]:
    markers = []
    for folder in dirs:
        marker = read_shard_marker(folder)
        if marker is None:
            raise ValueError(f"{folder} is not a shard's output (no shard.json): prepare with --shard i/n")
        markers.append(marker)
    count = markers[0]["count"]
    specs = [str(ShardSpec(m["index"], m["count"])) for m in markers]
    if any(m["count"] != count for m in markers) or sorted(m["index"] for m in markers) != list(range(count)):
        raise ValueError(f"merge needs each of the shards 0/{count} .. {count - 1}/{count} once, got {specs}")
    if len({m["listing"] for m in markers}) != 1:
        raise ValueError("the shards scanned different source listings: rerun them on the same source folder")
    configs = [PrepareConfig(**(load_json(d / "prepare_config.json") or {})) for d in dirs]
    if len({c.fingerprint() for c in configs} | {m["fingerprint"] for m in markers}) != 1:
        raise ValueError("the shards were prepared with different settings (prepare_config.json)")
    for folder, marker in zip(dirs, markers, strict=True):
        unfinished = [
            vid
            for vid in marker["videos"]
            if (load_json(folder / "state" / f"{vid}.json") or {}).get("fingerprint") != marker["fingerprint"]
        ]
        if unfinished:
            raise ValueError(
                f"shard {marker['index']}/{count} in {folder} has {len(unfinished)} unfinished videos "
                f"(e.g. {unfinished[0]}): rerun its prepare command to finish it"
            )
    return markers, configs[0]


def _place(source: Path, target: Path, link: bool) -> bool:
    """Copy (or hard-link) ``source`` to ``target`` via a rename; False when an equal file is there."""
    if target.is_file() and filecmp.cmp(source, target, shallow=True):
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.unlink(missing_ok=True)
    try:
        if not link:
            raise OSError("copy requested")
        os.link(source, tmp)
    except OSError:  # another file system (or a copy asked for): copy, keeping mtimes for the rerun check
        shutil.copy2(source, tmp)
    os.replace(tmp, target)
    return True


def merge_shards(shard_dirs: Sequence[str | Path], out_dir: str | Path, link: bool = False) -> MergeReport:
    """Join the output folders of shards ``0/n`` .. ``n-1/n`` (any order) into ``out_dir``.

    ``link``: hard-link the per-video files instead of copying them (same file system; safe, because
    ``prepare`` replaces files by renaming and never writes into one). Raises ValueError when the shards do
    not fit together (missing, duplicated or unfinished shards, other settings or source listings).
    """
    dirs = [Path(d) for d in shard_dirs]
    out = Path(out_dir)
    if not dirs:
        raise ValueError("merge needs the output folders of the shards")
    if out.resolve() in {d.resolve() for d in dirs}:
        raise ValueError(f"{out} is one of the shards: merge into a new folder")
    markers, config = _check_shards(dirs)
    if read_shard_marker(out) is not None:
        raise ValueError(f"{out} is a shard's output: merge into a new folder")
    previous = load_json(out / "prepare_config.json")
    if previous is not None and PrepareConfig(**previous).fingerprint() != config.fingerprint():
        raise ValueError(f"{out} holds a dataset prepared with other settings: merge into a new folder")

    report = MergeReport(out_dir=out)
    owner: dict[str, Path] = {}
    for folder in dirs:
        files = [p for p in (folder / "data").rglob("*") if p.is_file() and p.suffix != ".tmp"]
        files += [p for p in (folder / "state").glob("*.json")]
        for path in sorted(files):
            relative = path.relative_to(folder).as_posix()
            if relative in owner:
                raise ValueError(f"{relative} is in two shards ({owner[relative]} and {folder})")
            owner[relative] = folder
            report.copied += _place(path, out / relative, link)
    for folder, marker in zip(dirs, markers, strict=True):
        for video_id in marker["videos"]:
            state = load_json(folder / "state" / f"{video_id}.json") or {}
            if state.get("status") == "done":
                report.entries.append(ManifestEntry(**state["entry"]))
            else:
                report.failures.append(Failure(**state["failure"]))
    report.entries.sort(key=lambda e: e.video_id)
    report.failures.sort(key=lambda f: f.source_path)
    _place(dirs[0] / "prepare_config.json", out / "prepare_config.json", link=False)
    logs = [
        f"# shard {m['index']}/{m['count']} ({d})\n" + (d / "prepare.log").read_text()
        for m, d in sorted(zip(markers, dirs, strict=True), key=lambda pair: pair[0]["index"])
        if (d / "prepare.log").is_file()
    ]
    (out / "prepare.log").write_text("".join(logs))
    write_index(out, report.entries, report.failures, config)
    return report
