"""Training configs: pydantic models read from YAML or TOML, with ``--set a.b=value`` overrides.

Every model forbids unknown keys, so a typo fails at start-up with a message that names the key and the
file instead of being silently ignored. ``load_config`` turns every problem (unreadable file, unknown key,
wrong type, missing dataset folder) into one :class:`ConfigError` whose message is meant for the terminal.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from float_emotion import PredictorSpec
from float_flow import LossConfig, SamplerConfig, TransformerConfig
from float_motion_ae import MotionAEConfig
from float_motion_ae.training import LossWeights, PairAugment
from float_pipeline import AudioSpec, LogMelAudioSpec

__all__ = [
    "AEStageConfig",
    "AdversarialConfig",
    "ConfigError",
    "DataConfig",
    "EmotionLabels",
    "ExportConfig",
    "FMTStageConfig",
    "GuardConfig",
    "OptimConfig",
    "SampleConfig",
    "StageConfig",
    "TrainConfig",
    "apply_overrides",
    "dump_config",
    "load_config",
]


class ConfigError(ValueError):
    """A config cannot be used; the message names the file, the field and the fix (printed as is)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _prepared_dataset(value: Path, field: str) -> Path:
    root = value.expanduser()
    if not root.is_dir():
        raise ValueError(
            f"dataset folder {root} does not exist: run `float-data prepare VIDEOS_DIR {root}` first "
            f"(or fix {field})"
        )
    if not (root / "manifest.jsonl").is_file():
        raise ValueError(
            f"{root} is not a prepared dataset (no manifest.jsonl): run `float-data prepare VIDEOS_DIR "
            f"{root}` first (or fix {field})"
        )
    return root


