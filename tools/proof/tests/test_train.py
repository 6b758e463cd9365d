"""The demo recipes parse, and the training commands run end to end on a tiny prepared corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from proof.recipe import AERecipe, FMTRecipe, RecipeError, load_recipe
from proof.train import main

from float_data import PrepareConfig, prepare_dataset
from float_pipeline import load_bundle

RECIPES = Path(__file__).resolve().parents[3] / "apps" / "float-train" / "recipes"


def test_demo_recipes_parse() -> None:
    ae = load_recipe(RECIPES / "demo-ae.yaml", "ae")
    fmt = load_recipe(RECIPES / "demo-fmt.yaml", "fmt")
    assert isinstance(ae, AERecipe) and isinstance(fmt, FMTRecipe)
    assert fmt.model.dim_motion == ae.model.latent_dim  # stage 2 models stage 1's latents
    assert ae.guard is not None and ae.guard.at_step < ae.train.steps
    assert fmt.audio.kind == "logmel"
    finetune = load_recipe(RECIPES / "demo-ae-finetune.yaml", "ae")
    assert isinstance(finetune, AERecipe) and finetune.init_from is not None
    assert finetune.model == ae.model and finetune.augment == ae.augment  # phase 2 continues phase 1
    assert ae.coeff_std is None and finetune.coeff_std == 1.0  # latents are rescaled once, at the very end
    cpu = load_recipe(RECIPES / "demo-cpu-ae.yaml", "ae")  # the one-hour CPU recipe: same model and data
    assert isinstance(cpu, AERecipe) and cpu.model == ae.model and cpu.augment == ae.augment
    assert cpu.data == ae.data and cpu.train.mixed_precision == "bf16" and cpu.coeff_std == 1.0


def test_recipe_errors_name_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    data = yaml.safe_load((RECIPES / "demo-ae.yaml").read_text())
    data["optim"]["learning_rate"] = 1.0
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(RecipeError, match=r"optim\.learning_rate"):
        load_recipe(bad, "ae")
    with pytest.raises(RecipeError, match=r"not 'fmt'"):
        load_recipe(RECIPES / "demo-ae.yaml", "fmt")
    with pytest.raises(RecipeError, match="does not exist"):
        load_recipe(tmp_path / "missing.yaml", "ae")


def _tiny_recipes(tmp_path: Path) -> tuple[Path, Path]:
    data = {"root": "prepared", "val_root": "prepared"}
    ae = {
        "stage": "ae",
        "data": data,
        "model": {
            "size": 32,
            "latent_dim": 16,
            "motion_dim": 4,
            "channel_base": 256,
            "channel_max": 16,
            "motion_layers": 1,
        },
        "optim": {"lr": 1e-3},
        "train": {"steps": 3, "batch_size": 2, "log_every": 1, "val_every": 2},
        "val_pairs": 4,
        # An impossible gain forces the guard to restart once with seed + 1.
        "guard": {"at_step": 2, "min_gain_db": 100.0, "max_restarts": 1},
    }
    fmt = {
        "stage": "fmt",
        "data": data,
        "model": {
            "dim_motion": 16,
            "dim_hidden": 16,
            "depth": 1,
            "num_heads": 2,
            "num_frames": 10,
            "num_prev_frames": 2,
            "dim_audio": 8,
        },
        "optim": {"lr": 1e-3},
        "train": {"steps": 3, "batch_size": 2, "log_every": 1, "val_every": 2},
        "defaults": {"steps": 2},
        "val_windows": 4,
    }
    (tmp_path / "ae.yaml").write_text(yaml.safe_dump(ae))
    (tmp_path / "fmt.yaml").write_text(yaml.safe_dump(fmt))
    return tmp_path / "ae.yaml", tmp_path / "fmt.yaml"


def _prepare_32px(corpus: Path, out: Path) -> None:
    config = PrepareConfig(
        crop_size=32, detector="dlib", landmarks=False, track_mode="fixed", val_fraction=0, test_fraction=0
    )
    prepare_dataset(corpus, out, config)


def test_train_both_stages_and_export(two_clip_corpus: Path, tmp_path: Path) -> None:
    _prepare_32px(two_clip_corpus, tmp_path / "prepared")
    ae, fmt = _tiny_recipes(tmp_path)
    work = ["--workdir", str(tmp_path)]
    assert main(["ae", str(ae), "--run-dir", str(tmp_path / "ae"), *work]) == 0
    summary = json.loads((tmp_path / "ae" / "summary.json").read_text())
    assert summary["restarts"] == [
        {"seed": 0, "step": 2, "gain_db": pytest.approx(summary["restarts"][0]["gain_db"])}
    ]
    assert summary["seed"] == 1 and summary["final"]["step"] == 3
    assert summary["latent_scale"] > 0
    assert (
        main(
            ["fmt", str(fmt), "--motion-ae", str(tmp_path / "ae"), "--run-dir", str(tmp_path / "fmt"), *work]
        )
        == 0
    )
    assert (
        main(
            [
                "export",
                "--motion-ae",
                str(tmp_path / "ae"),
                "--fmt",
                str(tmp_path / "fmt"),
                "--out",
                str(tmp_path / "bundle"),
            ]
        )
        == 0
    )
    bundle = load_bundle(tmp_path / "bundle")
    assert bundle.resolution == 32 and bundle.manifest.defaults.steps == 2
    assert bundle.manifest.audio.kind == "logmel" and bundle.manifest.license == "apache-2.0"
    # Exporting over an existing bundle needs --overwrite.
    assert (
        main(
            [
                "export",
                "--motion-ae",
                str(tmp_path / "ae"),
                "--fmt",
                str(tmp_path / "fmt"),
                "--out",
                str(tmp_path / "bundle"),
            ]
        )
        == 2
    )


def test_ae_augmented_pooled_and_continued(two_clip_corpus: Path, tmp_path: Path) -> None:
    """Stage 1 with paired augmentation over two pooled roots, then a second phase from its weights."""
    from float_motion_ae import MotionAutoEncoder

    _prepare_32px(two_clip_corpus, tmp_path / "prepared")
    ae, _ = _tiny_recipes(tmp_path)
    recipe = yaml.safe_load(ae.read_text())
    recipe.pop("guard")
    recipe["data"]["extra_roots"] = ["prepared"]
    recipe["augment"] = {"scale": 0.05, "roll_deg": 3.0, "shift": 0.05}
    recipe["coeff_std"] = None
    ae.write_text(yaml.safe_dump(recipe))
    work = ["--workdir", str(tmp_path)]
    assert main(["ae", str(ae), "--run-dir", str(tmp_path / "phase1"), *work]) == 0
    phase1 = MotionAutoEncoder.from_pretrained(str(tmp_path / "phase1" / "motion_ae"))
    recipe["init_from"] = "phase1"
    recipe["optim"]["lr"] = 1e-12  # a negligible step: phase 2 must start from phase 1's weights
    recipe["train"]["steps"] = 1
    ae.write_text(yaml.safe_dump(recipe))
    assert main(["ae", str(ae), "--run-dir", str(tmp_path / "phase2"), *work]) == 0
    phase2 = MotionAutoEncoder.from_pretrained(str(tmp_path / "phase2" / "motion_ae"))
    for name, tensor in phase1.state_dict().items():
        torch.testing.assert_close(phase2.state_dict()[name], tensor, atol=1e-6, rtol=0, msg=name)
    # A phase-2 recipe whose model does not match the weights is refused with both configs named.
    recipe["model"]["latent_dim"] = 32
    ae.write_text(yaml.safe_dump(recipe))
    assert main(["ae", str(ae), "--run-dir", str(tmp_path / "bad"), *work]) == 2


def test_decoder_only_phase_keeps_every_motion_latent(two_clip_corpus: Path, tmp_path: Path) -> None:
    """``trainable: decoder`` (here under bf16 autocast) moves the renderer only: the encoder and the
    motion basis stay bit-identical, so each frame's motion latent (what the flow transformer models) is
    unchanged."""
    from float_motion_ae import MotionAutoEncoder

    _prepare_32px(two_clip_corpus, tmp_path / "prepared")
    ae, _ = _tiny_recipes(tmp_path)
    recipe = yaml.safe_load(ae.read_text())
    recipe.pop("guard")
    recipe["coeff_std"] = None
    ae.write_text(yaml.safe_dump(recipe))
    work = ["--workdir", str(tmp_path)]
    assert main(["ae", str(ae), "--run-dir", str(tmp_path / "phase1"), *work]) == 0
    recipe |= {"init_from": "phase1", "trainable": "decoder"}
    recipe["train"] |= {"steps": 4, "mixed_precision": "bf16"}
    ae.write_text(yaml.safe_dump(recipe))
    assert main(["ae", str(ae), "--run-dir", str(tmp_path / "decoder"), *work]) == 0
    before = MotionAutoEncoder.from_pretrained(str(tmp_path / "phase1" / "motion_ae")).eval()
    after = MotionAutoEncoder.from_pretrained(str(tmp_path / "decoder" / "motion_ae")).eval()
    changed = {
        name
        for name, tensor in before.state_dict().items()
        if not torch.equal(after.state_dict()[name], tensor)
    }
    assert changed and all(name.startswith("dec.") for name in changed)
    assert not any(name.startswith("dec.direction") for name in changed)
    images = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        assert torch.equal(after.encode_motion(images), before.encode_motion(images))
        assert not torch.equal(after.reconstruct(images[:1], images), before.reconstruct(images[:1], images))


def test_decoder_only_recipe_needs_weights_and_fixed_latents(tmp_path: Path) -> None:
    base = yaml.safe_load((RECIPES / "demo-ae.yaml").read_text()) | {"trainable": "decoder"}
    for extra, message in (
        ({"init_from": None, "coeff_std": None}, "set init_from"),
        ({"init_from": "runs/ae", "coeff_std": 1.0}, "set coeff_std: null"),
    ):
        path = tmp_path / "bad.yaml"
        path.write_text(yaml.safe_dump(base | extra))
        with pytest.raises(RecipeError, match=message):
            load_recipe(path, "ae")
