"""The fault and bad-input battery of float-train (issue #29), as a hostile user would try it.

Each test is one case of the battery: what used to go wrong is in its docstring; the assertions are the fix.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from float_train.ae import AETrainer
from float_train.checkpoint import (
    capture_rng,
    complete_checkpoints,
    load_rng_file,
    load_scheduler_file,
    save_rng_file,
)
from float_train.cli import app
from float_train.config import ConfigError, load_config
from float_train.fmt import FMTTrainer
from float_train.loop import is_disk_full

runner = CliRunner()


class _Payload:
    """Unpickling this writes ``marker``: what a crafted file in a shared run dir could do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return exec, (f"open({str(self.marker)!r}, 'w').write('executed')",)


def _plant_pickles(checkpoint: Path, marker: Path) -> None:
    torch.save({"state": _Payload(marker)}, checkpoint / "scheduler-main.pt")
    torch.save({"state": _Payload(marker)}, checkpoint / "rng" / "rank-0.pt")


def test_crafted_pickles_in_a_run_dir_are_never_executed(ae_config, tmp_path: Path) -> None:
    """Item 1: resume loaded scheduler-*.pt and rng/rank-R.pt with weights_only=False (code execution)."""
    run, marker = tmp_path / "shared-run", tmp_path / "pwned"
    config = ae_config(run, train={"steps": 2, "checkpoint_every": 2})
    AETrainer(load_config(config, "ae"), show_progress=False).run()
    checkpoint = complete_checkpoints(run)[-1][1]
    assert (checkpoint / "scheduler-main.json").is_file()
    assert (checkpoint / "rng" / "rank-0.safetensors").is_file()
    assert all(p.name.startswith("optimizer-") for p in checkpoint.rglob("*.pt"))  # read weights_only

    # Pickles next to the real state are never opened: the resume runs and nothing executes.
    _plant_pickles(checkpoint, marker)
    longer = ae_config(run, train={"steps": 4, "checkpoint_every": 2})
    assert AETrainer(load_config(longer, "ae"), resume=True, show_progress=False).run().steps == 4
    assert not marker.exists()

    # A checkpoint with only pickled state (an old run, or a planted one) is refused with a clear message.
    newest = complete_checkpoints(run)[-1][1]
    (newest / "scheduler-main.json").unlink()
    (newest / "rng" / "rank-0.safetensors").unlink()
    _plant_pickles(newest, marker)
    result = runner.invoke(app, ["ae", str(ae_config(run, train={"steps": 6})), "--resume", "--no-progress"])
    assert result.exit_code == 2, result.output
    assert "pickles" in result.output and "no longer read" in result.output
    assert not marker.exists()


def test_rng_and_scheduler_files_round_trip_exactly(tmp_path: Path) -> None:
    """Item 1: the code-free formats keep resume bit-exact (every RNG state, scheduler floats)."""
    random.random(), np.random.rand(3), torch.rand(2)  # move every stream off its seed
    np.random.randn()  # leaves a cached gaussian in numpy's state
    generator = torch.Generator().manual_seed(7)
    torch.rand(5, generator=generator)
    save_rng_file(tmp_path / "rank-0.safetensors", {"noise": generator})
    before = capture_rng({"noise": generator})
    after = load_rng_file(tmp_path / "rank-0.safetensors")
    assert after["python"] == before["python"]
    assert after["numpy"][0] == before["numpy"][0] and after["numpy"][2:] == before["numpy"][2:]
    np.testing.assert_array_equal(after["numpy"][1], before["numpy"][1])
    assert after["numpy"][1].dtype == np.uint32
    assert torch.equal(after["torch"], before["torch"])
    assert torch.equal(after["generators"]["noise"], before["generators"]["noise"])

    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=3e-4)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: (s + 1) / 7)
    for _ in range(3):
        optimizer.step()
        scheduler.step()
    from float_train.checkpoint import save_scheduler_file

    save_scheduler_file(tmp_path / "scheduler-main.json", scheduler.state_dict())
    assert load_scheduler_file(tmp_path / "scheduler-main.json") == scheduler.state_dict()