class DataConfig(_Strict):
    """Where the prepared dataset (``float-data prepare`` output) is and how it is read."""

    root: Path = Field(description="folder written by `float-data prepare` (holds manifest.jsonl)")
    train_split: Literal["train", "val", "test"] = "train"
    val_split: Literal["train", "val", "test"] = Field(
        "val", description="held-out split for validation (needs videos when train.val_every > 0)"
    )
    num_workers: int = Field(0, ge=0, description="DataLoader worker processes (0 = in the main process)")
    pair_sampling: Literal["frame", "video"] = Field(
        "frame",
        description="stage 1: 'frame': every training frame drives once per epoch, its source drawn from "
        "the same video (min_gap, max_gap); 'video': each pair draws a video, then its source and driving "
        "frames, uniformly, from the generator the augmentation also draws from (the demo bundle's recipe; "
        "the frames are decoded into memory once)",
    )
    min_gap: int = Field(0, ge=0, description="stage 1: smallest |source - driving| frame distance")
    max_gap: int | None = Field(None, ge=0, description="stage 1: largest distance (None: whole video)")
    window_sampling: Literal["grid", "random"] = Field(
        "grid",
        description="stage 2: 'grid': windows start every window_stride frames, shuffled per epoch, the "
        "source frame drawn from the window; 'random': each window draws a clip, a start and a source "
        "frame of the whole clip, uniformly, from the loss generator (the demo bundle's recipe)",
    )
    window_stride: int | None = Field(
        None, gt=0, description="stage 2: frames between window starts (None: the window length L)"
    )
    source_frame: Literal["any", "first"] = Field(
        "any",
        description="stage 2, window_sampling 'random': the source motion of each window: 'any': a uniform "
        "frame of its whole clip (any frame can be the portrait); 'first': the clip's first frame (a "
        "still portrait at rest, as the corpus clips start in silence: the model then never has to read "
        "from a new face's latent how far its mouth is open)",
    )

    extra_roots: list[Path] = Field(
        default_factory=list,
        description="stage 1: more prepared datasets whose train_split is pooled with root's (e.g. other "
        "identities)",
    )
    val_root: Path | None = Field(
        None,
        description="validate on this prepared dataset's val_split (stage 1: pairs, stage 2: windows and "
        "the sample clip; None: root)",
    )

    streaming: bool = Field(
        False,
        description="read the training split as a Hugging Face datasets stream (shard by shard, shuffled "
        "with a buffer; resumable) instead of random access: for data that does not fit on one disk",
    )
    shuffle_buffer: int = Field(
        1000, ge=1, description="streaming: examples in the shuffle buffer (1: shard order, rows in order)"
    )
    stream_seed: int | None = Field(
        None, ge=0, description="streaming: seed of the shard order and buffer shuffle (None: train.seed)"
    )
    shards_url: str | None = Field(
        None,
        description="stage 1 streaming: where root's data/frames/<split>/*.parquet shards are, as any fsspec "
        "path or URL (s3://bucket/prepared, gs://..., https://...); root then needs only manifest.jsonl "
        "(None: root itself)",
    )
    storage_options: dict[str, Any] = Field(
        default_factory=dict,
        description="fsspec options for shards_url (e.g. {anon: true}, an endpoint); credentials are better "
        "left to the environment, as RUN_DIR/config.yaml keeps these",
    )

    @field_validator("root")
    @classmethod
    def _prepared(cls, value: Path) -> Path:
        return _prepared_dataset(value, "data.root")

    @field_validator("extra_roots")
    @classmethod
    def _prepared_extra(cls, value: list[Path]) -> list[Path]:
        return [_prepared_dataset(path, "data.extra_roots") for path in value]

    @field_validator("val_root")
    @classmethod
    def _prepared_val(cls, value: Path | None) -> Path | None:
        return None if value is None else _prepared_dataset(value, "data.val_root")

    @model_validator(mode="after")
    def _gaps(self) -> DataConfig:
        if self.max_gap is not None and self.max_gap < self.min_gap:
            raise ValueError(f"max_gap ({self.max_gap}) must be >= min_gap ({self.min_gap})")
        if self.pair_sampling == "video" and (self.min_gap or self.max_gap is not None):
            raise ValueError(
                "min_gap and max_gap belong to pair_sampling 'frame'; 'video' draws any two frames"
            )
        if self.window_sampling == "random" and self.window_stride is not None:
            raise ValueError("window_stride belongs to window_sampling 'grid'; 'random' draws every start")
        if self.window_sampling != "random" and self.source_frame != "any":
            raise ValueError(
                "source_frame belongs to window_sampling 'random'; 'grid' draws the source from the window"
            )
        if not self.streaming and (self.shards_url is not None or self.storage_options):
            raise ValueError("shards_url and storage_options are read in streaming mode: set streaming: true")
        if self.streaming and self.pair_sampling == "video":
            raise ValueError(
                "streaming reads pairs video by video (pair_sampling 'frame'); 'video' holds every crop in "
                "memory, the opposite of streaming"
            )
        if self.streaming and self.window_sampling == "random":
            raise ValueError(
                "streaming reads grid windows clip by clip (window_sampling 'grid'); 'random' holds every "
                "clip in memory"
            )
        return self

    def validation_is_local(self, validates: bool) -> None:
        """Validation reads random-access local shards: with ``shards_url`` it needs ``val_root``."""
        if validates and self.shards_url is not None and self.val_root is None:
            raise ValueError(
                "data.shards_url: validation reads a local prepared dataset; set data.val_root to one "
                "(or train.val_every: 0)"
            )


