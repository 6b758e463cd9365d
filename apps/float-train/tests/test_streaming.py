"""data.streaming: both stages read a Hugging Face datasets stream, shuffled with a buffer, and a resume
neither repeats nor skips a sample (the stream position is plain JSON in the checkpoint)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from float_train.ae import AETrainer
from float_train.checkpoint import MARKER, complete_checkpoints
from float_train.config import ConfigError, load_config
from float_train.fmt import FMTTrainer


class _RecordingAE(AETrainer):
    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        ids = zip(
            batch["video_id"], batch["driving_index"].tolist(), batch["source_index"].tolist(), strict=True
        )
        self.seen.append([f"{v}:{d}<-{s}" for v, d, s in ids])
        return super().train_step(batch)


class _RecordingFMT(FMTTrainer):
    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        self.seen.append(
            [f"{v}:{s}" for v, s in zip(batch["video_id"], batch["start"].tolist(), strict=True)]
        )
        return super().train_step(batch)


def _run(trainer_class: type, config_file: Path, stage: str, resume: bool = False) -> Any:
    trainer = trainer_class(load_config(config_file, stage), resume=resume, show_progress=False)
    trainer.seen = []
    trainer.run()
    return trainer


STREAM = {"streaming": True, "shuffle_buffer": 16}


@pytest.mark.parametrize("stage", ["ae", "fmt"])
def test_a_streamed_run_resumes_without_repeating_or_skipping(
    stage: str, ae_config, fmt_config, tmp_path: Path, read_losses
) -> None:
    """8 steps in one go against 6 steps whose step-6 checkpoint is lost (as a kill while saving), then a
    resume from step 4 to 8: the same samples in the same order and the same losses. Stage 2's 15 windows
    (batch 4) make the 8 steps cross two epoch boundaries."""
    write, trainer_class = (ae_config, _RecordingAE) if stage == "ae" else (fmt_config, _RecordingFMT)
    full, cut = tmp_path / "full", tmp_path / "cut"
    reference = _run(trainer_class, write(full, data=STREAM, train={"steps": 8}), stage)
    first = _run(trainer_class, write(cut, data=STREAM, train={"steps": 6}), stage)
    (cut / "checkpoints" / "step-0000006" / MARKER).unlink()
    position = json.loads((cut / "checkpoints" / "step-0000004" / "stream" / "rank-0.json").read_text())
    frames = sum(e.n_frames for e in reference.prepared.videos_in("train"))
    epoch_size = len(reference.windows) if stage == "fmt" else frames
    assert position == dict(zip(("epoch", "offset"), divmod(16, epoch_size), strict=True))
    resumed = _run(trainer_class, write(cut, data=STREAM, train={"steps": 8}), stage, resume=True)
    assert first.seen[:4] + resumed.seen == reference.seen
    assert first.seen[4:6] == reference.seen[4:6]  # the lost steps had read what the resume reads again
    assert [s for s, _ in complete_checkpoints(cut)] == [4, 8]
    full_losses, cut_losses = read_losses(full), read_losses(cut)
    assert [s for _, s, _ in cut_losses] == list(range(1, 9))
    assert [loss for *_, loss in cut_losses] == [loss for *_, loss in full_losses]
    flat = [sample for batch in reference.seen for sample in batch]
    if stage == "fmt":  # every window once per epoch, in a shuffled order
        windows = sorted(f"{v}:{s}" for v, s in reference.windows.index)
        n = len(windows)
        assert n == 15 and sorted(flat[:n]) == windows and sorted(flat[n : 2 * n]) == windows
        assert flat[:n] != windows and flat[:n] != flat[n : 2 * n]
    else:
        assert frames == 163 and len(set(flat)) == len(flat)  # 32 of the 163 training frames, none twice


def test_shards_stream_from_an_fsspec_url(ae_config, prepared_dir: Path, tmp_path: Path) -> None:
    """The frames shards copied to fsspec's in-memory file system (an object store stand-in) and only the
    manifest left on disk: the run reads the same pairs as from the prepared folder itself."""
    import fsspec

    memory = fsspec.filesystem("memory")
    remote = "memory://float-train-test/prepared"
    for path in sorted((prepared_dir / "data" / "frames").rglob("*.parquet")):
        memory.pipe(f"{remote}/{path.relative_to(prepared_dir).as_posix()}", path.read_bytes())
    manifest_only = tmp_path / "manifest-only"
    manifest_only.mkdir()
    shutil.copy(prepared_dir / "manifest.jsonl", manifest_only)
    train = {"steps": 2, "checkpoint_every": 2}
    local = _run(_RecordingAE, ae_config(tmp_path / "local", data=STREAM, train=train), "ae")
    data = {**STREAM, "root": str(manifest_only), "shards_url": remote}
    streamed = _run(_RecordingAE, ae_config(tmp_path / "url", data=data, train=train), "ae")
    assert streamed.seen == local.seen
    memory.rm("memory://float-train-test", recursive=True)


@pytest.mark.parametrize(
    ("stage", "data", "message"),
    [
        ("ae", {"streaming": True, "pair_sampling": "video"}, "streaming reads pairs"),
        ("fmt", {"streaming": True, "window_sampling": "random"}, "streaming reads grid windows"),
        ("ae", {"shards_url": "s3://bucket/prepared"}, "set streaming: true"),
        (
            "fmt",
            {"streaming": True, "shards_url": "s3://bucket/prepared"},
            "stage 2 streams its latent cache",
        ),
        ("ae", {"streaming": True, "shards_url": "s3://b/p"}, "set data.val_root"),
    ],
)
def test_streaming_settings_that_cannot_work_are_refused(
    stage: str, data: dict, message: str, ae_config, fmt_config, tmp_path: Path
) -> None:
    write = ae_config if stage == "ae" else fmt_config
    train = {"val_every": 4}
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path / "run", data=data, train=train), stage)


def test_a_streamed_stage_1_measures_the_latent_scale_on_streamed_frames(ae_config, tmp_path: Path) -> None:
    run = tmp_path / "run"
    config = ae_config(run, data=STREAM, train={"steps": 2, "checkpoint_every": 2}, coeff_std=0.5)
    AETrainer(load_config(config, "ae"), show_progress=False).run()
    assert (run / "motion_ae" / "model.safetensors").is_file()
