"""The second mouth meter: MediaPipe FaceMesh, run in an environment of its own (``tools/mp-meter``).

mediapipe 0.10.14, the last wheel that bundles its face-mesh model, needs numpy 1.x, which the workspace
does not have, so it lives in ``tools/mp-meter/.venv`` (``bash tools/mp-meter/build.sh``, pinned in
``tools/mp-meter/requirements.txt``). :class:`MediaPipeMeter` writes the frames to an ``.npz`` file, runs
``tools/mp-meter/mouth.py`` in that environment and reads back the JSON: one subprocess per batch of clips
(mediapipe's import and graph start take about two seconds). mediapipe and its face-mesh model are
Apache-2.0 (docs/proof.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["MP_METER_DIR", "MediaPipeMeter", "mp_meter_python"]

MP_METER_DIR = Path(__file__).resolve().parents[2] / "mp-meter"


def mp_meter_python() -> Path | None:
    """The meter environment's interpreter (``FLOAT_MP_METER_PYTHON`` overrides), or None when not built."""
    override = os.environ.get("FLOAT_MP_METER_PYTHON")
    path = Path(override) if override else MP_METER_DIR / ".venv" / "bin" / "python"
    return path if path.is_file() else None


class MediaPipeMeter:
    """``measure_many({key: frames [T, H, W, 3] uint8}) -> {key: (float32 [T] apertures, NaN on a miss;
    misses)}``, every frame detected on its own after enlarging it to ``size`` px."""

    name = "mediapipe"

    def __init__(self, size: int = 256, python: Path | None = None) -> None:
        found = python or mp_meter_python()
        if found is None:
            raise FileNotFoundError(
                f"the MediaPipe meter's environment is not built: run `bash {MP_METER_DIR}/build.sh`"
            )
        self.python = found
        self.size = size

    def measure_many(self, clips: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, int]]:
        with tempfile.TemporaryDirectory(prefix="mp-meter-") as work:
            frames, out = Path(work) / "frames.npz", Path(work) / "out.json"
            np.savez(frames, **{key: np.asarray(value, dtype=np.uint8) for key, value in clips.items()})
            done = subprocess.run(
                [
                    str(self.python),
                    str(MP_METER_DIR / "mouth.py"),
                    str(frames),
                    str(out),
                    f"--size={self.size}",
                ],
                capture_output=True,
                text=True,
                env={**os.environ, "GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "2"},
                check=False,
            )
            if done.returncode != 0:
                raise RuntimeError(f"the MediaPipe meter failed:\n{done.stderr[-2000:]}")
            result = json.loads(out.read_text())
        return {
            key: (
                np.asarray([np.nan if v is None else v for v in entry["aperture"]], dtype=np.float32),
                int(entry["missed"]),
            )
            for key, entry in result.items()
        }
