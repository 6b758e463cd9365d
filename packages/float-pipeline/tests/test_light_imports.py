"""float-pipeline composes packages, not apps; a portrait crop needs none of the dataset stack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import float_pipeline

NOT_NEEDED = {"datasets", "pyarrow", "pandas", "face_alignment", "float_eval"}
APPS = {"float_generate", "float_train", "float_demo", "float_evaluate"}


@pytest.mark.slow  # a fresh interpreter imports torch, transformers and dlib: ~10 s
def test_import_and_portrait_crop_load_no_dataset_stack_and_no_app(portrait_png: Path) -> None:
    code = (
        "import sys\n"
        "import float_pipeline\n"
        "portrait = float_pipeline.prepare_portrait(sys.argv[1], 64)\n"
        "print(portrait.crop.shape, ' '.join(sorted({name.split('.')[0] for name in sys.modules})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(portrait_png)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    shape, loaded = result.stdout.strip().split(")", 1)
    assert shape + ")" == "(64, 64, 3)"
    assert not set(loaded.split()) & (NOT_NEEDED | APPS)


def test_public_names_resolve() -> None:
    assert len(float_pipeline.__all__) == len(set(float_pipeline.__all__))
    for name in float_pipeline.__all__:
        assert getattr(float_pipeline, name) is not None, name
