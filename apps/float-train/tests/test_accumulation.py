"""Gradient accumulation and the global batch line every run prints at its start."""

from __future__ import annotations

from pathlib import Path

import pytest

from float_train.ae import AETrainer
from float_train.config import ConfigError, load_config
from float_train.fmt import FMTTrainer


def test_every_run_prints_its_global_batch(ae_config, fmt_config, tmp_path: Path, capsys) -> None:
    train = {"steps": 2, "batch_size": 2, "grad_accum_steps": 3, "checkpoint_every": 2}
    AETrainer(load_config(ae_config(tmp_path / "ae", train=train), "ae"), show_progress=False).run()
    assert "global batch 6 = 2 per process x 1 processes x 3 accumulation steps" in capsys.readouterr().out
    fmt = load_config(fmt_config(tmp_path / "fmt", train={"steps": 1}), "fmt")
    FMTTrainer(fmt, show_progress=False).run()
    assert "global batch 4 = 4 per process x 1 processes x 1 accumulation steps" in capsys.readouterr().out


def test_two_micro_batches_of_two_train_as_one_batch_of_four(ae_config, tmp_path: Path, read_losses) -> None:
    # Stage 1 without augmentation draws nothing per step: both runs see the same 4 pairs per step and the
    # mean of the two micro-batch gradients is the batch-of-4 gradient, up to float32 summation order.
    whole, split = tmp_path / "whole", tmp_path / "split"
    AETrainer(load_config(ae_config(whole, train={"steps": 6}), "ae"), show_progress=False).run()
    micro = {"steps": 6, "batch_size": 2, "grad_accum_steps": 2}
    trainer = AETrainer(load_config(ae_config(split, train=micro), "ae"), show_progress=False)
    assert trainer.run().steps == 6
    a, b = read_losses(whole), read_losses(split)
    assert [s for _, s, _ in b] == list(range(1, 7))
    for (_, step, x), (_, _, y) in zip(a, b, strict=True):
        assert y == pytest.approx(x, rel=1e-5), step


def test_accumulation_and_the_discriminator_do_not_mix(ae_config, tmp_path: Path) -> None:
    path = ae_config(tmp_path / "r", loss={"adversarial": 0.1}, train={"grad_accum_steps": 2})
    with pytest.raises(ConfigError, match="grad_accum_steps"):
        load_config(path, "ae")


@pytest.mark.parametrize(("name", "machines", "processes"), [("ddp-1node", 1, 8), ("ddp-multinode", 2, 16)])
def test_committed_accelerate_configs_load(name: str, machines: int, processes: int) -> None:
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.utils import DistributedType

    folder = Path(__file__).resolve().parents[1] / "accelerate"
    config = load_config_from_file(str(folder / f"{name}.yaml"))
    assert config.distributed_type == DistributedType.MULTI_GPU
    assert (config.num_machines, config.num_processes) == (machines, processes)
    assert config.mixed_precision == "no"  # train.mixed_precision decides; see the files' comments
