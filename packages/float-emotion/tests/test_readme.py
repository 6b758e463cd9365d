"""The README example must run as written."""

from __future__ import annotations

import re
from pathlib import Path

import torch

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs(capsys) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert blocks, "README.md has no python example"
    torch.manual_seed(0)
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], str(README), "exec"), namespace)
    probs = namespace["probs"]
    windows = namespace["windows"]
    assert isinstance(probs, torch.Tensor) and probs.shape == (2, 7)
    torch.testing.assert_close(probs.sum(-1), torch.ones(2))
    assert torch.all(probs[:, [1, 2, 6]] == 0)
    assert isinstance(windows, torch.Tensor) and windows.shape == (2, 3, 7)
    assert "0.7500" in capsys.readouterr().out
