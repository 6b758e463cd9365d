"""The README's example must run as written (tiny random bundle, generated inputs, no download)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the example writes its bundle, wav and mp4 in the working folder
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], str(README), "exec"), namespace)
    frames, result = namespace["frames"], namespace["result"]
    assert len(frames) == 50 and np.asarray(frames[0]).shape == (48, 64, 3)  # type: ignore[arg-type]
    assert result.num_frames == 50 and (result.width, result.height) == (32, 32)  # type: ignore[attr-defined]
    assert (tmp_path / "talking.mp4").is_file()
