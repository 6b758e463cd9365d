"""Batch mode: many (image, audio, out, options) jobs from a CSV or JSON-lines file, models loaded once.

Each row is validated and run on its own; a failing row is reported (row number, inputs, message) and the
others still run. A JSON summary is written atomically next to the jobs file (or where asked).

Before any model is loaded, :func:`check_batch` refuses a batch that would lose data: two rows writing the
same ``out``, an ``out`` that is some row's image or audio, existing videos (unless ``overwrite``), and a
summary path that is missing, unwritable, or a file that is not an earlier summary.

File format: CSV with a header, or JSON lines (one object per line). Required fields ``image``, ``audio``,
``out``; any :class:`GenerateOptions` field may be added (``emotion``, ``seed``, ``paste_back``, ...; dashes
are accepted for underscores). Empty CSV cells mean "not set". Relative paths are relative to the jobs file.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from float_pipeline import (
    GenerateError,
    GenerateOptions,
    Pipeline,
    check_output_file,
    write_text_atomic,
)

PATH_FIELDS = ("image", "audio", "out")


class BatchFileError(GenerateError):
    """The jobs file itself cannot be read (missing, wrong extension, malformed)."""


@dataclass
class Job:
    """One row: its 1-based ``row`` number in the file and its raw fields."""

    row: int
    fields: dict[str, Any]


@dataclass
class JobOutcome:
    """What happened to one row."""

    row: int
    image: str | None
    audio: str | None
    out: str | None
    ok: bool
    error: str | None = None
    num_frames: int | None = None
    seconds: float | None = None


@dataclass
class BatchReport:
    """All rows' outcomes and where the summary was written."""

    jobs_file: str
    outcomes: list[JobOutcome] = field(default_factory=list)
    summary_path: str | None = None

    @property
    def failed(self) -> list[JobOutcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def succeeded(self) -> list[JobOutcome]:
        return [o for o in self.outcomes if o.ok]


def read_jobs(path: str | Path) -> list[Job]:
    """Rows of a ``.csv`` (header line) or ``.jsonl`` jobs file, with keys normalised to snake_case.

    Raises:
        BatchFileError: missing file, unknown extension, malformed JSON line, or no rows.
    """
    path = Path(path)
    if not path.is_file():
        raise BatchFileError(f"jobs file not found: {path}; pass a .csv or .jsonl file to --batch")
    text = path.read_text(encoding="utf-8")
    rows: list[dict[str, Any]]
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        rows = [{k: v for k, v in row.items() if k is not None and v not in (None, "")} for row in reader]
        first = 2  # row 1 is the header
    elif path.suffix.lower() in (".jsonl", ".ndjson"):
        rows, first = [], 1
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as error:
                raise BatchFileError(f"{path}:{number}: not valid JSON ({error.msg})") from error
            if not isinstance(value, dict):
                raise BatchFileError(f"{path}:{number}: each line must be a JSON object, got {value!r}")
            rows.append(value)
    else:
        raise BatchFileError(f"jobs file {path} must end in .csv or .jsonl")
    if not rows:
        raise BatchFileError(f"jobs file {path} has no rows")
    jobs = []
    for index, row in enumerate(rows):
        fields = {str(k).strip().replace("-", "_"): v for k, v in row.items()}
        jobs.append(Job(row=first + index, fields=fields))
    return jobs


def _resolve(value: Any, base: Path) -> str:
    path = Path(str(value)).expanduser()
    return str(path if path.is_absolute() else base / path)


def default_summary_path(jobs_file: str | Path) -> Path:
    """``<jobs file stem>.report.json`` beside the jobs file."""
    jobs_path = Path(jobs_file)
    return jobs_path.with_name(f"{jobs_path.stem}.report.json")


def _key(path: str | Path) -> str:
    """One spelling per file (absolute, symlinks and ``..`` resolved) to compare paths."""
    return str(Path(path).expanduser().resolve())


def _is_summary(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and {"jobs_file", "rows"} <= set(data)


def _rows(rows: list[int]) -> str:
    return ("row " if len(rows) == 1 else "rows ") + ", ".join(map(str, rows))


def check_batch(
    jobs_file: str | Path, *, summary_path: str | Path | None = None, overwrite: bool = False
) -> list[Job]:
    """Read the jobs file and refuse, before any work, a batch that would overwrite what it should not.

    A row's own problems (a missing field, a missing input, a bad option) are left to that row, which fails
    alone. Returns the jobs.

    Raises:
        BatchFileError: unreadable jobs file; rows that share an ``out``; an ``out`` that is a row's image or
            audio; existing outputs without ``overwrite``; a summary location that is missing, not writable,
            one of the batch's files, or an existing file other than an earlier summary (without
            ``overwrite``).
    """
    jobs_path = Path(jobs_file)
    jobs = read_jobs(jobs_path)
    base = jobs_path.resolve().parent
    writers: dict[str, list[int]] = {}
    readers: dict[str, list[int]] = {}
    for job in jobs:
        out = job.fields.get("out")
        if out is not None:
            writers.setdefault(_key(_resolve(out, base)), []).append(job.row)
        for name in ("image", "audio"):
            if job.fields.get(name) is not None:
                readers.setdefault(_key(_resolve(job.fields[name], base)), []).append(job.row)
    shared = [f"{_rows(rows)} all write {path}" for path, rows in writers.items() if len(rows) > 1]
    if shared:
        raise BatchFileError(
            f"{jobs_path}: {'; '.join(shared)}; each row needs its own out (one would silently replace "
            "the other)"
        )
    clobber = [
        f"{_rows(rows)} would write over {path}, the input of {_rows(readers[path])}"
        for path, rows in writers.items()
        if path in readers
    ]
    if clobber:
        raise BatchFileError(f"{jobs_path}: {'; '.join(clobber)}; choose another out")
    existing = sorted((rows[0], path) for path, rows in writers.items() if Path(path).exists())
    if existing and not overwrite:
        shown = ", ".join(f"{path} (row {row})" for row, path in existing[:5])
        more = f" and {len(existing) - 5} more" if len(existing) > 5 else ""
        raise BatchFileError(
            f"{len(existing)} output(s) already exist: {shown}{more}; pass --overwrite (overwrite=True) to "
            "replace them, or remove those files or rows"
        )
    summary = Path(summary_path) if summary_path else default_summary_path(jobs_path)
    check_output_file(summary, what="batch summary", option="--report")
    if _key(summary) in writers or _key(summary) in readers or _key(summary) == _key(jobs_path):
        raise BatchFileError(
            f"batch summary {summary} is one of the batch's own files; pass another --report"
        )
    if summary.exists() and not _is_summary(summary) and not overwrite:
        raise BatchFileError(
            f"batch summary {summary} exists and is not an earlier float-generate summary; pass another "
            "--report, or --overwrite to replace it"
        )
    return jobs


def run_batch(
    pipeline: Pipeline,
    jobs_file: str | Path,
    *,
    defaults: dict[str, Any] | None = None,
    summary_path: str | Path | None = None,
    on_outcome: Callable[[JobOutcome], None] | None = None,
    overwrite: bool = False,
) -> BatchReport:
    """Run every row of ``jobs_file`` with ``pipeline``; a row's failure never stops the others.

    Args:
        defaults: option values for every row (e.g. from the command line); row values override them.
        summary_path: where to write the JSON summary (default ``<jobs file stem>.report.json`` beside it;
            an earlier summary there is replaced).
        on_outcome: called after each row (the CLI prints a line per row).
        overwrite: replace existing output videos (otherwise the batch is refused before it starts).

    Raises:
        BatchFileError: see :func:`check_batch` (raised before any row runs).
    """
    jobs_path = Path(jobs_file)
    base = jobs_path.resolve().parent
    report = BatchReport(jobs_file=str(jobs_path))
    for job in check_batch(jobs_path, summary_path=summary_path, overwrite=overwrite):
        fields = dict(job.fields)
        paths = {name: fields.pop(name, None) for name in PATH_FIELDS}
        outcome = JobOutcome(
            row=job.row,
            image=None if paths["image"] is None else _resolve(paths["image"], base),
            audio=None if paths["audio"] is None else _resolve(paths["audio"], base),
            out=None if paths["out"] is None else _resolve(paths["out"], base),
            ok=False,
        )
        began = time.perf_counter()
        try:
            missing = [name for name in PATH_FIELDS if paths[name] is None]
            if missing:
                raise GenerateError(
                    f"missing field(s) {', '.join(missing)}: every row needs image, audio, out"
                )
            options = GenerateOptions.model_validate({**(defaults or {}), **fields})
            assert outcome.image and outcome.audio and outcome.out
            result = pipeline.generate(outcome.image, outcome.audio, outcome.out, options)
            outcome.ok, outcome.num_frames = True, result.num_frames
        except ValidationError as error:
            outcome.error = "bad options: " + "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
            )
        except Exception as error:  # one bad row must not stop the batch; the message goes to the report
            outcome.error = (
                str(error) if isinstance(error, GenerateError | OSError | ValueError) else repr(error)
            )
        outcome.seconds = round(time.perf_counter() - began, 3)
        report.outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
    target = Path(summary_path) if summary_path else default_summary_path(jobs_path)
    write_summary(report, target)
    report.summary_path = str(target)
    return report


def write_summary(report: BatchReport, path: Path) -> None:
    """Write the report as JSON atomically (:func:`float_pipeline.write_text_atomic`)."""
    payload = {
        "jobs_file": report.jobs_file,
        "total": len(report.outcomes),
        "succeeded": len(report.succeeded),
        "failed": len(report.failed),
        "rows": [asdict(o) for o in report.outcomes],
    }
    write_text_atomic(path, json.dumps(payload, indent=2) + "\n")
