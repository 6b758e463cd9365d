"""Batch mode: models loaded once, a bad row is reported and the other rows are still produced."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from float_generate import read_jobs, run_batch
from float_generate.cli import app
from float_pipeline import Pipeline
from float_pipeline.testing import read_mp4, wav_frames


def test_batch_jsonl_reports_the_bad_row(
    pipeline: Pipeline, portrait_png: Path, speech_wav: Path, tmp_path: Path
) -> None:
    jobs = tmp_path / "jobs.jsonl"
    rows = [
        {"image": str(portrait_png), "audio": str(speech_wav), "out": "a.mp4", "seed": 1},
        {"image": str(portrait_png), "audio": "missing.wav", "out": "bad.mp4"},
        {"image": str(portrait_png), "audio": str(speech_wav), "out": "c.mp4", "paste-back": True},
        {"image": str(portrait_png), "audio": str(speech_wav), "out": "d.mp4", "steps": 0},
    ]
    jobs.write_text("".join(json.dumps(row) + "\n" for row in rows))
    report = run_batch(pipeline, jobs)
    assert [o.ok for o in report.outcomes] == [True, False, True, False]
    assert "missing.wav" in (report.outcomes[1].error or "")
    assert "steps" in (report.outcomes[3].error or "")
    assert (tmp_path / "a.mp4").is_file() and (tmp_path / "c.mp4").is_file()
    assert not (tmp_path / "bad.mp4").exists() and not (tmp_path / "d.mp4").exists()
    assert read_mp4(tmp_path / "c.mp4")[0].shape == (wav_frames(speech_wav), 256, 256, 3)
    summary = json.loads((tmp_path / "jobs.report.json").read_text())
    assert (summary["total"], summary["succeeded"], summary["failed"]) == (4, 2, 2)
    assert summary["rows"][1]["row"] == 2 and not summary["rows"][1]["ok"]


def test_batch_csv_through_the_cli(
    tiny_bundle: Path, portrait_png: Path, speech_wav: Path, tmp_path: Path
) -> None:
    jobs = tmp_path / "jobs.csv"
    jobs.write_text(
        "image,audio,out,emotion,seed\n"
        f"{portrait_png},{speech_wav},one.mp4,happy,3\n"
        f"{tmp_path / 'nope.png'},{speech_wav},two.mp4,,\n"
    )
    assert [job.row for job in read_jobs(jobs)] == [2, 3]  # file line numbers (row 1 is the header)
    result = CliRunner().invoke(
        app,
        ["--batch", str(jobs), "--checkpoint", str(tiny_bundle), "--report", str(tmp_path / "r.json"), "-q"],
    )
    assert result.exit_code == 1, result.output
    assert "row 3: FAILED" in result.output and "nope.png" in result.output
    assert "1 succeeded, 1 failed" in result.output
    assert (tmp_path / "one.mp4").is_file() and not (tmp_path / "two.mp4").exists()
    assert json.loads((tmp_path / "r.json").read_text())["failed"] == 1
