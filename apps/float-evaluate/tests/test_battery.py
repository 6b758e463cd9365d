"""float-evaluate's part of the fault battery (issue #29): the output location is checked before any work.
(float-eval's own cases, `float-eval run --out` and its messages, are issue #28's.)"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from float_evaluate.cli import app


def test_out_that_is_a_file_is_refused_before_any_work(tmp_path: Path) -> None:
    """Item 4: `float-evaluate run --out FILE` crashed with a traceback (after reading the dataset)."""
    results = tmp_path / "results.txt"
    results.write_text("keep me")
    for out, fragment in ((results, "is a file"), (results / "eval", "cannot be created")):
        # The dataset does not exist either: the message about --out proves it is checked first.
        args = ["run", "--data", str(tmp_path / "nowhere"), "--out", str(out), "--no-progress"]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, result.output
        assert fragment in result.output and "--out" in result.output
        assert "Traceback" not in result.output
    assert results.read_text() == "keep me"
