"""Training recipes of the demo bundle: YAML files with the layout of float-train's stage configs.

The files live in ``apps/float-train/recipes/`` (``demo-ae.yaml``, ``demo-fmt.yaml``) and use float-train's
section names (``data``, ``model``, ``loss``, ``optim``, ``train``, ``guard``). This reader validates the
subset that ``python -m proof.train`` uses; every section it reads forbids unknown keys, so a typo fails at
start-up naming the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from float_flow import LossConfig, TransformerConfig
from float_motion_ae import MotionAEConfig
from float_motion_ae.training import PairAugment
from float_pipeline import GenerationDefaults, LogMelAudioSpec

__all__ = ["AERecipe", "FMTRecipe", "RecipeError", "load_recipe"]


class RecipeError(ValueError):
    """A recipe file cannot be used; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSection(_Strict):
    root: Path = Field(description="training set: a folder written by `float-data prepare`")
    train_split: Literal["train", "val", "test"] = "train"
    val_root: Path = Field(description="validation set (other clips, same identities/voices as training)")
    extra_roots: tuple[Path, ...] = Field(
        (), description="more prepared training sets (e.g. other identities), pooled with root"
    )
    val_split: Literal["train", "val", "test"] = "train"


class OptimSection(_Strict):
    lr: float = Field(gt=0)
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float | None = Field(None, gt=0)
    warmup_steps: int = Field(0, ge=0)
    decay_to: float = Field(1.0, gt=0, le=1, description="cosine decay of the lr to this fraction at the end")


class TrainSection(_Strict):
    steps: int = Field(gt=0)
    batch_size: int = Field(gt=0)
    seed: int = Field(0, ge=0)
    threads: int = Field(2, gt=0, description="torch CPU threads")
    log_every: int = Field(50, gt=0)
    val_every: int = Field(250, gt=0)
    device: Literal["cpu", "cuda", "auto"] = Field(
        "cpu", description="where stage 1 trains (auto: cuda when available); stage 2 trains on the CPU"
    )
    mixed_precision: Literal["no", "bf16"] = Field(
        "no",
        description="stage 1 forward/backward under bf16 autocast (float-train's key); weights, loss and "
        "validation stay float32",
    )


class GuardSection(_Strict):
    """Restart with seed + 1 when the validation PSNR gain over copying the source is below ``min_gain_db``
    at step ``at_step`` (the auto-encoder's "copy the source frame" plateau)."""

    at_step: int = Field(gt=0)
    min_gain_db: float = 0.5
    max_restarts: int = Field(2, ge=0)


class AELossSection(_Strict):
    l1: float = Field(1.0, ge=0)
    mouth_l1: float = Field(0.0, ge=0, description="extra L1 on the lower-middle band (mouth) of the crop")


class AERecipe(_Strict):
    stage: Literal["ae"] = "ae"
    data: DataSection
    model: MotionAEConfig
    loss: AELossSection = Field(default_factory=AELossSection)
    optim: OptimSection
    train: TrainSection
    val_pairs: int = Field(64, gt=0)
    guard: GuardSection | None = None
    zero_flow_init: bool = Field(
        False, description="start the flow/mask heads at zero: identity warp, mask 0.5 (faster start)"
    )
    augment: PairAugment | None = Field(None, description="paired colour/layout augmentation")
    init_from: Path | None = Field(
        None, description="start from these weights (a stage-1 run dir or a save_pretrained folder)"
    )
    coeff_std: float | None = Field(
        1.0, gt=0, description="after training, rescale the latents so motion coefficients have this mean std"
    )
    trainable: Literal["all", "decoder"] = Field(
        "all",
        description="'decoder': freeze the encoder and the motion basis, so the motion latents of every "
        "frame stay exactly those of init_from and a flow model trained on them stays valid",
    )

    @model_validator(mode="after")
    def _decoder_only_keeps_latents(self) -> AERecipe:
        if self.trainable == "decoder":
            if self.init_from is None:
                raise ValueError("trainable: decoder fine-tunes a trained model: set init_from")
            if self.coeff_std is not None:
                raise ValueError(
                    "trainable: decoder keeps the motion latents unchanged: set coeff_std: null "
                    "(a rescale would change them)"
                )
        return self


class FMTRecipe(_Strict):
    stage: Literal["fmt"] = "fmt"
    data: DataSection
    audio: LogMelAudioSpec = Field(default_factory=LogMelAudioSpec)
    model: TransformerConfig
    loss: LossConfig = Field(default_factory=LossConfig)
    optim: OptimSection
    train: TrainSection
    defaults: GenerationDefaults = Field(default_factory=GenerationDefaults)
    val_windows: int = Field(64, gt=0)


def load_recipe(path: str | Path, stage: Literal["ae", "fmt"]) -> AERecipe | FMTRecipe:
    """Read and validate a recipe; ``stage`` must match its ``stage`` key."""
    file = Path(path)
    if not file.is_file():
        raise RecipeError(
            f"recipe {file} does not exist (the demo recipes are apps/float-train/recipes/*.yaml)"
        )
    try:
        data = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as error:
        raise RecipeError(f"{file} is not valid YAML: {error}") from error
    if data.get("stage", stage) != stage:
        raise RecipeError(f"{file} is a {data.get('stage')!r} recipe, not {stage!r}")
    model = AERecipe if stage == "ae" else FMTRecipe
    try:
        return model.model_validate(data)
    except ValidationError as error:
        lines = [f"  {'.'.join(str(p) for p in e['loc']) or stage}: {e['msg']}" for e in error.errors()]
        raise RecipeError(f"invalid recipe {file}:\n" + "\n".join(lines)) from None
