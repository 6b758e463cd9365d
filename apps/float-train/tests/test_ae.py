"""Stage 1 on real (tiny) data: the loss falls, validation scores held-out pairs, the guard restarts."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from float_train.ae import AETrainer, guard_action
from float_train.checkpoint import complete_checkpoints
from float_train.config import ConfigError, GuardConfig, load_config
from float_train.metrics import MetricsLog


def test_ae_trains_validates_and_keeps_the_last_checkpoints(ae_config, tmp_path: Path, read_losses) -> None:
    run = tmp_path / "ae"
    config = load_config(
        ae_config(
            run, train={"steps": 12, "val_every": 12, "checkpoint_every": 4, "keep_last": 2, "ema_decay": 0.9}
        ),
        "ae",
    )
    result = AETrainer(config, show_progress=False).run()
    values = [loss for _, _, loss in read_losses(run)]
    assert len(values) == 12 and all(math.isfinite(v) for v in values)
    assert sum(values[-4:]) / 4 < 0.9 * sum(values[:4]) / 4, values
    validation = result.last_validation
    assert validation["val_pairs"] == 8 and validation["step"] == 12
    assert math.isfinite(validation["val_psnr"]) and math.isfinite(validation["val_copy_psnr"])
    assert abs(validation["val_psnr_gain"] - (validation["val_psnr"] - validation["val_copy_psnr"])) < 1e-9
    steps = [step for step, _ in complete_checkpoints(run)]
    assert steps == [8, 12]
    assert (run / "checkpoints" / "latest").read_text().strip() == "step-0000012"
    last = run / "checkpoints" / "step-0000012"
    state = json.loads((last / "trainer_state.json").read_text())
    assert state["step"] == 12 and state["data"]["stream_position"] == 48
    assert (last / "ema.safetensors").is_file() and (last / "model" / "config.json").is_file()
    assert (last / "rng" / "rank-0.safetensors").is_file() and (last / "optimizer-main.pt").is_file()
    assert (last / "scheduler-main.json").is_file()  # no pickle a resume would have to unpickle
    assert (run / "config.yaml").is_file()


def test_plateau_guard_restarts_with_a_new_seed_then_gives_up(ae_config, tmp_path: Path, read_losses) -> None:
    run = tmp_path / "guard"
    config = load_config(
        ae_config(
            run,
            train={"steps": 3, "checkpoint_every": 10},
            guard={"at_step": 2, "min_gain_db": 100.0, "max_restarts": 1},
        ),
        "ae",
    )
    result = AETrainer(config, show_progress=False).run()
    assert result.attempts == 2
    events = [r for r in MetricsLog(run / "metrics.jsonl").read() if r.get("event") == "guard"]
    assert [e["action"] for e in events] == ["restart", "gave_up"]
    assert all(e["gain_db"] < 100 for e in events)
    records = read_losses(run)
    assert [(a, s) for a, s, _ in records] == [(0, 1), (0, 2), (1, 1), (1, 2), (1, 3)]
    assert records[0][2] != records[2][2]  # re-initialised with another seed
    state = json.loads((run / "checkpoints" / "step-0000003" / "trainer_state.json").read_text())
    assert state["attempt"] == 1 and state["extra"]["guard"]["restarts"] == 1


def test_guard_defers_a_run_climbing_out_of_the_plateau() -> None:
    guard = GuardConfig(at_step=2000, min_gain_db=1.0, max_restarts=1, defer_if_rising_db=0.25)
    # float-train's seed 1 of demo-cpu-ae.yaml: -1.64, -0.77, +0.39 dB at steps 500-1500, +0.88 at 2000
    assert guard_action(0.88, 0.39, guard, restarts=0, deferrals=0) == "defer"
    assert guard_action(0.88, 0.39, guard, restarts=0, deferrals=2) == "restart"  # max_deferrals spent
    assert guard_action(0.88, 0.80, guard, restarts=0, deferrals=0) == "restart"  # flat: a plateau
    assert guard_action(0.88, None, guard, restarts=0, deferrals=0) == "restart"  # no trend to read
    assert guard_action(0.88, 0.80, guard, restarts=1, deferrals=0) == "gave_up"
    assert guard_action(1.20, 1.50, guard, restarts=1, deferrals=0) == "pass"
    without = GuardConfig(at_step=2000, min_gain_db=1.0)
    assert guard_action(0.88, -5.0, without, restarts=0, deferrals=0) == "restart"  # off by default


def test_guard_deferrals_then_restart_start_over_in_the_new_attempt(
    ae_config, tmp_path: Path, read_losses
) -> None:
    run = tmp_path / "defer"
    guard = {"at_step": 2, "min_gain_db": 100.0, "max_restarts": 1}
    guard |= {"defer_if_rising_db": -100.0, "max_deferrals": 1}  # always "rising", never good enough
    config = load_config(
        ae_config(run, train={"steps": 4, "val_every": 1, "checkpoint_every": 10}, guard=guard), "ae"
    )
    result = AETrainer(config, show_progress=False).run()
    events = [r for r in MetricsLog(run / "metrics.jsonl").read() if r.get("event") == "guard"]
    assert [(e["attempt"], e["step"], e["action"]) for e in events] == [
        (0, 2, "defer"),
        (0, 3, "restart"),
        (1, 2, "defer"),
        (1, 3, "gave_up"),
    ]
    assert all("rise_db" in e for e in events)
    assert result.attempts == 2 and [(a, s) for a, s, _ in read_losses(run)][-4:] == [
        (1, 1),
        (1, 2),
        (1, 3),
        (1, 4),
    ]
    with pytest.raises(ConfigError, match=r"val_every below guard\.at_step"):
        load_config(ae_config(tmp_path / "bad", train={"val_every": 0}, guard=guard), "ae")


def test_every_seed_validates_on_the_same_pairs(ae_config, tmp_path: Path) -> None:
    # seeds are compared on one validation set, and the guard's min_gain_db means the same for each
    first_val, first_train = [], []
    for seed in (0, 3):
        config = load_config(ae_config(tmp_path / f"s{seed}", train={"seed": seed, "val_every": 4}), "ae")
        trainer = AETrainer(config, show_progress=False)
        trainer.prepare_data()
        first_val.append(trainer._validation_batches()[0])
        trainer.pairs.set_epoch(0)  # type: ignore[attr-defined]
        first_train.append(trainer.pairs[0]["source"])
    (first, second), (train_0, train_3) = first_val, first_train
    assert torch.equal(first["source"], second["source"]) and torch.equal(first["driving"], second["driving"])
    assert not torch.equal(train_0, train_3)  # training pairs still follow it


def test_adversarial_option_trains_a_discriminator_with_r1(ae_config, tmp_path: Path) -> None:
    run = tmp_path / "adv"
    config = load_config(
        ae_config(
            run,
            loss={"perceptual": 0, "component": 0, "adversarial": 0.1},
            adversarial={"r1_every": 2},
            train={"steps": 2, "checkpoint_every": 2},
        ),
        "ae",
    )
    AETrainer(config, show_progress=False).run()
    records = [r for r in MetricsLog(run / "metrics.jsonl").read() if "disc_loss" in r]
    assert len(records) == 2 and all(math.isfinite(r["disc_loss"]) for r in records)
    assert records[0]["r1"] == 0.0 and records[1]["r1"] > 0.0  # lazy R1 on every 2nd step
    assert records[0]["adversarial"] > 0
    last = run / "checkpoints" / "step-0000002"
    assert (last / "discriminator" / "model.safetensors").is_file() and (last / "optimizer-disc.pt").is_file()
