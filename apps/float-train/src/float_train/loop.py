"""The training loop both stages share: accelerate set-up, run dir, resume, logging, checkpoints.

A stage subclasses :class:`Trainer` and supplies its models (``build``), one optimisation step
(``train_step``) and a validation (``validate``). Everything that must survive a kill is in
:meth:`Trainer.save_checkpoint`: the models (``save_pretrained`` folders), the optimizers and schedulers,
the EMA, every RNG state of every process, the data position and the stage's own state (plateau guard).
Together with the step-indexed data order (:mod:`float_train.sampling`) this makes ``--resume`` continue
bit for bit.
"""

from __future__ import annotations

import errno
import itertools
import json
import math
import shutil
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from float_motion_ae import tune_cpu_allocator
from float_train.checkpoint import (
    CheckpointFormatError,
    complete_checkpoints,
    finalize_checkpoint,
    latest_checkpoint,
    load_rng_file,
    load_scheduler_file,
    restore_rng,
    save_rng_file,
    save_scheduler_file,
    staging_dir,
    write_text_atomic,
)
from float_train.config import ConfigError, StageConfig, dump_config, validate_config
from float_train.ema import ParameterEMA
from float_train.metrics import MetricsLog
from float_train.sampling import EpochIndexed, StepBatchSampler
from float_train.stream import ExampleStream, StreamPosition

__all__ = ["RunError", "TrainResult", "Trainer", "derive_seed", "is_disk_full", "lr_factor"]

# Differences in these train fields (and in the export section, read only by `float-train export`) do not
# stop a resume: they change no computed number.
_RESUME_FREE = {
    "steps",
    "checkpoint_every",
    "keep_last",
    "log_every",
    "val_every",
    "trackers",
    "tune_cpu_allocator",
}


class RunError(RuntimeError):
    """The run dir cannot be used as asked (existing run without --resume, changed config, full disk...)."""


# What a full disk looks like from the writers a checkpoint uses: OSError (json, text), torch.save's zip
# writer ("unexpected pos", "file write failed") and safetensors' Rust IO error ("StorageFull").
_DISK_FULL_TEXT = ("No space left on device", "unexpected pos", "file write failed", "StorageFull", "quota")


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) is a full disk or an exhausted quota."""
    while error is not None:
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if any(text in str(error) for text in _DISK_FULL_TEXT):
            return True
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    return False


def derive_seed(*parts: int) -> int:
    """A 63-bit seed from several integers (seed, attempt, rank, purpose)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(2, np.uint64)[0] >> 1)


def lr_factor(step: int, warmup: int, total_steps: int, decay_to: float = 1.0) -> float:
    """The learning-rate multiplier of 0-based ``step``: see :meth:`Trainer.make_scheduler`."""
    if step < warmup:
        return (step + 1) / warmup
    if decay_to >= 1.0:
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
    return decay_to + (1.0 - decay_to) * 0.5 * (1.0 + math.cos(math.pi * progress))


@dataclass
class TrainResult:
    """What a finished run reports: steps done, restarts, last logged and validation records."""

    run_dir: Path
    steps: int
    attempts: int
    last_log: dict[str, Any] = field(default_factory=dict)
    last_validation: dict[str, Any] = field(default_factory=dict)


