"""SIGKILL a real training process mid-run, resume it, and compare with an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from float_train.ae import AETrainer
from float_train.checkpoint import complete_checkpoints
from float_train.cli import app
from float_train.config import load_config

STEPS = 60


def _last_step(metrics: Path) -> int:
    if not metrics.is_file():
        return 0
    steps = [0]
    for line in metrics.read_text().splitlines():
        try:
            steps.append(int(json.loads(line).get("step", 0)))
        except json.JSONDecodeError:
            continue
    return max(steps)


@pytest.mark.slow
@pytest.mark.parametrize(
    "data",
    # streamed: 60 steps of 4 pairs cross the 163-frame epoch, so the resume may land in either epoch
    [{}, {"streaming": True, "shuffle_buffer": 64}],
    ids=["random-access", "streaming"],
)
def test_kill_9_then_resume_equals_uninterrupted_run(ae_config, tmp_path: Path, read_losses, data) -> None:
    settings = {"train": {"steps": STEPS, "checkpoint_every": 5, "keep_last": 2}, "data": data}
    killed = tmp_path / "killed"
    config_file = ae_config(killed, **settings)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "float_train", "ae", str(config_file), "--no-progress"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while _last_step(killed / "metrics.jsonl") < 12:
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        assert time.monotonic() < deadline, "the training process made no progress"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    stopped_at = _last_step(killed / "metrics.jsonl")
    assert stopped_at < STEPS, "the run finished before it could be killed"
    newest = complete_checkpoints(killed)[-1][0]
    assert 10 <= newest < STEPS

    # The resume runs in this process (one interpreter start-up less); same code path as the console script.
    resumed = CliRunner().invoke(app, ["ae", str(config_file), "--resume", "--no-progress"])
    assert resumed.exit_code == 0, resumed.output
    assert f"step {newest})" in resumed.output

    reference = tmp_path / "reference"
    AETrainer(load_config(ae_config(reference, **settings), "ae"), show_progress=False).run()
    a, b = read_losses(reference), read_losses(killed)
    assert [s for _, s, _ in b] == list(range(1, STEPS + 1))
    assert max(abs(x[2] - y[2]) for x, y in zip(a, b, strict=True)) <= 1e-6
