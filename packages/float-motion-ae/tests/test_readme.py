"""The README's example runs as written, and the allocator helper works on glibc."""

from __future__ import annotations

import contextlib
import io
import platform
import re
from pathlib import Path

import pytest

from float_motion_ae import tune_cpu_allocator

README = Path(__file__).parents[1] / "README.md"


def test_readme_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert blocks, "README.md must contain a python example"
    assert len(blocks[0].strip().splitlines()) <= 12
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(blocks[0], str(README), "exec"), {})
    assert out.getvalue().strip() == "torch.Size([1, 3, 64, 64])"


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt tuning only exists on glibc")
def test_tune_cpu_allocator_on_glibc() -> None:
    assert tune_cpu_allocator() is True
