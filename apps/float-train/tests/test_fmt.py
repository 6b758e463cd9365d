"""Stage 2 on cached latents of real clips, and the export to a bundle float-generate loads."""

from __future__ import annotations

import math
from pathlib import Path

import av
import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from float_motion_ae import MotionAutoEncoder
from float_pipeline import load_bundle
from float_train.cli import app
from float_train.config import ConfigError, load_config
from float_train.fmt import FMTTrainer, cache_fingerprint

runner = CliRunner()


def test_fmt_trains_validates_samples_and_exports(fmt_config, tmp_path: Path, read_losses) -> None:
    run = tmp_path / "fmt"
    config = load_config(fmt_config(run, train={"steps": 40, "val_every": 40, "checkpoint_every": 20}), "fmt")
    result = FMTTrainer(config, show_progress=False).run()
    values = [loss for _, _, loss in read_losses(run)]
    assert len(values) == 40 and all(math.isfinite(v) for v in values)
    assert sum(values[-10:]) / 10 < 0.8 * sum(values[:10]) / 10, values
    validation = result.last_validation
    assert validation["val_windows"] == 4 and math.isfinite(validation["val_loss"])
    sample = Path(validation["sample"])
    assert sample == run / "samples" / "step-0000040.mp4"
    with av.open(str(sample)) as container:
        frames = sum(1 for _ in container.decode(video=0))
        assert container.streams.video[0].width == 32 and container.streams.audio
    assert frames == 12
    caches = list((run / "cache").glob("*/*.safetensors"))
    assert len(caches) == 3  # two training clips and the validation clip, encoded once
    cached = load_file(str(caches[0]))
    assert cached["motion"].shape[1] == 32 and cached["audio"].shape[1] == 16
    assert torch.allclose(cached["emotion"], torch.tensor([0, 0, 0, 0, 1.0, 0, 0]))

    out = tmp_path / "bundle"
    done = runner.invoke(app, ["export", str(run), str(out)])
    assert done.exit_code == 0, done.output
    bundle = load_bundle(out)
    assert bundle.resolution == 32 and bundle.manifest.license == "apache-2.0"
    assert bundle.manifest.audio.kind == "logmel" and bundle.manifest.defaults.steps == 2
    trained = load_file(str(run / "checkpoints" / "step-0000040" / "flow" / "model.safetensors"))
    assert torch.equal(bundle.flow.state_dict()["c_embedder.weight"], trained["c_embedder.weight"])
    card = (out / "README.md").read_text()
    assert "license: apache-2.0" in card and "train: 2 videos" in card and "val_loss" in card
    assert "(frozen during stage 2; loaded from `" in card  # which stage-1 model the bundle carries
    features = bundle.audio_features(torch.randn(1, 16000) * 0.1)
    assert features.shape == (1, 25, 16)
    again = runner.invoke(app, ["export", str(run), str(out)])
    assert again.exit_code == 2 and "--overwrite" in again.output
    assert runner.invoke(app, ["export", str(run), str(out), "--overwrite"]).exit_code == 0


def test_fmt_checks_the_motion_width_against_the_auto_encoder(fmt_config, tmp_path: Path) -> None:
    config = load_config(fmt_config(tmp_path / "bad", model={"dim_motion": 64}), "fmt")
    with pytest.raises(ConfigError, match=r"model.dim_motion: .* latent_dim 32; set model.dim_motion: 32"):
        FMTTrainer(config, show_progress=False).run()


def test_export_refuses_a_stage_one_run(ae_run: Path, tmp_path: Path) -> None:
    done = runner.invoke(app, ["export", str(ae_run), str(tmp_path / "b")])
    assert done.exit_code == 2 and "needs a stage-2 run dir" in done.output


def test_export_writes_the_configured_generation_defaults_and_card(fmt_config, tmp_path: Path) -> None:
    # sample: steps, solver and guidance scales; export: emotion and the portrait crop (demo-fmt.yaml's keys)
    run = tmp_path / "fmt"
    extra = {
        "train": {"steps": 2},
        "sample": {"frames": 0, "nfe": 4, "method": "midpoint", "audio_scale": 1.5},
        "export": {"emotion": "happy", "crop_scale": 1.71, "crop_phases": 4},
    }
    FMTTrainer(load_config(fmt_config(run, **extra), "fmt"), show_progress=False).run()
    card = tmp_path / "CARD.md"
    card.write_text("# my card\n")
    out = tmp_path / "bundle"
    done = runner.invoke(app, ["export", str(run), str(out), "--card", str(card)])
    assert done.exit_code == 0, done.output
    defaults = load_bundle(out).manifest.defaults
    assert (defaults.steps, defaults.method, defaults.audio_scale, defaults.emotion_scale) == (
        4,
        "midpoint",
        1.5,
        1.0,
    )
    assert (defaults.emotion, defaults.crop_scale, defaults.crop_phases) == ("happy", 1.71, 4)
    assert (out / "README.md").read_text() == "# my card\n"
    no_card = ["--card", str(tmp_path / "no.md")]
    missing = runner.invoke(app, ["export", str(run), str(tmp_path / "b2"), *no_card])
    assert missing.exit_code == 2 and "no.md does not exist" in missing.output
    with pytest.raises(ConfigError, match="nfe must be even"):
        load_config(fmt_config(tmp_path / "odd", sample={"nfe": 3, "method": "midpoint"}), "fmt")


def test_export_ships_a_renderer_fine_tuned_after_stage_2_only_if_its_latents_are_the_runs(
    fmt_config, tmp_path: Path
) -> None:
    run = tmp_path / "fmt"
    FMTTrainer(load_config(fmt_config(run, train={"steps": 2}), "fmt"), show_progress=False).run()
    trained = MotionAutoEncoder.from_pretrained(str(run / "motion_ae"))
    probe = MotionAutoEncoder(trained.config)
    probe.freeze_motion()
    decoder = next(n for n, p in probe.named_parameters() if p.requires_grad and n.startswith("dec."))
    encoder = next(n for n, p in probe.named_parameters() if not p.requires_grad)
    with torch.no_grad():
        dict(trained.named_parameters())[decoder].add_(0.5)
    trained.save_pretrained(tmp_path / "renderer")
    out = tmp_path / "bundle"
    done = runner.invoke(app, ["export", str(run), str(out), "--renderer", str(tmp_path / "renderer")])
    assert done.exit_code == 0, done.output
    shipped = dict(load_bundle(out).motion_ae.named_parameters())
    assert torch.equal(shipped[decoder], dict(trained.named_parameters())[decoder])
    assert "renderer from renderer" in load_bundle(out).manifest.description
    # an encoder that moved would feed the flow latents it never learned: refused, naming the tensor
    with torch.no_grad():
        dict(trained.named_parameters())[encoder].add_(0.5)
    trained.save_pretrained(tmp_path / "moved")
    refused = runner.invoke(
        app, ["export", str(run), str(tmp_path / "b2"), "--renderer", str(tmp_path / "moved")]
    )
    assert refused.exit_code == 2 and "motion-basis tensors differ" in refused.output
    assert encoder in refused.output and not (tmp_path / "b2").exists()


def test_the_cache_batch_size_is_part_of_the_cache_fingerprint(tmp_path: Path) -> None:
    # it can change the latents' float rounding; the default keeps the fingerprints of existing caches
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"weights")
    default = cache_fingerprint(weights, "logmel", {"name": "fixed"})
    assert cache_fingerprint(weights, "logmel", {"name": "fixed"}, 16) == default
    assert cache_fingerprint(weights, "logmel", {"name": "fixed"}, 64) != default
