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
