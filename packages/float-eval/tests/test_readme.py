"""The README examples run and print what the README says."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from float_eval.registry import unregister_metric

README = Path(__file__).parents[1] / "README.md"


def test_readme_examples_run_and_print_documented_values() -> None:
    text = README.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 2
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            for code in blocks:
                exec(compile(code, str(README), "exec"), {})
    finally:
        unregister_metric("brightness_gap")
    printed = out.getvalue()
    assert "brightness gap: 10.0" in printed
    assert "Fréchet distance: 0.900" in printed
    assert "offset 3, LSE-D 0.054, LSE-C 3.821" in printed
    assert "[0, 16, 32]" in printed
