"""Evaluation reports: per-video results, aggregates, every setting; JSON and a Markdown table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

__all__ = ["METRIC_COLUMNS", "PAPER_TABLE1", "Report", "VideoResult", "markdown_table"]

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
    frames_generated: int | None = None
    frames_reference: int | None = None
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

    def write_json(self, path: str | Path) -> None:
        Path(path).write_text(self.model_dump_json(indent=2))

    def markdown(self, with_paper: bool = False) -> str:
        """The report as a Markdown table (beside FLOAT's Table 1 when ``with_paper``)."""
        return markdown_table(self, with_paper)

    def write_markdown(self, path: str | Path, with_paper: bool = False) -> None:
        Path(path).write_text(self.markdown(with_paper))


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
    if report.random_weights:
        lines += ["**Computed with random stand-in weights: these numbers are NOT metrics.**", ""]
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