class OptimConfig(_Strict):
    """Adam and its schedule (linear warm-up, then constant or a cosine decay to ``decay_to``)."""

    lr: float = Field(1e-4, gt=0, description="learning rate")
    betas: tuple[float, float] = Field((0.9, 0.999), description="Adam betas")
    weight_decay: float = Field(0.0, ge=0)
    eps: float = Field(1e-8, gt=0)
    grad_clip: float | None = Field(None, gt=0, description="max global gradient norm (None: no clipping)")
    warmup_steps: int = Field(0, ge=0, description="linear warm-up from 0 to lr over this many steps")
    decay_to: float = Field(
        1.0,
        gt=0,
        le=1,
        description="after warm-up, cosine decay of the lr to lr * decay_to at train.steps (1: constant)",
    )

    @field_validator("betas")
    @classmethod
    def _betas(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not all(0.0 <= b < 1.0 for b in value):
            raise ValueError(f"both betas must be in [0, 1), got {list(value)}")
        return value


class TrainConfig(_Strict):
    """Loop settings shared by both stages."""

    steps: int = Field(gt=0, description="optimizer steps in total")
    batch_size: int = Field(8, gt=0, description="samples per process per step (global = x processes)")
    seed: int = Field(0, ge=0, description="seeds model init, data order and the loss noise")
    checkpoint_every: int = Field(1000, gt=0, description="steps between checkpoints")
    keep_last: int = Field(3, ge=1, description="complete checkpoints kept (older ones are deleted)")
    log_every: int = Field(10, gt=0, description="steps between metric records in metrics.jsonl")
    val_every: int = Field(1000, ge=0, description="steps between validations (0: never)")
    grad_accum_steps: int = Field(
        1,
        ge=1,
        description="micro-batches per optimizer step (accelerate's gradient accumulation); the global "
        "batch is batch_size x processes x grad_accum_steps",
    )
    mixed_precision: Literal["no", "bf16", "fp16"] = Field(
        "no", description="accelerate's autocast; this setting wins over the launcher's (accelerate config)"
    )
    ema_decay: float | None = Field(None, gt=0, lt=1, description="EMA of the weights (None: no EMA)")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto",
        description="auto: a GPU when one is visible; cpu: the CPU even then; cuda: fail without a GPU",
    )
    threads: int | None = Field(
        None,
        gt=0,
        description="torch CPU threads (torch.set_num_threads; None: OMP_NUM_THREADS or the cores)",
    )
    tune_cpu_allocator: bool = Field(
        True,
        description="on a CPU run, make glibc malloc keep freed memory for reuse "
        "(float_motion_ae.tune_cpu_allocator; changes speed and resident memory, no number)",
    )
    trackers: list[Literal["tensorboard", "wandb"]] = Field(
        default_factory=list, description="accelerate trackers in addition to metrics.jsonl"
    )

    @model_validator(mode="before")
    @classmethod
    def _cpu_is_device(cls, data: Any) -> Any:
        # `cpu: true/false` is the name train.device had until 2026-12-06 (configs and saved run dirs use it)
        if not isinstance(data, dict) or "cpu" not in data:
            return data
        data = dict(data)
        cpu = data.pop("cpu")
        if not isinstance(cpu, bool):
            raise ValueError(f"cpu must be true or false, got {cpu!r} (it is now spelled device: cpu | auto)")
        device = "cpu" if cpu else "auto"
        if data.setdefault("device", device) != device:
            raise ValueError(
                f"cpu: {str(cpu).lower()} contradicts device: {data['device']}; keep device only"
            )
        return data


class GuardConfig(_Strict):
    """Plateau guard of stage 1: restart a model stuck on "copy the source frame".

    At step ``at_step`` the validation PSNR of the reconstruction is compared with the PSNR of returning the
    source frame unchanged; when the gain is below ``min_gain_db`` the model and optimizer are
    re-initialised with seed + 1 (+2, ...) and training starts again from step 0, at most ``max_restarts``
    times.

    With ``defer_if_rising_db`` a run still under ``min_gain_db`` is not restarted while it is climbing out of
    the plateau: when its gain rose by at least that much since the attempt's previous validation, the check
    moves ``train.val_every`` steps later, at most ``max_deferrals`` times.
    """

    at_step: int = Field(gt=0)
    min_gain_db: float = Field(0.5, description="required PSNR gain over copying the source, dB")
    max_restarts: int = Field(2, ge=0)
    defer_if_rising_db: float | None = Field(
        None, description="defer the check while the gain rises this much per validation, dB (none: never)"
    )
    max_deferrals: int = Field(2, ge=0)