def test_a_full_disk_says_so_keeps_the_last_checkpoint_and_resumes(
    ae_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 8: a full disk during a checkpoint ended in torch's raw "unexpected pos" traceback."""
    run = tmp_path / "run"
    config = ae_config(run, train={"steps": 4, "checkpoint_every": 2})
    real_save = torch.save

    def disk_full_at_step_4(obj: object, path: object, *args: object, **kwargs: object) -> None:
        if "step-0000004" in str(path):
            raise RuntimeError("[enforce fail at inline_container.cc:626] . unexpected pos 4736 vs 4650")
        real_save(obj, path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(torch, "save", disk_full_at_step_4)
    result = runner.invoke(app, ["ae", str(config), "--no-progress"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "is full" in result.output and "step-0000002" in result.output and "intact" in result.output
    assert "--resume" in result.output
    assert [step for step, _ in complete_checkpoints(run)] == [2]
    assert not list((run / "checkpoints").glob(".tmp-*"))  # the partial checkpoint's space is freed

    monkeypatch.setattr(torch, "save", real_save)  # space freed: the same command with --resume finishes
    resumed = runner.invoke(app, ["ae", str(config), "--resume", "--no-progress"])
    assert resumed.exit_code == 0, resumed.output
    assert [step for step, _ in complete_checkpoints(run)] == [2, 4]


def test_disk_full_is_recognised_from_every_writer() -> None:
    """Item 8: OSError (json/text), torch's zip writer and safetensors' IO error all mean a full disk."""
    import errno

    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert is_disk_full(RuntimeError("PytorchStreamWriter failed writing file data/0: file write failed"))
    assert is_disk_full(Exception('IoError(Os { code: 28, kind: StorageFull, message: "No space" })'))
    assert not is_disk_full(RuntimeError("CUDA out of memory"))


@pytest.fixture
def empty_dataset(tmp_path: Path) -> Path:
    root = tmp_path / "empty-prepared"
    root.mkdir()
    (root / "manifest.jsonl").write_text("")
    return root


def test_an_empty_dataset_is_named_as_such_in_stage_1(ae_config, empty_dataset: Path, tmp_path: Path) -> None:
    """Item 10: an empty dataset was reported as a crop-size mismatch ('holds [] px crops')."""
    config = load_config(ae_config(tmp_path / "run", data={"root": str(empty_dataset)}), "ae")
    with pytest.raises(ConfigError, match="holds no prepared videos") as caught:
        AETrainer(config, show_progress=False).run()
    assert "px" not in str(caught.value)


def test_an_empty_dataset_is_named_as_such_in_stage_2(
    fmt_config, empty_dataset: Path, tmp_path: Path
) -> None:
    """Item 10: the same for stage 2 (fmt.py)."""
    config = load_config(fmt_config(tmp_path / "run", data={"root": str(empty_dataset)}), "fmt")
    with pytest.raises(ConfigError, match="holds no prepared videos") as caught:
        FMTTrainer(config, show_progress=False).run()
    assert "px crops" not in str(caught.value)


def test_preparing_an_empty_folder_fails(tmp_path: Path) -> None:
    """Item 10: `float-data prepare` of a folder without videos wrote an empty dataset and exited 0."""
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "notes.txt").write_text("no videos here")
    command = [sys.executable, "-m", "float_data", "prepare", str(tmp_path / "videos"), str(tmp_path / "out")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no video files" in result.stderr and not (tmp_path / "out").exists()


def test_export_overwrite_never_deletes_a_folder_that_is_not_a_bundle(tmp_path: Path) -> None:
    """Item 2: `float-train export --overwrite` replaced any folder (through save_bundle)."""
    thesis = tmp_path / "thesis"
    (thesis / "sub").mkdir(parents=True)
    (thesis / "thesis.txt").write_text("four years of work")
    (thesis / "sub" / "data.csv").write_text("a,b\n1,2\n")
    result = runner.invoke(app, ["export", str(tmp_path / "some-run"), str(thesis), "--overwrite"])
    assert result.exit_code == 2, result.output
    assert "not a bundle" in result.output
    assert (thesis / "thesis.txt").read_text() == "four years of work"
    assert (thesis / "sub" / "data.csv").is_file()
    shutil.rmtree(thesis)
