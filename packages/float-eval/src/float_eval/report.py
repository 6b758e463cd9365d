"""Evaluation reports: per-video results, aggregates, every setting; JSON, a Markdown table and a CSV."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

__all__ = [
    "METRIC_COLUMNS",
    "PAPER_TABLE1",
    "Report",
    "VideoResult",
    "csv_rows",
    "markdown_table",
    "warnings",
]

# The columns of FLOAT's Table 1, always shown; other metrics' numbers follow them.
METRIC_COLUMNS = ("fid", "fvd", "csim", "efid", "pfid", "lse_d", "lse_c")
LABELS = {
    "fid": "FID↓",
    "fvd": "FVD↓",
    "csim": "CSIM↑",
    "efid": "E-FID↓",
    "pfid": "P-FID↓",
    "lse_d": "LSE-D↓",
    "lse_c": "LSE-C↑",
}

# FLOAT, Table 1 of the paper (HDTF, 512x512).
PAPER_TABLE1: dict[str, float] = {
    "fid": 21.100,
    "fvd": 162.052,
    "csim": 0.843,
    "efid": 1.229,
    "pfid": 0.032,
    "lse_d": 7.290,
    "lse_c": 8.222,
}


class VideoResult(BaseModel):
    """One generated video: its per-video scores and every problem met (never silently dropped)."""

    name: str
    # The generated video's name when it differs from ``name`` (a pairing pattern or file).
    generated_name: str | None = None
    frames_generated: int | None = None
    frames_reference: int | None = None
    # [height, width] of each side's frames.
    size_generated: list[int] | None = None
    size_reference: list[int] | None = None
    csim: float | None = None
    lse_d: float | None = None
    lse_c: float | None = None
    lse_offset: int | None = None
    fvd_clips_generated: int = 0
    fvd_clips_reference: int = 0
    frames_without_face: dict[str, int] = Field(default_factory=dict)
    # Per-video values of metrics without a field above (e.g. registered ones), by report key.
    scores: dict[str, float | None] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)


class Report(BaseModel):
    """The whole evaluation: aggregates, per-video results, problem counts and settings."""

    aggregate: dict[str, float | None]
    per_video: list[VideoResult]
    problem_counts: dict[str, int]
    settings: dict[str, Any]
    random_weights: bool = False
    # Direction of every aggregate key (True: higher is better), from each metric's ``higher_is_better``.
    higher_is_better: dict[str, bool] = Field(default_factory=dict)
    # Generated/reference pairs decoded and scored (unpaired and unreadable videos are not).
    pairs_scored: int = 0

    def empty_keys(self) -> list[str]:
        """Aggregate keys with no number (the metric scored nothing, or could not be computed)."""
        return [key for key, value in self.aggregate.items() if value is None]

    def write_json(self, path: str | Path) -> None:
        Path(path).write_text(self.model_dump_json(indent=2))

    def markdown(self, with_paper: bool = False) -> str:
        """The report as a Markdown table (beside FLOAT's Table 1 when ``with_paper``)."""
        return markdown_table(self, with_paper)

    def write_markdown(self, path: str | Path, with_paper: bool = False) -> None:
        Path(path).write_text(self.markdown(with_paper))

    def write_csv(self, path: str | Path) -> None:
        """One row of aggregates (``video`` = ``(all)``), then one row per video."""
        rows = csv_rows(self)
        with Path(path).open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    def warnings(self) -> list[str]:
        """What a reader must know before reading the numbers: stand-in, unverified or unpinned weights."""
        return warnings(self)


def warnings(report: Report) -> list[str]:
    """What a reader must know before reading the numbers: stand-in or unverified weights (also
    :meth:`Report.warnings`, for code outside the package)."""
    out = []
    if report.random_weights:
        out.append("Computed with random stand-in weights: these numbers are NOT metrics.")
    unverified = report.settings.get("weights_unverified") or []
    if unverified:
        out.append(
            f"UNVERIFIED WEIGHTS: {', '.join(unverified)} differ from the manifest's sha256 "
            "(--no-check-digests): these numbers are not comparable with the references'."
        )
    unpinned = report.settings.get("weights_unpinned") or []
    if unpinned:
        out.append(
            f"Weights without a pinned sha256: {', '.join(unpinned)} "
            "(their digests are in settings.weights_sha256)."
        )
    return out


def csv_rows(report: Report) -> list[dict[str, object]]:
    """The CSV's rows: aggregates first (``video="(all)"``), then every video's values and problems."""
    keys = [*METRIC_COLUMNS, *(k for k in report.aggregate if k not in METRIC_COLUMNS)]
    extra = sorted({k for v in report.per_video for k in v.scores} - set(keys))
    keys += extra
    fields = [
        "frames_generated",
        "frames_reference",
        "lse_offset",
        "fvd_clips_generated",
        "fvd_clips_reference",
    ]
    rows: list[dict[str, object]] = [
        {
            "video": "(all)",
            **{k: report.aggregate.get(k) for k in keys},
            **dict.fromkeys(fields),
            "problems": "",
        }
    ]
    for v in report.per_video:
        values = {k: v.scores.get(k, getattr(v, k, None)) for k in keys}
        rows.append(
            {
                "video": v.name,
                **values,
                **{f: getattr(v, f) for f in fields},
                "problems": "; ".join(v.problems),
            }
        )
    return [{k: "" if value is None else value for k, value in row.items()} for row in rows]


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _label(report: Report, key: str) -> str:
    if key in LABELS:
        return LABELS[key]
    direction = report.higher_is_better.get(key)
    return key + ("" if direction is None else "↑" if direction else "↓")


def markdown_table(report: Report, with_paper: bool = False) -> str:
    """Aggregate row (and the paper's FLOAT row), per-video rows, problems and settings, as Markdown."""
    columns = [*METRIC_COLUMNS, *(k for k in report.aggregate if k not in METRIC_COLUMNS)]
    head = "| | " + " | ".join(_label(report, k) for k in columns) + " |\n|---|" + "---|" * len(columns)
    lines = ["# float-eval report", ""]
    for warning in warnings(report):
        lines += [f"**{warning}**", ""]
    lines += [f"{report.pairs_scored} pairs scored.", ""]
    lines.append(head + "\n| this run | " + " | ".join(_fmt(report.aggregate.get(m)) for m in columns) + " |")
    if with_paper:
        lines.append(
            "| FLOAT (paper, Table 1, HDTF) | "
            + " | ".join(_fmt(PAPER_TABLE1.get(m)) for m in columns)
            + " |"
        )
    lines += [
        "",
        "## Per video",
        "",
        "| video | frames | CSIM | LSE-D | LSE-C | offset | FVD clips | no-face frames | problems |",
    ]
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for v in report.per_video:
        no_face = ", ".join(f"{k}: {n}" for k, n in v.frames_without_face.items()) or "0"
        lines.append(
            f"| {v.name} | {v.frames_generated} | {_fmt(v.csim)} | {_fmt(v.lse_d)} | {_fmt(v.lse_c)} | "
            f"{v.lse_offset if v.lse_offset is not None else '—'} | {v.fvd_clips_generated} | {no_face} | "
            f"{'; '.join(v.problems) or '—'} |"
        )
    lines += ["", "## Problems", ""]
    lines += [f"- {k}: {n}" for k, n in report.problem_counts.items()] or ["- none"]
    lines += ["", "## Settings", ""]
    for metric, values in report.settings.items():
        lines.append(f"- **{metric}**: {values}")
    return "\n".join(lines) + "\n"
