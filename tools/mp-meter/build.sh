#!/usr/bin/env bash
# Build the MediaPipe mouth meter's environment in tools/mp-meter/.venv (a few seconds from uv's cache;
# ~150 MB download the first time). float_tools.proof.meters runs mouth.py with its python.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
uv venv --quiet --allow-existing --python 3.11 "$here/.venv"
uv pip install --quiet --python "$here/.venv/bin/python" --no-deps -r "$here/requirements.txt"
"$here/.venv/bin/python" -c "import mediapipe; print('mp-meter: mediapipe', mediapipe.__version__)"
