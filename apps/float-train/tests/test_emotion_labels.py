"""Stage 2 with the dataset's emotion labels (``emotion: {source: labels}``) instead of a predictor."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from float_train.config import ConfigError, EmotionLabels, load_config
from float_train.fmt import FMTTrainer, cache_fingerprint

HAPPY, SAD = [0, 0, 0, 1.0, 0, 0, 0], [0, 0, 0, 0, 0, 1.0, 0]


@pytest.fixture(scope="module")
def labelled_dir(prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny prepared dataset with a label per video in its manifest (as `--labels-file` writes it)."""
    root = tmp_path_factory.mktemp("labelled") / "prepared"
    shutil.copytree(prepared_dir, root, ignore=shutil.ignore_patterns(".hf_cache"))
    rows = [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines() if line]
    for k, row in enumerate(rows):
        row["emotion"] = HAPPY if k % 2 == 0 else SAD
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


@pytest.mark.parametrize("sampling", ["grid", "random"])
def test_labels_replace_the_predictor_and_have_their_own_cache(
    sampling: str, fmt_config, labelled_dir: Path, tmp_path: Path
) -> None:
    data = {"root": str(labelled_dir), "window_sampling": sampling}
    path = fmt_config(
        tmp_path / "run", data=data, emotion={"source": "labels"}, train={"steps": 2, "val_every": 2}
    )
    config = load_config(path, "fmt")
    assert isinstance(config.emotion, EmotionLabels)
    trainer = FMTTrainer(config, show_progress=False)
    result = trainer.run()
    assert result.steps == 2 and "val_loss" in result.last_validation
    labels = {e.video_id: e.emotion for e in trainer.prepared.entries}
    window = trainer.windows[0]
    assert window["emotion"].tolist() == labels[window["video_id"]]
    if trainer.clips is not None:
        train_ids = [e.video_id for e in trainer.prepared.videos_in("train")]
        assert [c.tolist() for c in trainer.clips.emotion] == [labels[v] for v in train_ids]
    for file in trainer.cache_dir.glob("*.safetensors"):
        with safe_open(str(file), framework="pt") as handle:
            assert "emotion" not in handle.keys()  # noqa: SIM118 (the cache holds no prediction)
    # the emotion source is part of the cache fingerprint: a predictor's cache is another folder
    ae = trainer.run_dir / "motion_ae" / "model.safetensors"
    audio = trainer.audio_encoder.fingerprint()
    neutral = {"name": "fixed", "options": {"emotion": "neutral"}, "intensity": 1.0}
    assert trainer.cache_dir.name == cache_fingerprint(ae, audio, {"source": "labels"})
    assert cache_fingerprint(ae, audio, neutral) != trainer.cache_dir.name
    assert torch.isfinite(torch.tensor(result.last_log["loss"]))


def test_labels_need_a_label_on_every_video(fmt_config, tmp_path: Path) -> None:
    path = fmt_config(tmp_path / "run", emotion={"source": "labels"}, train={"steps": 1})
    with pytest.raises(ConfigError, match="--labels ravdess"):
        FMTTrainer(load_config(path, "fmt"), show_progress=False).run()


def test_a_misspelt_emotion_source_is_refused(fmt_config, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="emotion"):
        load_config(fmt_config(tmp_path / "run", emotion={"source": "label"}), "fmt")
