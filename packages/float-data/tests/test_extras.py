"""The dataset stack is an extra: decoding and cropping never import it, dataset names say how to get it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import float_data

DATASET_STACK = {"datasets", "pyarrow", "pandas", "face_alignment"}


def _run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)


def test_a_portrait_crop_imports_no_dataset_stack(portrait_png: Path) -> None:
    code = (
        "import sys\n"
        "import numpy as np\n"
        "from PIL import Image\n"
        "import float_data\n"
        "image = np.asarray(Image.open(sys.argv[1]).convert('RGB'))\n"
        "box = float_data.stable_face_box(float_data.DlibDetector(landmarks=False), image)\n"
        "crop = float_data.crop_face(image, float_data.crop_box_from_face(box, scale=1.6), 64)\n"
        "print(crop.shape, ' '.join(sorted({name.split('.')[0] for name in sys.modules})))\n"
    )
    result = _run(code, str(portrait_png))
    assert result.returncode == 0, result.stderr
    shape, loaded = result.stdout.strip().split(")", 1)
    assert shape + ")" == "(64, 64, 3)"
    assert not set(loaded.split()) & DATASET_STACK


def test_dataset_names_without_the_extra_name_it() -> None:
    code = (
        "import sys\n"
        "sys.modules['datasets'] = None  # as if the extra were not installed\n"
        "sys.modules['pyarrow'] = None\n"
        "import float_data\n"
        "try:\n"
        "    float_data.PreparedDataset\n"
        "except ModuleNotFoundError as error:\n"
        "    print(error)\n"
    )
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert "float_data.PreparedDataset" in result.stdout
    assert "pip install 'float-data[datasets]'" in result.stdout


def test_dataset_names_load_on_first_use() -> None:
    from float_data.prepared import PreparedDataset

    assert float_data.PreparedDataset is PreparedDataset
    assert {"PreparedDataset", "prepare_dataset", "MotionWindows"} <= set(dir(float_data))
    assert set(float_data.__all__) <= set(dir(float_data))
