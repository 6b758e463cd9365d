"""Keys the demo recipes use: pooled datasets, a separate validation set (both stages), a cosine decay, paired
augmentation, the mouth-band L1, starting weights, renderer-only fine-tuning and the final latent rescale."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
import torch

from float_motion_ae import MotionAutoEncoder
from float_motion_ae.training import coefficient_scale
from float_train.ae import AETrainer, guard_action
from float_train.checkpoint import MARKER, complete_checkpoints, latest_checkpoint
from float_train.config import AEStageConfig, ConfigError, FMTStageConfig, load_config
from float_train.fmt import FMTTrainer
from float_train.loop import RunError, lr_factor
from float_train.metrics import MetricsLog
from float_train.models import FINAL_DIR, load_motion_ae

AUGMENT = {"channel_mix": 0.1, "gain": 0.1, "offset": 0.1, "flip": True, "scale": 0.05, "roll_deg": 4.0}


def _records(run: Path) -> list[dict]:
    return [r for r in MetricsLog(run / "metrics.jsonl").read() if "loss" in r and "event" not in r]


def test_lr_factor_warms_up_then_follows_the_cosine_to_decay_to() -> None:
    assert [lr_factor(s, 4, 20) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]  # constant
    assert lr_factor(4, 4, 20, 0.1) == 1.0  # first step after warm-up: the top of the cosine
    assert lr_factor(12, 4, 20, 0.1) == pytest.approx(0.1 + 0.9 * 0.5)  # half-way
    assert lr_factor(20, 4, 20, 0.1) == pytest.approx(0.1)
    assert lr_factor(500, 4, 20, 0.1) == pytest.approx(0.1)  # past the end it stays at decay_to
    values = [lr_factor(s, 4, 20, 0.1) for s in range(4, 21)]
    assert all(a >= b for a, b in itertools.pairwise(values))


def test_recipe_keys_train_and_resume_bit_for_bit(
    ae_config, prepared_dir: Path, tmp_path: Path, read_losses
) -> None:
    keys = {
        "data": {"extra_roots": [str(prepared_dir)], "val_root": str(prepared_dir)},
        "loss": {"mouth_l1": 2.0},
        "augment": AUGMENT,
        "optim": {"lr": 0.002, "warmup_steps": 2, "decay_to": 0.1},
        "zero_flow_init": True,
        "train": {"steps": 8, "val_every": 8},
    }
    full, cut = tmp_path / "full", tmp_path / "cut"
    result = AETrainer(load_config(ae_config(full, **keys), "ae"), show_progress=False).run()
    records = _records(full)
    assert [r["lr"] for r in records[:2]] == pytest.approx([0.002, 0.002])  # LambdaLR reports the next lr
    assert records[-1]["lr"] == pytest.approx(0.002 * lr_factor(8, 2, 8, 0.1))
    assert records[-2]["lr"] > records[-1]["lr"]
    assert math.isfinite(result.last_validation["val_psnr"])
    # The pool holds root's pairs and the extra set's: twice as many here (the same folder, other draws).
    trainer = AETrainer(load_config(ae_config(tmp_path / "probe", **keys), "ae"), show_progress=False)
    trainer.prepare_data()
    single = AETrainer(load_config(ae_config(tmp_path / "one"), "ae"), show_progress=False)
    single.prepare_data()
    assert len(trainer.pairs) == 2 * len(single.pairs)  # type: ignore[arg-type]
    n = len(single.pairs)  # type: ignore[arg-type]
    first, again = trainer.pairs[0], trainer.pairs[n]
    assert torch.equal(first["driving"], again["driving"])  # same driving frame, drawn from each part
    # Kill after the step-4 checkpoint (step 8's is incomplete), resume: the same losses, augmentation
    # draws included.
    AETrainer(load_config(ae_config(cut, **keys), "ae"), show_progress=False).run()
    (cut / "checkpoints" / "step-0000008" / MARKER).unlink()
    assert [s for s, _ in complete_checkpoints(cut)] == [4]
    AETrainer(load_config(ae_config(cut, **keys), "ae"), resume=True, show_progress=False).run()
    assert read_losses(cut) == read_losses(full)
    # The cosine spans train.steps, so changing them is no longer a free resume.
    with pytest.raises(RunError, match=r"train\.steps"):
        longer = keys | {"train": {"steps": 12, "val_every": 8}}
        AETrainer(load_config(ae_config(cut, **longer), "ae"), resume=True, show_progress=False).run()


def test_augment_and_mouth_l1_change_the_loss(ae_config, tmp_path: Path, read_losses) -> None:
    def first_loss(name: str, **extra) -> float:
        run = tmp_path / name
        AETrainer(load_config(ae_config(run, train={"steps": 1}, **extra), "ae"), show_progress=False).run()
        return read_losses(run)[0][2]

    plain = first_loss("plain")
    assert first_loss("plain_again") == plain
    assert first_loss("mouth", loss={"mouth_l1": 2.0}) > plain  # the same errors, the mouth band counted 3x
    assert first_loss("augmented", augment=AUGMENT) != plain


def test_zero_flow_init_starts_from_the_identity_warp(ae_config, tmp_path: Path) -> None:
    trainer = AETrainer(
        load_config(ae_config(tmp_path / "zero", zero_flow_init=True), "ae"), show_progress=False
    )
    trainer.build()
    heads = trainer.modules["model"].dec.to_flows  # type: ignore[union-attr]
    assert all(h.conv.weight.abs().sum() == 0 and h.bias.abs().sum() == 0 for h in heads)


def test_renderer_only_fine_tune_keeps_the_motion_latents(ae_config, ae_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "decoder"
    config = load_config(ae_config(run, init_from=str(ae_run), trainable="decoder", train={"steps": 4}), "ae")
    AETrainer(config, show_progress=False).run()
    start, _ = load_motion_ae(ae_run)
    tuned, _ = load_motion_ae(run)
    before, after = start.state_dict(), tuned.state_dict()
    encoder = [k for k in before if k.startswith("enc.") or k.startswith("dec.direction")]
    assert encoder and all(torch.equal(before[k], after[k]) for k in encoder)
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("dec.to_rgb"))
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(tuned.encode(images).coeffs, start.encode(images).coeffs)


def test_init_from_must_match_and_decoder_needs_it(ae_config, ae_run: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="trainable: decoder fine-tunes a trained model"):
        load_config(ae_config(tmp_path / "a", trainable="decoder"), "ae")
    with pytest.raises(ConfigError, match="leave coeff_std unset"):
        load_config(
            ae_config(tmp_path / "b", init_from=str(ae_run), trainable="decoder", coeff_std=1.0), "ae"
        )
    with pytest.raises(ConfigError, match=r"init_from.*does not exist"):
        load_config(ae_config(tmp_path / "c", init_from=str(tmp_path / "nowhere")), "ae")
    wider = ae_config(tmp_path / "d", init_from=str(ae_run), model={"latent_dim": 48})
    with pytest.raises(ConfigError, match="set model to it"):
        AETrainer(load_config(wider, "ae"), show_progress=False).run()


def test_coeff_std_writes_a_rescaled_final_model_stage_2_reads(ae_config, fmt_config, tmp_path: Path) -> None:
    run = tmp_path / "scaled"
    AETrainer(load_config(ae_config(run, coeff_std=1.0), "ae"), show_progress=False).run()
    final = run / FINAL_DIR
    assert (final / "config.json").is_file() and (final / "rescaled_from.json").is_file()
    checkpoint = latest_checkpoint(run)
    assert checkpoint is not None
    raw = MotionAutoEncoder.from_pretrained(str(checkpoint / "model"))
    scaled, origin = load_motion_ae(run)
    assert "latents x" in origin
    images = torch.rand(6, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        # the renders are those of the trained model; only the latent scale changed
        torch.testing.assert_close(
            scaled.reconstruct(images[:1], images), raw.reconstruct(images[:1], images), rtol=1e-4, atol=1e-4
        )
    trainer = AETrainer(load_config(ae_config(run, coeff_std=1.0), "ae"), show_progress=False)
    trainer.prepare_data()
    assert coefficient_scale(scaled, trainer._scale_sample()) == pytest.approx(1.0, rel=1e-3)
    # stage 2 reads the rescaled model through the run dir

    fmt_run = tmp_path / "fmt"
    FMTTrainer(
        load_config(fmt_config(fmt_run, motion_ae=str(run), train={"steps": 2}), "fmt"), show_progress=False
    ).run()
    assert (fmt_run / "checkpoints").is_dir()
    # a checkpoint newer than the rescaled model (an unfinished longer run) is refused, not silently used
    (final / "rescaled_from.json").write_text('{"checkpoint": "step-0000004", "latent_scale": 2.0}')
    with pytest.raises(ConfigError, match="--resume"):
        load_motion_ae(run)


def test_stage_2_refuses_pooled_training_data(fmt_config, prepared_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="extra_roots is a stage-1 setting"):
        load_config(fmt_config(tmp_path / "f", data={"extra_roots": [str(prepared_dir)]}), "fmt")


def test_stage_2_validates_on_a_separate_dataset(fmt_config, prepared_dir: Path, tmp_path: Path) -> None:
    # val_root's "train" split (2 clips) instead of root's "val" split (1 clip): cached apart, as the video
    # ids of two datasets may collide, and used for both the validation windows and the sample clip
    run = tmp_path / "fmt_val_root"
    data = {"root": str(prepared_dir), "val_root": str(prepared_dir), "val_split": "train"}
    config = load_config(
        fmt_config(run, data=data, train={"steps": 2, "val_every": 2}, val_windows=64), "fmt"
    )
    trainer = FMTTrainer(config, show_progress=False)
    result = trainer.run()
    main_cache = [d for d in (run / "cache").iterdir() if not d.name.endswith("-val")]
    val_cache = [d for d in (run / "cache").iterdir() if d.name.endswith("-val")]
    assert len(main_cache) == 1 and [d.name for d in val_cache] == [f"{main_cache[0].name}-val"]
    assert len(list(main_cache[0].glob("*.safetensors"))) == 2  # root's val clip is not encoded
    assert sorted(p.name for p in val_cache[0].glob("*.safetensors")) == sorted(
        p.name for p in main_cache[0].glob("*.safetensors")
    )
    # every window of the two clips is scored (the val split of root has fewer)
    assert result.last_validation["val_windows"] == len(trainer.windows) > 0
    assert Path(result.last_validation["sample"]).is_file()


def test_the_committed_demo_configs_validate(
    prepared_dir: Path, ae_run: Path, tmp_path: Path, monkeypatch
) -> None:
    # apps/float-train/configs/demo-*.yaml with their relative folders laid out under a work dir
    configs = Path(__file__).parents[1] / "configs"
    for name in ("train", "train_extra", "val"):
        (tmp_path / "prepared").mkdir(exist_ok=True)
        (tmp_path / "prepared" / name).symlink_to(prepared_dir)
    (tmp_path / "runs").mkdir()
    for name in ("ae_float_train", "ae_phase1", "ae"):
        (tmp_path / "runs" / name).symlink_to(ae_run)
    monkeypatch.chdir(tmp_path)
    fmt = load_config(configs / "demo-cpu-fmt.yaml", "fmt")
    assert fmt.motion_ae == Path("runs/ae_float_train") and fmt.data.val_root == Path("prepared/val")
    # the embedded bundle's recipe: per-video pairs and random windows, drawn as it was trained
    ae = load_config(configs / "demo-ae.yaml", "ae")
    tune = load_config(configs / "demo-ae-finetune.yaml", "ae")
    demo = load_config(configs / "demo-fmt.yaml", "fmt")
    assert isinstance(ae, AEStageConfig) and isinstance(tune, AEStageConfig)
    assert isinstance(demo, FMTStageConfig) and isinstance(fmt, FMTStageConfig)
    assert ae.data.pair_sampling == tune.data.pair_sampling == "video"
    assert demo.data.window_sampling == "random" and demo.model.dim_motion == ae.model.latent_dim
    assert tune.init_from == Path("runs/ae_phase1") and demo.motion_ae == Path("runs/ae")
    assert tune.model == ae.model and tune.augment == ae.augment and tune.loss == ae.loss  # phase 2 continues
    assert ae.coeff_std is None and tune.coeff_std == 1.0  # latents are rescaled once, at the very end
    assert ae.guard is not None and ae.guard.at_step < ae.train.steps
    assert (ae.train.threads, demo.train.threads, demo.train.device) == (2, 1, "cpu")
    assert (demo.sample.nfe, demo.sample.method, demo.export.emotion, demo.export.crop_scale) == (
        10,
        "euler",
        "neutral",
        1.6,
    )
    # the one-hour recipe's stage 2 is the demo's: every shared number stays the same
    for section in ("model", "loss", "optim", "audio", "sample", "export"):
        assert getattr(fmt, section) == getattr(demo, section), section
    same = {"steps", "batch_size", "seed", "val_every", "log_every"}
    assert fmt.train.model_dump(include=same) == demo.train.model_dump(include=same)
    assert fmt.val_windows == demo.val_windows

    cfg = load_config(configs / "demo-cpu-ae.yaml", "ae")  # the one-hour recipe: the demo's model and data
    assert isinstance(cfg, AEStageConfig) and cfg.model == ae.model and cfg.augment == ae.augment
    assert cfg.loss == ae.loss and cfg.data.model_dump(exclude={"pair_sampling"}) == ae.data.model_dump(
        exclude={"pair_sampling"}
    )
    assert cfg.data.pair_sampling == "frame"  # as its measured runs drew their pairs
    assert cfg.model.size == 64 and cfg.batch_strategy == "activations" and cfg.coeff_std == 1.0
    assert cfg.loss.mouth_l1 == 2.0 and cfg.augment is not None and cfg.augment.roll_deg == 6.0
    assert len(cfg.data.extra_roots) == 1 and cfg.data.val_root is not None
    assert cfg.optim.decay_to == 0.05 and cfg.train.mixed_precision == "bf16"
    assert cfg.guard is not None and cfg.guard.defer_if_rising_db == 0.25 and cfg.train.val_every == 500
    # the guard on seed 0's trajectory through this config (fixed validation pairs, 3500 steps): -1.00 dB at
    # step 1500, -0.18 at 2000 (rising: defer), +0.24 at 2500 (rising: defer), +0.45 at 3000 (pass); a run
    # flat at the copy plateau is restarted, and so is one still short after both deferrals
    assert cfg.train.steps == 3500 and cfg.guard.min_gain_db == 0.25 and cfg.guard.max_deferrals == 2
    assert guard_action(-0.18, -1.00, cfg.guard, restarts=0, deferrals=0) == "defer"
    assert guard_action(0.24, -0.18, cfg.guard, restarts=0, deferrals=1) == "defer"
    assert guard_action(0.45, 0.24, cfg.guard, restarts=0, deferrals=2) == "pass"
    assert guard_action(-0.10, -0.20, cfg.guard, restarts=0, deferrals=0) == "restart"
    assert guard_action(0.20, -0.10, cfg.guard, restarts=0, deferrals=2) == "restart"


def test_the_pool_recipe_configs_validate_and_chain(
    prepared_dir: Path, ae_run: Path, tmp_path: Path, monkeypatch
) -> None:
    # the embedded bundle's recipe (docs/proof.md): five stage-1 steps from the demo's auto-encoder, each
    # starting where the one before stopped; stage 2 on step 3's rescaled latents; steps 4 and 5 train only
    # the renderer, so those latents stay valid and the bundle ships step 5's renderer with stage 2's flow
    configs = Path(__file__).parents[1] / "configs"
    (tmp_path / "prepared").mkdir()
    for name in ("pool", "pool_all", "pool_val", "train", "train_extra", "val"):
        (tmp_path / "prepared" / name).symlink_to(prepared_dir)
    (tmp_path / "runs").mkdir()
    for name in ("pool_ae_decoder", "pool_ae_renderer", "pool_ae", "pool_ae_mixed", "ae"):
        (tmp_path / "runs" / name).symlink_to(ae_run)
    (tmp_path / "demo_motion_ae").symlink_to(ae_run)
    monkeypatch.chdir(tmp_path)
    parts = ("-decoder", "-renderer", "", "-mixed", "-mixed2")
    steps = [load_config(configs / f"demo-pool-ae{part}.yaml", "ae") for part in parts]
    fmt = load_config(configs / "demo-pool-fmt.yaml", "fmt")
    demo_ae = load_config(configs / "demo-ae.yaml", "ae")
    demo_fmt = load_config(configs / "demo-fmt.yaml", "fmt")
    assert all(isinstance(step, AEStageConfig) for step in steps) and isinstance(fmt, FMTStageConfig)
    assert isinstance(demo_ae, AEStageConfig) and isinstance(demo_fmt, FMTStageConfig)
    assert steps[0].init_from == Path("demo_motion_ae")
    for before, after in itertools.pairwise(steps):
        assert after.init_from == before.run_dir
    assert fmt.motion_ae == steps[2].run_dir
    # the encoder and motion basis change in step 3 only, which rescales the latents once
    assert [step.trainable for step in steps] == ["decoder", "decoder", "all", "decoder", "decoder"]
    assert [step.coeff_std for step in steps] == [None, None, 1.0, None, None]
    assert all(step.model == demo_ae.model and step.augment == demo_ae.augment for step in steps)
    assert [step.loss.mouth_l1 for step in steps] == [2.0, 2.0, 4.0, 4.0, 4.0]
    assert steps[0].data.root == Path("prepared/pool") and fmt.data.root == Path("prepared/pool_all")
    assert all(step.data.root == fmt.data.root for step in steps[1:])
    assert [len(step.data.extra_roots) for step in steps] == [0, 0, 0, 2, 2]
    assert all(cfg.data.val_root == Path("prepared/pool_val") for cfg in (*steps, fmt))
    # stage 2 is the demo's, longer: every other number the same
    for section in ("loss", "optim", "audio", "sample", "export"):
        assert getattr(fmt, section) == getattr(demo_fmt, section), section
    # the demo's model with its motion measured from the source, trained 10000 steps instead of 3000
    assert fmt.model == demo_fmt.model.model_copy(update={"motion_reference": "source"})
    assert demo_fmt.model.motion_reference == "absolute"
    assert fmt.train.steps == 10000 and demo_fmt.train.steps == 3000
    # every window's source is its clip's first frame (a face at rest), the demo drew any frame; seed 1 of two
    assert fmt.data.source_frame == "first" and demo_fmt.data.source_frame == "any"
    assert fmt.data.window_sampling == demo_fmt.data.window_sampling == "random"
    assert fmt.train.seed == 1 and demo_fmt.train.seed == 0
