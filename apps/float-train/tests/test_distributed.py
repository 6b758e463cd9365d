"""Two CPU processes through accelerate: data sharded, gradients synchronised, one checkpoint per save."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from float_train.ae import AETrainer
from float_train.checkpoint import complete_checkpoints
from float_train.config import load_config


class _RecordingTrainer(AETrainer):
    """Notes which (video, frame) each process trains on."""

    seen: list[list[str]]

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        self.seen.append(
            [f"{v}:{i}" for v, i in zip(batch["video_id"], batch["driving_index"].tolist(), strict=True)]
        )
        return super().train_step(batch)


def _worker(config_file: str, out_dir: str) -> None:
    from accelerate.state import AcceleratorState

    # The forked child inherits the parent's single-process accelerate state; start clean.
    AcceleratorState._reset_state(reset_partial_state=True)
    torch.set_num_threads(1)
    trainer = _RecordingTrainer(load_config(config_file, "ae"), show_progress=False)
    trainer.seen = []
    trainer.run()
    model = trainer.accelerator.unwrap_model(trainer.train_module)
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    record = {
        "rank": trainer.accelerator.process_index,
        "world": trainer.accelerator.num_processes,
        "seen": trainer.seen,
        "params": flat.double().sum().item(),
        "params_abs": flat.double().abs().sum().item(),
    }
    (Path(out_dir) / f"rank-{record['rank']}.json").write_text(json.dumps(record))


@pytest.mark.slow
def test_two_cpu_processes_shard_data_and_stay_in_sync(ae_config, tmp_path: Path, read_losses) -> None:
    from accelerate import debug_launcher

    run = tmp_path / "ddp"
    config_file = ae_config(run, train={"steps": 4, "batch_size": 2, "checkpoint_every": 4})
    debug_launcher(_worker, args=(str(config_file), str(tmp_path)), num_processes=2)
    ranks = [json.loads((tmp_path / f"rank-{r}.json").read_text()) for r in range(2)]
    assert [r["world"] for r in ranks] == [2, 2]
    for step in range(4):
        a, b = set(ranks[0]["seen"][step]), set(ranks[1]["seen"][step])
        assert len(a) == len(b) == 2 and not a & b  # each rank reads its own samples
    assert ranks[0]["params"] == ranks[1]["params"] and ranks[0]["params_abs"] == ranks[1]["params_abs"]
    assert [s for s, _ in complete_checkpoints(run)] == [4]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["latest", "step-0000004"]
    rng_files = sorted(p.name for p in (run / "checkpoints" / "step-0000004" / "rng").iterdir())
    assert rng_files == ["rank-0.safetensors", "rank-1.safetensors"]
    assert [s for _, s, _ in read_losses(run)] == [1, 2, 3, 4]  # one record per step, not per process


ACCELERATE_CONFIG = Path(__file__).resolve().parents[1] / "accelerate" / "ddp-1node.yaml"


def _steps_per_s(run: Path) -> float:
    from float_train.metrics import MetricsLog

    rates = [r["steps_per_s"] for r in MetricsLog(run / "metrics.jsonl").read() if "steps_per_s" in r]
    return sorted(rates[1:])[len(rates[1:]) // 2]  # median, without the first step's warm-up


@pytest.mark.slow
def test_two_processes_through_accelerate_launch_follow_the_one_process_loss_curve(
    ae_config, tmp_path: Path, read_losses
) -> None:
    """`accelerate launch` with the committed DDP config, 2 CPU processes over gloo, batch 2 each, against one
    process with batch 4: every step reads the same 4 pairs (step s, rank r: stream positions
    (2s + r) * 2 ...), the logged loss is the mean of the two ranks' means and DDP averages the gradients, so
    the curves differ only in float32 summation order (a 4-sample mean against a mean of two 2-sample means,
    gradients summed across ranks by gloo): a few ulps per step, compounding over Adam steps, hence rel 1e-5.
    Stage 1 without augmentation is used because it draws nothing per process; stage 2's t and noise come
    from per-process generators, so a 2-process run is a different (equally valid) draw."""
    import os
    import subprocess
    import sys

    from float_train.ae import AETrainer

    one, two = tmp_path / "one", tmp_path / "two"
    AETrainer(
        load_config(ae_config(one, train={"steps": 8, "batch_size": 4}), "ae"), show_progress=False
    ).run()
    config = ae_config(two, train={"steps": 8, "batch_size": 2, "device": "cpu"})
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(ACCELERATE_CONFIG),
        "--num_processes", "2", "-m", "float_train", "ae", str(config), "--no-progress",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "global batch 4 = 2 per process x 2 processes x 1 accumulation steps" in done.stdout
    state = json.loads((two / "checkpoints" / "step-0000008" / "trainer_state.json").read_text())
    assert state["world_size"] == 2
    reference, parallel = read_losses(one), read_losses(two)
    assert [s for _, s, _ in parallel] == list(range(1, 9))
    for (_, step, a), (_, _, b) in zip(reference, parallel, strict=True):
        assert b == pytest.approx(a, rel=1e-5), step
    worst = max(abs(b - a) / abs(a) for (_, _, a), (_, _, b) in zip(reference, parallel, strict=True))
    print(
        f"largest relative loss difference {worst:.2e}; steps/s (median): 1 process "
        f"{_steps_per_s(one):.3f}, 2 processes {_steps_per_s(two):.3f}"
    )


class _StreamRecordingTrainer(AETrainer):
    seen: list[list[str]]

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        pairs = zip(
            batch["video_id"], batch["driving_index"].tolist(), batch["source_index"].tolist(), strict=True
        )
        self.seen.append([f"{v}:{d}<-{s}" for v, d, s in pairs])
        return super().train_step(batch)


def _stream_worker(config_file: str, out_dir: str, resume: bool) -> None:
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
    torch.set_num_threads(1)
    trainer = _StreamRecordingTrainer(load_config(config_file, "ae"), resume=resume, show_progress=False)
    trainer.seen = []
    trainer.run()
    rank = trainer.accelerator.process_index
    (Path(out_dir) / f"rank-{rank}.json").write_text(json.dumps(trainer.seen))


@pytest.mark.slow
def test_two_processes_stream_their_own_shards_and_resume_exactly(ae_config, tmp_path: Path) -> None:
    """Streaming with 2 processes: the 2 training videos are 2 shards, one per process; each process saves
    its own stream position, and a resume from step 2 reads on each process what the uninterrupted run
    read."""
    from accelerate import debug_launcher

    from float_train.checkpoint import MARKER

    def launch(run: Path, steps: int, out: Path, resume: bool = False) -> list[list[list[str]]]:
        out.mkdir()
        data = {"streaming": True, "shuffle_buffer": 8}
        config = ae_config(run, data=data, train={"steps": steps, "batch_size": 2, "checkpoint_every": 2})
        debug_launcher(_stream_worker, args=(str(config), str(out), resume), num_processes=2)
        return [json.loads((out / f"rank-{r}.json").read_text()) for r in range(2)]

    full = launch(tmp_path / "full", 6, tmp_path / "o1")
    for step in range(6):
        videos = [{s.split(":")[0] for s in full[r][step]} for r in range(2)]
        assert len(videos[0]) == len(videos[1]) == 1 and videos[0] != videos[1]  # one shard per process
    cut = launch(tmp_path / "cut", 4, tmp_path / "o2")
    (tmp_path / "cut" / "checkpoints" / "step-0000004" / MARKER).unlink()
    for rank in range(2):
        position = json.loads(
            (tmp_path / "cut" / "checkpoints" / "step-0000002" / "stream" / f"rank-{rank}.json").read_text()
        )
        assert position == {"epoch": 0, "offset": 4}
    resumed = launch(tmp_path / "cut", 6, tmp_path / "o3", resume=True)
    for rank in range(2):
        assert cut[rank][:2] + resumed[rank] == full[rank]
