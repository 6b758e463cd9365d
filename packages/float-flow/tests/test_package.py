from __future__ import annotations

import re
from pathlib import Path

import pytest

import float_flow

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    assert code is not None, "README has no python example"
    exec(compile(code.group(1), str(README), "exec"), {})
    lines = capsys.readouterr().out.strip().splitlines()
    # 120 frames in 50-frame windows: starts 0, 50, 100; the last one truncated to 20 frames
    assert lines == ["0 0 (2, 50, 16)", "1 50 (2, 50, 16)", "2 100 (2, 20, 16)"]


def test_public_api_is_exported() -> None:
    for name in float_flow.__all__:
        assert hasattr(float_flow, name), name
    assert "convert_official" in float_flow.__all__ and "IncrementalGuidance" in float_flow.__all__
