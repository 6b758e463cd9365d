"""Resume: the loss sequence after a resume equals an uninterrupted run's; half-written checkpoints are
never loaded; a run dir is never silently overwritten."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from float_train import loop as loop_module
from float_train.ae import AETrainer
from float_train.checkpoint import MARKER, complete_checkpoints
from float_train.config import load_config
from float_train.fmt import FMTTrainer
from float_train.loop import RunError


def _interrupt_after_six(run: Path) -> None:
    """Make the run look killed while writing its step-6 checkpoint (no marker) and step 8's staging."""
    (run / "checkpoints" / "step-0000006" / MARKER).unlink()
    (run / "checkpoints" / ".tmp-step-0000008" / "model").mkdir(parents=True)


@pytest.mark.parametrize(
    ("stage", "data"),
    [
        ("ae", {}),
        ("fmt", {}),
        # the demo recipes' draws: from a checkpointed generator in the main process, not a step-indexed order
        ("ae", {"pair_sampling": "video"}),
        ("fmt", {"window_sampling": "random"}),
    ],
)
def test_resume_matches_an_uninterrupted_run(
    stage: str, data: dict, ae_config, fmt_config, tmp_path: Path, read_losses, capsys
) -> None:
    write, trainer = (ae_config, AETrainer) if stage == "ae" else (fmt_config, FMTTrainer)
    full, cut = tmp_path / "full", tmp_path / "cut"
    trainer(load_config(write(full, train={"steps": 8}, data=data), stage), show_progress=False).run()
    trainer(load_config(write(cut, train={"steps": 6}, data=data), stage), show_progress=False).run()
    _interrupt_after_six(cut)
    assert [s for s, _ in complete_checkpoints(cut)] == [4]
    capsys.readouterr()
    again = write(cut, train={"steps": 8}, data=data)
    trainer(load_config(again, stage), resume=True, show_progress=False).run()
    out = capsys.readouterr().out
    assert "resumed from" in out and "step-0000004" in out
    reference, resumed = read_losses(full), read_losses(cut)
    assert [s for _, s, _ in resumed] == list(range(1, 9))  # steps 5-6 of the killed run were dropped
    for (_, step, a), (_, _, b) in zip(reference, resumed, strict=True):
        assert abs(a - b) <= 1e-6, (step, a, b)
    assert [s for s, _ in complete_checkpoints(cut)] == [4, 8]
    assert not (cut / "checkpoints" / ".tmp-step-0000008").exists()


def test_existing_run_needs_resume_and_the_same_config(ae_config, tmp_path: Path) -> None:
    run = tmp_path / "run"
    AETrainer(
        load_config(ae_config(run, train={"steps": 2, "checkpoint_every": 2}), "ae"), show_progress=False
    ).run()
    with pytest.raises(RunError, match="pass --resume"):
        AETrainer(load_config(ae_config(run, train={"steps": 4}), "ae"), show_progress=False).run()
    with pytest.raises(RunError, match=r"optim\.lr"):
        AETrainer(
            load_config(ae_config(run, optim={"lr": 0.1}), "ae"), resume=True, show_progress=False
        ).run()
    shutil.rmtree(run / "checkpoints" / "step-0000002")
    # no complete checkpoint left: --resume starts from scratch
    result = AETrainer(
        load_config(ae_config(run, train={"steps": 2}), "ae"), resume=True, show_progress=False
    ).run()
    assert result.steps == 2


def test_cpu_runs_tune_the_allocator_unless_told_not_to(ae_config, tmp_path: Path, monkeypatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(loop_module, "tune_cpu_allocator", lambda: calls.append(1) or True)
    AETrainer(load_config(ae_config(tmp_path / "a", train={"device": "cpu"}), "ae"), show_progress=False)
    assert calls == [1]
    off = ae_config(tmp_path / "b", train={"device": "cpu", "tune_cpu_allocator": False})
    AETrainer(load_config(off, "ae"), show_progress=False)
    assert calls == [1]


def test_a_resume_may_change_the_allocator_setting(ae_config, tmp_path: Path) -> None:
    # it changes speed and memory, never a number: a run started before the setting existed resumes too
    run = tmp_path / "run"
    first = ae_config(run, train={"steps": 2, "checkpoint_every": 2})
    AETrainer(load_config(first, "ae"), show_progress=False).run()
    saved = yaml.safe_load((run / "config.yaml").read_text())
    del saved["train"]["tune_cpu_allocator"]  # as a run dir written before the setting existed
    (run / "config.yaml").write_text(yaml.safe_dump(saved))
    again = ae_config(run, train={"steps": 4, "checkpoint_every": 2, "tune_cpu_allocator": False})
    assert AETrainer(load_config(again, "ae"), resume=True, show_progress=False).run().steps == 4


def test_a_run_dir_saved_with_older_keys_resumes(ae_config, tmp_path: Path) -> None:
    # a config.yaml written before train.device, train.threads and data.pair_sampling existed (train.cpu was
    # device's name): the keys added since take their defaults, the renamed one its new name
    run = tmp_path / "run"
    first = ae_config(run, train={"steps": 2, "checkpoint_every": 2, "device": "cpu"})
    AETrainer(load_config(first, "ae"), show_progress=False).run()
    saved = yaml.safe_load((run / "config.yaml").read_text())
    del saved["train"]["device"], saved["train"]["threads"], saved["data"]["pair_sampling"]
    saved["train"]["cpu"] = True
    (run / "config.yaml").write_text(yaml.safe_dump(saved))
    again = ae_config(run, train={"steps": 4, "checkpoint_every": 2, "device": "cpu"})
    assert AETrainer(load_config(again, "ae"), resume=True, show_progress=False).run().steps == 4
    with pytest.raises(RunError, match=r"train\.device"):
        auto = ae_config(run, train={"steps": 6, "checkpoint_every": 2})
        AETrainer(load_config(auto, "ae"), resume=True, show_progress=False).run()