class AdversarialConfig(_Strict):
    """Optional discriminator (LIA's adversarial loss); active when ``loss.adversarial`` > 0."""

    lr: float = Field(2e-4, gt=0)
    betas: tuple[float, float] = (0.0, 0.99)
    r1_every: int = Field(16, gt=0, description="lazy R1: penalty every k discriminator steps, scaled by k")
    channel_base: int | None = Field(None, gt=0, description="default: the auto-encoder's")
    channel_max: int | None = Field(None, gt=0, description="default: the auto-encoder's")


class AEStageConfig(_Strict):
    """Stage 1: the motion auto-encoder (``float-train ae``)."""

    stage: Literal["ae"] = "ae"
    run_dir: Path = Field(description="output folder: config, metrics, checkpoints")
    data: DataConfig
    model: MotionAEConfig = Field(default_factory=MotionAEConfig)
    loss: LossWeights = Field(default_factory=LossWeights)
    lpips_vgg: Path | None = Field(
        None, description="torchvision vgg16-397923af.pth for LPIPS (default: $FLOAT_LPIPS_VGG)"
    )
    adversarial: AdversarialConfig = Field(default_factory=AdversarialConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    train: TrainConfig
    val_pairs: int = Field(
        16,
        gt=0,
        description="held-out pairs scored at each validation (pair_sampling 'video': frame 0 of each "
        "validation video in turn as the source, a seeded later frame as the driving one)",
    )
    guard: GuardConfig | None = None
    augment: PairAugment | None = Field(
        None, description="paired colour/mirror/layout augmentation of every (source, driving) pair"
    )
    init_from: Path | None = Field(
        None, description="start from these weights: a stage-1 run dir or a MotionAutoEncoder folder"
    )
    zero_flow_init: bool = Field(
        False, description="start the flow heads at zero (identity warp) instead of a random warp"
    )
    trainable: Literal["all", "decoder"] = Field(
        "all",
        description="'decoder': freeze the encoder and motion basis (MotionAutoEncoder.freeze_motion), so "
        "the motion latents of init_from, and a flow model trained on them, stay valid",
    )
    batch_strategy: Literal["auto", "weights", "activations"] = Field(
        "auto",
        description="the decoder's batch strategy while training (MotionAutoEncoder.set_renderer("
        "default_renderer(batch=...))); 'activations' (one dense conv per "
        "layer) trains small models on the CPU much faster than auto's per-sample weights",
    )
    coeff_std: float | None = Field(
        None,
        gt=0,
        description="at the end, rescale the latents so the motion coefficients have this mean std "
        "(written to RUN_DIR/motion_ae, which stage 2 then reads)",
    )

    @model_validator(mode="after")
    def _guard_needs_validation(self) -> AEStageConfig:
        if self.guard is not None and self.guard.at_step > self.train.steps:
            raise ValueError(
                f"guard.at_step ({self.guard.at_step}) is after the last step ({self.train.steps})"
            )
        if self.guard is not None and self.guard.defer_if_rising_db is not None:
            every = self.train.val_every
            if not every or every >= self.guard.at_step:
                raise ValueError(
                    "guard.defer_if_rising_db compares the gain with the previous validation: set "
                    f"train.val_every below guard.at_step ({self.guard.at_step}), got {every}"
                )
        return self

    @model_validator(mode="after")
    def _local_validation(self) -> AEStageConfig:
        self.data.validation_is_local(bool(self.train.val_every) or self.guard is not None)
        return self

    @model_validator(mode="after")
    def _accumulation(self) -> AEStageConfig:
        if self.train.grad_accum_steps > 1 and self.loss.adversarial > 0:
            raise ValueError(
                "train.grad_accum_steps > 1 with loss.adversarial > 0: the discriminator steps on every "
                "batch, so accumulating the generator's gradients would change the GAN's schedule; raise "
                "train.batch_size instead"
            )
        return self

    @model_validator(mode="after")
    def _stage_1_data(self) -> AEStageConfig:
        if self.data.window_sampling != "grid":
            raise ValueError(
                "data.window_sampling is a stage-2 setting; stage 1 samples pairs (pair_sampling)"
            )
        return self

    @model_validator(mode="after")
    def _starting_weights(self) -> AEStageConfig:
        if self.zero_flow_init and self.init_from is not None:
            raise ValueError("zero_flow_init resets a random start; with init_from the weights are given")
        if self.trainable == "decoder":
            if self.init_from is None:
                raise ValueError("trainable: decoder fine-tunes a trained model: set init_from")
            if self.coeff_std is not None:
                raise ValueError(
                    "trainable: decoder keeps the motion latents unchanged: leave coeff_std unset "
                    "(a rescale would change them)"
                )
        return self

    @field_validator("init_from")
    @classmethod
    def _init_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.expanduser().is_dir():
            raise ValueError(
                f"{value} does not exist: point init_from at a stage-1 run dir or a MotionAutoEncoder folder"
            )
        return None if value is None else value.expanduser()


class SampleConfig(_Strict):
    """The short clip sampled and decoded to mp4 at each stage-2 validation; ``float-train export`` writes
    these sampling settings into the bundle as its generation defaults."""

    frames: int = Field(75, ge=0, description="clip length in frames (0: no sample video)")
    nfe: int = Field(10, gt=0, description="velocity evaluations (Euler steps)")
    method: Literal["euler", "midpoint"] = Field("euler", description="ODE solver (midpoint: nfe even)")
    audio_scale: float = Field(2.0, ge=0)
    emotion_scale: float = Field(1.0, ge=0)
    seed: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _solver(self) -> SampleConfig:
        SamplerConfig(method=self.method, nfe=self.nfe)  # midpoint needs an even nfe: say so at start-up
        return self


class ExportConfig(_Strict):
    """The bundle's remaining generation defaults (``bundle.json``), written by ``float-train export``;
    steps, solver and guidance scales come from ``sample``."""

    emotion: str = Field("neutral", description="--emotion when none is given: an emotion name or 'auto'")
    crop_scale: float = Field(
        1.6,
        gt=0,
        description="portrait crop half-side / face half-size (official 1.6; match the training crops)",
    )
    crop_phases: int = Field(
        1, ge=1, description="detection heights the portrait's face box is averaged over (1: one detection)"
    )


class EmotionLabels(_Strict):
    """Stage 2's clip emotion from the dataset's own labels instead of a predictor: the manifest's 7-vector
    of each video (``float-data prepare --labels ravdess`` or ``--labels-file``; every training and
    validation video needs one)."""

    source: Literal["labels"] = Field(description="'labels': the prepared dataset's emotion labels")


def _neutral() -> PredictorSpec:
    return PredictorSpec(name="fixed", options={"emotion": "neutral"})


class FMTStageConfig(_Strict):
    """Stage 2: the flow-matching transformer and the audio projection (``float-train fmt``)."""

    stage: Literal["fmt"] = "fmt"
    run_dir: Path = Field(description="output folder: config, cache, metrics, checkpoints, samples")
    data: DataConfig
    motion_ae: Path = Field(description="stage-1 run dir or a saved MotionAutoEncoder folder (frozen)")
    audio: AudioSpec = Field(default_factory=LogMelAudioSpec)
    emotion: PredictorSpec | EmotionLabels = Field(
        default_factory=_neutral,
        description="float-emotion predictor of each clip's emotion, or {source: labels}: the dataset's "
        "labels",
    )
    model: TransformerConfig = Field(default_factory=TransformerConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    optim: OptimConfig = Field(default_factory=lambda: OptimConfig(lr=1e-5, grad_clip=1.0))
    train: TrainConfig
    val_windows: int = Field(16, gt=0, description="held-out windows scored at each validation")
    sample: SampleConfig = Field(default_factory=SampleConfig)
    export: ExportConfig = Field(default_factory=ExportConfig)
    cache_batch_size: int = Field(
        16,
        gt=0,
        description="frames per auto-encoder call when caching motion latents: the batch size can change "
        "their float rounding (the demo recipe encoded 64 at a time)",
    )

    @model_validator(mode="after")
    def _one_training_dataset(self) -> FMTStageConfig:
        if self.data.extra_roots:
            raise ValueError(
                "data.extra_roots is a stage-1 setting; stage 2 trains on data.root only "
                "(prepare one dataset holding every training clip)"
            )
        if self.data.pair_sampling != "frame":
            raise ValueError(
                "data.pair_sampling is a stage-1 setting; stage 2 samples windows (window_sampling)"
            )
        if self.data.shards_url is not None:
            raise ValueError(
                "data.shards_url is stage 1's: stage 2 streams its latent cache (RUN_DIR/cache), built clip "
                "by clip from data.root's shards"
            )
        return self

    @field_validator("motion_ae")
    @classmethod
    def _exists(cls, value: Path) -> Path:
        path = value.expanduser()
        if not path.is_dir():
            raise ValueError(
                f"{path} does not exist: point motion_ae at a stage-1 run dir (`float-train ae`) or a "
                "folder written by MotionAutoEncoder.save_pretrained"
            )
        return path


StageConfig = AEStageConfig | FMTStageConfig
_STAGES: dict[str, type[AEStageConfig] | type[FMTStageConfig]] = {"ae": AEStageConfig, "fmt": FMTStageConfig}


def _read_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    text = path.read_text()
    try:
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as error:
        raise ConfigError(
            f"{path} is not valid {path.suffix.lstrip('.').upper() or 'YAML'}: {error}"
        ) from error
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path} must hold a mapping of settings at the top level, got {type(data).__name__}"
        )
    return data


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with each ``a.b.c=value`` applied (``value`` parsed as a YAML scalar/list).

    Raises:
        ConfigError: an override without ``=`` or one that descends into a non-mapping value.
    """
    result: dict[str, Any] = _deep_copy(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set optim.lr=1e-4")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as error:
            raise ConfigError(f"--set {item!r}: cannot parse the value: {error}") from error
        value = _yaml11_float(value)
        parts = key.strip().split(".")
        node = result
        for depth, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                where = ".".join(parts[: depth + 1])
                raise ConfigError(f"--set {item!r}: {where} is a value, not a section")
            node = child
        node[parts[-1]] = value
    return result


def _yaml11_float(value: Any) -> Any:
    # YAML 1.1 reads "1e-4" (no dot) as a string; a value that float() accepts is meant as a number.
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _deep_copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _deep_copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_deep_copy(v) for v in data]
    return data


def _format_errors(error: ValidationError, source: str) -> str:
    lines = []
    for item in error.errors():
        loc = ".".join(str(p) for p in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key (check its spelling; docs/float-train.md lists every field)"
        elif item["type"] == "missing":
            message = "required field is missing"
        lines.append(f"  {loc}: {message}")
    return f"invalid config {source}:\n" + "\n".join(lines)


def validate_config(data: dict[str, Any], stage: str, source: str = "config") -> StageConfig:
    """Validate an already-parsed mapping as the config of ``stage`` (``"ae"`` or ``"fmt"``)."""
    model = _STAGES[stage]
    declared = data.get("stage", stage)
    if declared != stage:
        raise ConfigError(
            f"{source} is a {declared!r} config but the command is `float-train {stage}`: "
            f"run `float-train {declared} {source}` instead"
        )
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_format_errors(error, source)) from None


def load_config(
    path: str | Path, stage: str, overrides: list[str] | None = None, run_dir: str | Path | None = None
) -> StageConfig:
    """Read a YAML/TOML config file, apply ``--set`` overrides (and ``--run-dir``), validate for ``stage``."""
    file = Path(path)
    data = apply_overrides(_read_file(file), list(overrides or []))
    if run_dir is not None:
        data["run_dir"] = str(run_dir)
    return validate_config(data, stage, str(file))


def dump_config(config: StageConfig) -> str:
    """The resolved config as YAML (what RUN_DIR/config.yaml holds)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