def _config_diff(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    keys = sorted(set(old) | set(new))
    diffs: list[str] = []
    for key in keys:
        path = f"{prefix}{key}"
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            diffs += _config_diff(a, b, path + ".")
        elif a != b and not (prefix == "train." and key in _RESUME_FREE) and not path.startswith("export."):
            diffs.append(path)
    return diffs


def _saved_config(saved: Path, stage: str) -> dict[str, Any]:
    """A run dir's ``config.yaml`` as this version writes it: keys added since take their defaults, renamed
    ones their new name (e.g. ``train.cpu`` -> ``train.device``). A file that no longer validates is
    returned as written, so whatever changed shows up as a difference."""
    raw = yaml.safe_load(saved.read_text())
    try:
        return validate_config(raw, stage, str(saved)).model_dump(mode="json")
    except ConfigError:
        return raw


class Trainer(ABC):
    """Shared loop; subclasses fill ``modules`` (saved with ``save_pretrained``), ``optimizers``,
    ``schedulers`` and ``generators`` in :meth:`build`.

    Attributes set by :meth:`build`:
        modules: name -> unwrapped model saved as ``name/`` in checkpoints (hub-mixin models).
        train_module: the module that is wrapped by accelerate (DDP) and receives gradients.
        optimizers, schedulers: name -> object, saved as ``optimizer-name.pt`` (tensors, read with
            ``weights_only=True``) and ``scheduler-name.json``.
        generators: name -> per-process ``torch.Generator`` whose states are checkpointed.
    """

    stage: str = ""
    find_unused_parameters: bool = False
    """DDP must be told when some parameters never receive gradients (else it waits for them)."""

    def __init__(self, config: StageConfig, resume: bool = False, show_progress: bool = True) -> None:
        self.config = config
        self.resume = resume
        self.show_progress = show_progress
        self.run_dir = Path(config.run_dir)
        train = config.train
        if train.device == "cuda" and not torch.cuda.is_available():
            raise ConfigError("train.device is 'cuda' but torch sees no CUDA device: use 'auto' or 'cpu'")
        if train.threads is not None:
            torch.set_num_threads(train.threads)
        self.accelerator = Accelerator(
            cpu=train.device == "cpu",
            mixed_precision=train.mixed_precision,
            gradient_accumulation_steps=train.grad_accum_steps,
            log_with=list(train.trackers) or None,
            project_dir=str(self.run_dir),
            kwargs_handlers=[
                DistributedDataParallelKwargs(find_unused_parameters=self.find_unused_parameters)
            ],
        )
        if self.accelerator.device.type == "cpu" and train.mixed_precision == "fp16":
            raise ConfigError("train.mixed_precision: fp16 needs a GPU; use bf16 on the CPU, or 'no'")
        if self.accelerator.device.type == "cpu" and train.tune_cpu_allocator:
            # Every step frees and reallocates the same activation buffers; glibc's defaults hand them
            # back to the kernel each time (page faults on every reuse).
            # tools/float_tools/bench/train_step.py times it.
            tune_cpu_allocator()
        self.modules: dict[str, nn.Module] = {}
        self.train_module: nn.Module | None = None
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler] = {}
        self.generators: dict[str, torch.Generator] = {}
        self.ema: ParameterEMA | None = None
        self.stream: ExampleStream | None = None  # data.streaming: set by prepare_data
        self.attempt = 0
        self.step = 0
        self.metrics = MetricsLog(self.run_dir / "metrics.jsonl")
        self.last_validation: dict[str, Any] = {}

    # ------------------------------------------------------------------------------------ for subclasses
    @property
    def device(self) -> torch.device:
        return self.accelerator.device

    @property
    def is_main(self) -> bool:
        return self.accelerator.is_main_process

    @abstractmethod
    def prepare_data(self) -> None:
        """Once per run, before ``build``: caches and datasets (main process first, others wait)."""

    @abstractmethod
    def build(self) -> None:
        """Create models, optimizers, schedulers, generators for ``self.attempt`` (seeded)."""

    @abstractmethod
    def train_dataset(self) -> Dataset:
        """The training dataset (items collated by torch's default collate)."""

    def batches(self, start: int) -> Iterable[Any]:
        """This process's batches of steps ``start`` .. ``train.steps - 1``, drawn lazily (one per step, or
        ``train.grad_accum_steps`` micro-batches per step).

        Default: the step-indexed DataLoader over :meth:`train_dataset`. A stage may draw its batches from one
        of its checkpointed ``generators`` instead; they are then drawn in the main process, just before
        the step that uses them, so the draws and the step's own draws share one stream."""
        return self._loader(self.train_dataset(), start)

    @abstractmethod
    def train_step(self, batch: Any) -> dict[str, float]:
        """One optimisation step on this process's batch; returns metrics averaged over processes."""

    @abstractmethod
    def validate(self) -> dict[str, Any]:
        """Main process only: validation metrics (and side outputs such as sample videos)."""

    def wants_validation(self) -> bool:
        """Hook: validate at this step even when ``train.val_every`` does not ask for it."""
        return False

    def after_validation(self, record: dict[str, Any]) -> bool:
        """Called on every process with the validation record; return True to restart the attempt."""
        return False

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        return None

    def make_optimizer(self, params: Any, optim: Any) -> torch.optim.Optimizer:
        return torch.optim.Adam(
            params, lr=optim.lr, betas=tuple(optim.betas), eps=optim.eps, weight_decay=optim.weight_decay
        )

    @staticmethod
    def make_scheduler(
        optimizer: torch.optim.Optimizer, warmup: int, total_steps: int = 0, decay_to: float = 1.0
    ) -> torch.optim.lr_scheduler.LambdaLR:
        """Step ``s`` (0-based) runs at ``lr * factor(s)``: linear warm-up over ``warmup`` steps, then
        constant (``decay_to`` = 1) or a cosine from 1 down to ``decay_to`` at ``total_steps``."""
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: lr_factor(s, warmup, total_steps, decay_to)
        )

    def finish_step(self, loss: torch.Tensor, optimizer_name: str = "main") -> float | None:
        """Backward, clip, optimizer and scheduler step; returns the gradient norm when clipped.

        With ``train.grad_accum_steps`` > 1 only the last micro-batch of a step gets past the backward
        (accelerate divides each loss by the count, so the summed gradient is the mean's)."""
        optimizer = self.optimizers[optimizer_name]
        self.accelerator.backward(loss)
        if not self.accelerator.sync_gradients:
            return None
        norm = None
        clip = self.config.optim.grad_clip
        if clip is not None and self.train_module is not None:
            norm = float(self.accelerator.clip_grad_norm_(self.train_module.parameters(), clip))
        optimizer.step()
        self.schedulers[optimizer_name].step()
        optimizer.zero_grad(set_to_none=True)
        return norm

    # ------------------------------------------------------------------------------------ run dir
    def _check_run_dir(self) -> Path | None:
        """Decide fresh start or resume; returns the checkpoint to resume from (None: fresh)."""
        found = latest_checkpoint(self.run_dir)
        saved = self.run_dir / "config.yaml"
        if found is None:
            return None
        if not self.resume:
            raise RunError(
                f"{self.run_dir} already holds checkpoints (newest {found.name}): pass --resume to continue "
                "it, or choose another run dir (--run-dir)"
            )
        if saved.is_file():
            old = _saved_config(saved, self.stage)
            new = self.config.model_dump(mode="json")
            diffs = _config_diff(old, new)
            decays = new.get("optim", {}).get("decay_to", 1.0) < 1.0
            if decays and old.get("train", {}).get("steps") != new["train"]["steps"]:
                diffs.append("train.steps (the cosine decay of optim.decay_to < 1 spans train.steps)")
            if diffs:
                raise RunError(
                    f"the config differs from the one {self.run_dir} was started with in {', '.join(diffs)}; "
                    "resume with the same config (only train.steps and logging/checkpoint intervals may "
                    "change) or start a new run dir"
                )
        return found

    def _init_run_dir(self, resume_from: Path | None) -> None:
        if self.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.run_dir / "config.yaml", dump_config(self.config))
            if resume_from is None:
                self.metrics.path.unlink(missing_ok=True)
        self.accelerator.wait_for_everyone()

    # ------------------------------------------------------------------------------------ checkpoints
    def _unwrapped(self, name: str) -> nn.Module:
        return self.accelerator.unwrap_model(self.modules[name])

    def save_checkpoint(self) -> None:
        """Write a complete checkpoint of this step (see :mod:`float_train.checkpoint`); on any failure the
        partial one is deleted (freeing its space) and the newest complete one stays what a resume reads."""
        staged = staging_dir(self.run_dir, self.step)
        try:
            self._write_checkpoint(staged)
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise

    def _write_checkpoint(self, staged: Path) -> None:
        acc = self.accelerator
        if self.is_main:
            shutil.rmtree(staged, ignore_errors=True)
            (staged / "rng").mkdir(parents=True)
            if self.stream is not None:
                (staged / "stream").mkdir()
        acc.wait_for_everyone()
        save_rng_file(staged / "rng" / f"rank-{acc.process_index}.safetensors", self.generators)
        if self.stream is not None:
            position = json.dumps(self.stream.position.to_json()) + "\n"
            write_text_atomic(staged / "stream" / f"rank-{acc.process_index}.json", position)
        acc.wait_for_everyone()
        if self.is_main:
            for name in self.modules:
                unwrapped = self._unwrapped(name)
                unwrapped.save_pretrained(staged / name)  # type: ignore[operator]
                (staged / name / "README.md").unlink(missing_ok=True)
            for name, optimizer in self.optimizers.items():
                torch.save(optimizer.state_dict(), staged / f"optimizer-{name}.pt")
            for name, scheduler in self.schedulers.items():
                save_scheduler_file(staged / f"scheduler-{name}.json", scheduler.state_dict())
            if self.ema is not None:
                save_file(self.ema.state_dict(), str(staged / "ema.safetensors"))
            state = {
                "stage": self.stage,
                "step": self.step,
                "attempt": self.attempt,
                "world_size": acc.num_processes,
                "data": {
                    "seed": self.config.train.seed,
                    "stream_position": self.step * self.global_batch,
                    "samples_per_step": self.global_batch,
                    **self.stream_state(),
                },
                "extra": self.extra_state(),
            }
            write_text_atomic(staged / "trainer_state.json", json.dumps(state, indent=2) + "\n")
            finalize_checkpoint(
                self.run_dir, self.step, self.config.train.keep_last, {"attempt": self.attempt}
            )
        acc.wait_for_everyone()

    def _unreadable(self, checkpoint: Path, problem: str) -> RunError:
        return RunError(
            f"cannot resume from {checkpoint}: {problem}; delete that folder to resume from the checkpoint "
            "before it, or start a new run dir"
        )

    def _read_state(self, checkpoint: Path) -> dict[str, Any]:
        rng = checkpoint / "rng" / f"rank-{self.accelerator.process_index}.safetensors"
        if not rng.is_file() and list(checkpoint.glob("rng/*.pt")) + list(checkpoint.glob("scheduler-*.pt")):
            raise RunError(
                f"{checkpoint} was written by an older float-train that stored RNG and scheduler states as "
                "pickles (rng/*.pt, scheduler-*.pt); unpickling a file can run code hidden in it, so they "
                "are no longer read. Resume it with the float-train version that wrote it, or start a new "
                "run dir"
            )
        try:
            state = json.loads((checkpoint / "trainer_state.json").read_text())
            int(state["step"]), int(state["attempt"]), int(state["world_size"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise self._unreadable(
                checkpoint, f"trainer_state.json is missing or damaged ({error})"
            ) from None
        if state["world_size"] != self.accelerator.num_processes:
            raise RunError(
                f"{checkpoint} was written by {state['world_size']} processes but this run has "
                f"{self.accelerator.num_processes}: resume with the same number of processes "
                "(the data order and per-process RNG states depend on it)"
            )
        return state

    def load_weights(self, checkpoint: Path) -> None:
        """Model weights, optimizer, scheduler and EMA from ``checkpoint`` (before accelerate wraps them)."""
        for name, module in self.modules.items():
            module.load_state_dict(load_file(str(checkpoint / name / "model.safetensors")), strict=True)
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(torch.load(checkpoint / f"optimizer-{name}.pt", weights_only=True))
        for name, scheduler in self.schedulers.items():
            try:
                scheduler.load_state_dict(load_scheduler_file(checkpoint / f"scheduler-{name}.json"))
            except CheckpointFormatError as error:
                raise self._unreadable(checkpoint, str(error)) from None
        if self.ema is not None:
            self.ema.load_state_dict(load_file(str(checkpoint / "ema.safetensors")))

    def restore_rng(self, checkpoint: Path) -> None:
        """Every RNG state of this process, from tensors and plain numbers (never a pickle)."""
        try:
            state = load_rng_file(checkpoint / "rng" / f"rank-{self.accelerator.process_index}.safetensors")
        except CheckpointFormatError as error:
            raise self._unreadable(checkpoint, str(error)) from None
        restore_rng(state, self.generators)

    def _disk_full(self, error: BaseException) -> RunError:
        previous = latest_checkpoint(self.run_dir)
        if previous is None:
            where = "no checkpoint of this run was complete yet; free some space and start it again"
        else:
            where = (
                f"the previous checkpoint {previous} is intact: free some space, then run the same command "
                f"with --resume to continue from step {int(previous.name.split('-')[1])}"
            )
        detail = " ".join(str(error).split())[:200]
        return RunError(f"the disk holding {self.run_dir} is full ({detail}); {where}")

    # ------------------------------------------------------------------------------------ loop
    def _loader(self, dataset: Dataset, start: int) -> DataLoader:
        acc = self.accelerator
        accum = self.config.train.grad_accum_steps
        # one sampler "step" per micro-batch: step s, micro-batch m reads micro-step s * accum + m
        sampler = StepBatchSampler(
            len(dataset),  # type: ignore[arg-type]
            self.config.train.batch_size,
            acc.num_processes,
            acc.process_index,
            self.config.train.seed,
            start * accum,
            self.config.train.steps * accum,
        )
        workers = self.config.data.num_workers
        return DataLoader(
            EpochIndexed(dataset),
            batch_sampler=sampler,
            num_workers=workers,
            pin_memory=acc.device.type == "cuda",
            persistent_workers=False,
        )

    def _log(self, record: dict[str, Any]) -> None:
        if self.is_main:
            self.metrics.write(record)
        scalars = {k: v for k, v in record.items() if isinstance(v, int | float) and k not in ("step",)}
        if self.config.train.trackers:
            self.accelerator.log(scalars, step=self.step)

    def run(self) -> TrainResult:
        """Train to ``train.steps`` (resuming when asked), writing checkpoints, metrics and validations."""
        acc = self.accelerator
        resume_from = self._check_run_dir()
        self._init_run_dir(resume_from)
        if self.config.train.trackers:
            acc.init_trackers(self.stage, config=json.loads(json.dumps(self.config.model_dump(mode="json"))))
        if self.is_main:
            train = self.config.train
            print(
                f"global batch {self.global_batch} = {train.batch_size} per process x "
                f"{acc.num_processes} processes x {train.grad_accum_steps} accumulation steps",
                flush=True,
            )
        self.prepare_data()
        state: dict[str, Any] | None = None
        if resume_from is not None:
            state = self._read_state(resume_from)
            self.attempt = int(state["attempt"])
            self.load_extra_state(state.get("extra", {}))
        last_log: dict[str, Any] = {}
        while True:
            self.build()
            self.step = 0
            if resume_from is not None and state is not None:
                self.load_weights(resume_from)
                self.step = int(state["step"])
            self._wrap()
            if resume_from is not None and state is not None:
                self.restore_rng(resume_from)
                self.restore_stream(resume_from)
                if self.is_main:
                    self.metrics.truncate_after(self.attempt, self.step)
                    print(f"resumed from {resume_from} (attempt {self.attempt}, step {self.step})")
                resume_from, state = None, None
            acc.wait_for_everyone()
            try:
                restart, last_log = self._run_attempt()
            except Exception as error:
                if is_disk_full(error):
                    raise self._disk_full(error) from None
                raise
            if not restart:
                break
            self.attempt += 1
        if self.config.train.trackers:
            acc.end_training()
        return TrainResult(self.run_dir, self.step, self.attempt + 1, last_log, self.last_validation)

    def _wrap(self) -> None:
        """Hand the trainable module and optimizers to accelerate (DDP, device placement, autocast)."""
        acc = self.accelerator
        names = list(self.optimizers)
        prepared = acc.prepare(self.train_module, *[self.optimizers[n] for n in names])
        self.train_module = prepared[0]
        for name, optimizer in zip(names, prepared[1:], strict=True):
            self.optimizers[name] = optimizer
        self.after_wrap()

    def after_wrap(self) -> None:  # noqa: B027 (an optional hook, empty by default)
        """Hook: move extra modules (frozen encoders, discriminators) once accelerate has placed the model."""

    @property
    def global_batch(self) -> int:
        """Samples per optimizer step over every process: batch_size x processes x grad_accum_steps."""
        train = self.config.train
        return train.batch_size * self.accelerator.num_processes * train.grad_accum_steps

    def stream_state(self) -> dict[str, Any]:
        """The main process's position in the streamed dataset (trainer_state.json, for reading only: each
        process resumes from its own ``stream/rank-R.json``)."""
        return {} if self.stream is None else {"stream": self.stream.position.to_json()}

    def restore_stream(self, checkpoint: Path) -> None:
        """This process's stream position (plain JSON) from ``checkpoint``."""
        if self.stream is None:
            return
        path = checkpoint / "stream" / f"rank-{self.accelerator.process_index}.json"
        try:
            self.stream.position = StreamPosition.from_json(json.loads(path.read_text()))
        except (OSError, ValueError) as error:
            raise self._unreadable(checkpoint, f"no valid stream position ({error})") from None

    def stream_batches(self, start: int, decode: Any) -> Iterable[dict[str, Any]]:
        """data.streaming: this process's (micro-)batches of steps ``start`` ..; a run from step 0 (a new run
        or a guard restart) starts the stream from its beginning, a resume from the restored position."""
        assert self.stream is not None
        if start == 0:
            self.stream.position = StreamPosition()
        train = self.config.train
        count = (train.steps - start) * train.grad_accum_steps
        return self.stream.batches(train.batch_size, count, decode)

    def _optimizer_step(self, micro_batches: list[Any]) -> dict[str, float]:
        """One optimizer step over ``grad_accum_steps`` micro-batches; logs averaged over them (the gradient
        norm is the last one's: only the last micro-batch steps)."""
        if len(micro_batches) == 1:
            return self.train_step(micro_batches[0])
        assert self.train_module is not None
        records = []
        for batch in micro_batches:
            with self.accelerator.accumulate(self.train_module):
                records.append(self.train_step(batch))
        logs = dict(records[-1])
        for key in logs:
            if all(key in r for r in records):
                logs[key] = sum(r[key] for r in records) / len(records)
        return logs

    def _run_attempt(self) -> tuple[bool, dict[str, Any]]:
        train = self.config.train
        micro = iter(self.batches(self.step))
        accum = train.grad_accum_steps
        loader = ([first, *itertools.islice(micro, accum - 1)] for first in micro)
        bar = tqdm(
            total=train.steps,
            initial=self.step,
            desc=f"{self.stage}" + (f" attempt {self.attempt}" if self.attempt else ""),
            unit="step",
            disable=not (self.is_main and self.show_progress),
            dynamic_ncols=True,
        )
        last_log: dict[str, Any] = {}
        tick, tick_step = time.perf_counter(), self.step
        try:
            for group in loader:
                logs = self._optimizer_step(group)
                self.step += 1
                if self.ema is not None and self.train_module is not None:
                    self.ema.update(self.accelerator.unwrap_model(self.train_module))
                bar.update(1)
                bar.set_postfix(loss=f"{logs.get('loss', float('nan')):.4f}", refresh=False)
                if self.step % train.log_every == 0 or self.step == train.steps:
                    now = time.perf_counter()
                    rate = (self.step - tick_step) / max(now - tick, 1e-9)
                    tick, tick_step = now, self.step
                    lr = self.schedulers["main"].get_last_lr()[0]
                    last_log = {"attempt": self.attempt, "step": self.step, **logs, "lr": lr}
                    last_log["steps_per_s"] = round(rate, 4)
                    self._log(last_log)
                restart = False
                scheduled = train.val_every and (self.step % train.val_every == 0 or self.step == train.steps)
                if scheduled or self.wants_validation():
                    restart = self._validate()
                if restart:
                    return True, last_log
                if self.step % train.checkpoint_every == 0 or self.step == train.steps:
                    self.save_checkpoint()
        finally:
            bar.close()
        return False, last_log

    def _validate(self) -> bool:
        acc = self.accelerator
        record: dict[str, Any] = {}
        if self.is_main:
            record = {"attempt": self.attempt, "step": self.step, "event": "validation", **self.validate()}
            self.metrics.write(record)
            self.last_validation = record
            if self.config.train.trackers:
                acc.log({k: v for k, v in record.items() if isinstance(v, int | float)}, step=self.step)
        from accelerate.utils import broadcast_object_list

        shared = [record]
        if acc.num_processes > 1:
            broadcast_object_list(shared, from_process=0)
        restart = self.after_validation(shared[0])
        acc.wait_for_everyone()
        return restart

    def completed_checkpoints(self) -> list[tuple[int, Path]]:
        return complete_checkpoints(self.run_dir)
