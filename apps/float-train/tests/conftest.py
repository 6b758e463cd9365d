"""Shared test data for float-train: a tiny prepared dataset of real faces and speech, built once.

Three 64 px talking clips from the offline corpus builder (the astronaut portrait, espeak-ng speech,
motion driven by that speech; ~3 s each) go through ``float-data``'s real preparation (dlib face crop to
32 px, 25 fps, 16 kHz): two land in ``train``, one in ``val``. Plus config writers for tiny models.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

# One thread per process: the runs are tiny, and the bit-exact resume checks compare runs made by
# different processes, whose reductions must be summed in the same order.
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def prepared_dir(tmp_path_factory: pytest.TempPathFactory, require_tool: Callable[[str], str]) -> Path:
    for tool in ("espeak-ng", "ffmpeg"):
        require_tool(tool)
    from float_data import PrepareConfig, PreparedDataset, prepare_dataset
    from float_tools.corpus import DEFAULT_SENTENCES, CorpusConfig, build_corpus, read_sentences

    root = tmp_path_factory.mktemp("float_train_data")
    corpus = CorpusConfig(
        portraits=["astronaut"],
        voices=["en-us", "en-gb"],
        sentences=read_sentences(DEFAULT_SENTENCES),
        n_clips=3,
        seed=0,
        resolution=64,
    )
    build_corpus(corpus, root / "corpus", log=lambda _: None)
    config = PrepareConfig(crop_size=32, val_fraction=0.34, test_fraction=0.0, detector="dlib")
    prepare_dataset(root / "corpus", root / "prepared", config)
    prepared = PreparedDataset(root / "prepared")
    assert len(prepared.videos_in("train")) == 2 and len(prepared.videos_in("val")) == 1
    return root / "prepared"


TINY_AE = {
    "size": 32,
    "latent_dim": 32,
    "motion_dim": 8,
    "channel_base": 512,
    "channel_max": 16,
    "motion_layers": 2,
}
TINY_FMT = {
    "dim_motion": 32,
    "dim_hidden": 32,
    "depth": 1,
    "num_heads": 2,
    "num_frames": 10,
    "num_prev_frames": 2,
    "dim_audio": 16,
    "freq_dim": 32,
}


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


WriteConfig = Callable[..., Path]


@pytest.fixture
def ae_config(prepared_dir: Path, tmp_path: Path) -> WriteConfig:
    """``ae_config(run_dir, **overrides)`` writes a tiny stage-1 YAML config and returns its path."""

    def write(run_dir: Path, **extra: Any) -> Path:
        data = {
            "run_dir": str(run_dir),
            "data": {"root": str(prepared_dir)},
            "model": TINY_AE,
            "loss": {"perceptual": 0, "component": 0},
            "optim": {"lr": 0.002},
            "train": {
                "steps": 8,
                "batch_size": 4,
                "checkpoint_every": 4,
                "keep_last": 2,
                "log_every": 1,
                "val_every": 0,
            },
            "val_pairs": 8,
        }
        path = tmp_path / f"ae-{run_dir.name}.yaml"
        path.write_text(yaml.safe_dump(deep_merge(data, extra)))
        return path

    return write


@pytest.fixture(scope="session")
def ae_run(prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny stage-1 run (the frozen auto-encoder of the stage-2 tests)."""
    from float_train.ae import AETrainer
    from float_train.config import validate_config

    run_dir = tmp_path_factory.mktemp("ae_run") / "run"
    config = validate_config(
        {
            "run_dir": str(run_dir),
            "data": {"root": str(prepared_dir)},
            "model": TINY_AE,
            "loss": {"perceptual": 0, "component": 0},
            "optim": {"lr": 0.002},
            "train": {"steps": 6, "batch_size": 4, "checkpoint_every": 6, "log_every": 1, "val_every": 0},
        },
        "ae",
    )
    AETrainer(config, show_progress=False).run()
    return run_dir


@pytest.fixture
def fmt_config(prepared_dir: Path, ae_run: Path, tmp_path: Path) -> WriteConfig:
    """``fmt_config(run_dir, **overrides)`` writes a tiny stage-2 YAML config and returns its path."""

    def write(run_dir: Path, **extra: Any) -> Path:
        data = {
            "run_dir": str(run_dir),
            "data": {"root": str(prepared_dir)},
            "motion_ae": str(ae_run),
            "audio": {"kind": "logmel", "settings": {"n_mels": 16}},
            "model": TINY_FMT,
            "optim": {"lr": 0.003},
            "train": {
                "steps": 8,
                "batch_size": 4,
                "checkpoint_every": 4,
                "keep_last": 2,
                "log_every": 1,
                "val_every": 0,
            },
            "val_windows": 4,
            "sample": {"frames": 12, "nfe": 2},
        }
        path = tmp_path / f"fmt-{run_dir.name}.yaml"
        path.write_text(yaml.safe_dump(deep_merge(data, extra)))
        return path

    return write


def _losses(run_dir: Path) -> list[tuple[int, int, float]]:
    from float_train.metrics import MetricsLog

    return [
        (r["attempt"], r["step"], r["loss"])
        for r in MetricsLog(run_dir / "metrics.jsonl").read()
        if "loss" in r and "event" not in r
    ]


@pytest.fixture(scope="session")
def read_losses() -> Callable[[Path], list[tuple[int, int, float]]]:
    """``read_losses(run_dir)``: (attempt, step, loss) of every training record in metrics.jsonl."""
    return _losses
