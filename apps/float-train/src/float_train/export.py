"""``float-train export``: a stage-2 run dir -> the inference bundle ``float_pipeline.load_bundle`` loads."""

from __future__ import annotations

from pathlib import Path

import torch
import yaml

from float_audio import AudioProjection
from float_data import PreparedDataset
from float_emotion import PredictorSpec
from float_flow import FlowMatchingTransformer
from float_motion_ae import MotionAutoEncoder
from float_pipeline import BundleManifest, GenerationDefaults, check_bundle_target, save_bundle
from float_train.checkpoint import latest_checkpoint
from float_train.config import ConfigError, FMTStageConfig, validate_config
from float_train.fmt import AE_COPY
from float_train.metrics import MetricsLog
from float_train.models import FlowTrainModule, apply_ema, load_motion_ae

NOT_RUN = ("fixed", "mix")
"""Predictors that give the same vector for every clip: the bundle stores none (its default emotion rules)."""

__all__ = ["export_bundle", "model_card", "with_renderer"]


def _read_run(run_dir: Path) -> FMTStageConfig:
    file = run_dir / "config.yaml"
    if not file.is_file():
        raise ConfigError(f"{run_dir} is not a float-train run dir (no config.yaml)")
    data = yaml.safe_load(file.read_text())
    if not isinstance(data, dict) or data.get("stage") != "fmt":
        stage = data.get("stage") if isinstance(data, dict) else "?"
        raise ConfigError(
            f"{run_dir} is a stage-{stage} run; export needs a "
            "stage-2 run dir (`float-train fmt`), which records the auto-encoder it was trained with"
        )
    config = validate_config(data, "fmt", str(file))
    assert isinstance(config, FMTStageConfig)
    return config


def _motion_ae_origin(run_dir: Path) -> list[str]:
    """The card line naming the stage-1 model stage 2 was trained on (recorded by ``float-train fmt``)."""
    record = run_dir / "motion_ae_source.txt"
    if not record.is_file():
        return []
    return [f"  (frozen during stage 2; loaded from `{record.read_text().strip()}`)"]


def with_renderer(run_ae: MotionAutoEncoder, path: Path, run_dir: Path) -> MotionAutoEncoder:
    """The auto-encoder at ``path`` (a stage-1 run dir or a model folder), checked to be a renderer
    fine-tune of ``run_ae``: the same config, encoder and motion basis (what ``freeze_motion`` freezes), so
    every motion latent the stage-2 run learned from means the same to it; only its renderer differs.

    Raises:
        ConfigError: not a model, another config, or an encoder / motion basis that changed.
    """
    renderer, origin = load_motion_ae(path)
    if renderer.config != run_ae.config:
        raise ConfigError(
            f"--renderer {origin}: its config differs from the auto-encoder {run_dir} was trained on; "
            "fine-tune that auto-encoder with `trainable: decoder` (init_from its stage-1 run)"
        )
    probe = MotionAutoEncoder(run_ae.config)
    probe.freeze_motion()
    frozen = [name for name, p in probe.named_parameters() if not p.requires_grad]
    ours, theirs = dict(run_ae.named_parameters()), dict(renderer.named_parameters())
    changed = [name for name in frozen if not torch.equal(ours[name], theirs[name])]
    if changed:
        raise ConfigError(
            f"--renderer {origin}: {len(changed)} encoder / motion-basis tensors differ from the "
            f"auto-encoder {run_dir} was trained on (e.g. {changed[0]}), so its motion latents are not the "
            "ones the flow learned; only a `trainable: decoder` fine-tune of that auto-encoder can replace "
            "its renderer (or train stage 2 again on this one)"
        )
    return renderer.eval()


def model_card(
    config: FMTStageConfig,
    ae: MotionAutoEncoder,
    flow: FlowMatchingTransformer,
    step: int,
    run_dir: Path,
    weights: str,
) -> str:
    """A README for the bundle from the configs, the data manifest and the last validation."""
    lines = [
        "---",
        "license: apache-2.0",
        "library_name: float-kit",
        "tags: [float, talking-head, audio-driven, flow-matching]",
        "---",
        "",
        "# FLOAT-kit bundle",
        "",
        f"Exported by `float-train export` from `{run_dir}` at step {step} ({weights} weights).",
        "",
        "## Models",
        "",
        f"- motion auto-encoder: {ae.config.size} px, latent {ae.config.latent_dim}, "
        f"{ae.config.motion_dim} motion directions, {sum(p.numel() for p in ae.parameters()):,} parameters",
        *_motion_ae_origin(run_dir),
        f"- flow-matching transformer: width {flow.config.dim_hidden}, depth {flow.config.depth}, "
        f"{flow.config.num_prev_frames} + {flow.config.num_frames} frames, "
        f"{sum(p.numel() for p in flow.parameters()):,} parameters",
        f"- audio: {config.audio.kind} encoder + trained projection to {flow.config.dim_audio}",
        f"- emotion during training: `{config.emotion.model_dump_json()}`",
        "",
        "## Training data",
        "",
    ]
    try:
        prepared = PreparedDataset(config.data.root)
        for split in ("train", "val", "test"):
            entries = prepared.videos_in(split)
            if entries:
                seconds = sum(e.duration_s for e in entries)
                speakers = len({e.speaker_id for e in entries})
                lines.append(f"- {split}: {len(entries)} videos, {speakers} speakers, {seconds / 60:.1f} min")
        lines.append(f"- prepared dataset: `{config.data.root}`")
        if config.data.val_root is not None:
            lines.append(f"- validation: split {config.data.val_split} of `{config.data.val_root}`")
    except FileNotFoundError:
        lines.append(f"- prepared dataset `{config.data.root}` (no longer readable at export time)")
    validations = [r for r in MetricsLog(run_dir / "metrics.jsonl").read() if r.get("event") == "validation"]
    if validations:
        last = validations[-1]
        lines += ["", "## Last validation", ""]
        lines += [f"- {k}: {v}" for k, v in last.items() if k.startswith("val_")]
    lines += [
        "",
        "## Training settings",
        "",
        f"- steps {config.train.steps}, batch {config.train.batch_size} per process, "
        f"Adam lr {config.optim.lr}, grad clip {config.optim.grad_clip}",
        f"- loss: {config.loss.model_dump_json()}",
        "",
        "## Licence and limits",
        "",
        "Apache-2.0. The quality is bounded by the training data above: a model trained on a small corpus",
        "works only for faces, voices and head motion like those it saw.",
        "",
    ]
    return "\n".join(lines)


def export_bundle(
    run_dir: Path,
    out_dir: Path,
    overwrite: bool = False,
    use_ema: bool = True,
    card: Path | None = None,
    renderer: Path | None = None,
) -> Path:
    """Write the bundle of a stage-2 run (newest complete checkpoint; EMA weights when present).

    ``card``: a markdown file stored as the bundle's README.md instead of the generated model card.
    ``renderer``: an auto-encoder fine-tuned after stage 2 with ``trainable: decoder`` (a stage-1 run dir or
    a model folder) to ship instead of the run's own; :func:`with_renderer` checks that its motion latents
    are the run's."""
    try:  # first: --overwrite replaces a bundle, never another folder, and a refusal costs nothing
        check_bundle_target(out_dir, overwrite=overwrite)
    except FileExistsError as error:
        raise ConfigError(str(error)) from None
    config = _read_run(run_dir)
    if card is not None and not card.is_file():
        raise ConfigError(f"model card {card} does not exist")
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None:
        raise ConfigError(f"{run_dir} has no complete checkpoint yet: train longer (train.checkpoint_every)")
    if not (run_dir / AE_COPY / "model.safetensors").is_file():
        raise ConfigError(f"{run_dir / AE_COPY} is missing: the run dir is incomplete")
    ae = MotionAutoEncoder.from_pretrained(str(run_dir / AE_COPY))
    if renderer is not None:
        ae = with_renderer(ae, renderer, run_dir)
    flow = FlowMatchingTransformer.from_pretrained(str(checkpoint / "flow"))
    projection = AudioProjection.from_pretrained(str(checkpoint / "audio_projection"))
    weights = "raw"
    ema = checkpoint / "ema.safetensors"
    if use_ema and ema.is_file():
        apply_ema(FlowTrainModule(flow, projection), ema)
        weights = "EMA"
    step = int(checkpoint.name.split("-")[1])
    emotion = config.emotion  # a predictor the bundle can run, not a fixed choice or the dataset's labels
    emotion_predictor = None
    if isinstance(emotion, PredictorSpec) and emotion.name not in NOT_RUN:
        emotion_predictor = emotion
    manifest = BundleManifest(
        resolution=ae.config.size,
        audio=config.audio,
        emotion_predictor=emotion_predictor,
        defaults=GenerationDefaults(
            steps=config.sample.nfe,
            method=config.sample.method,
            audio_scale=config.sample.audio_scale,
            emotion_scale=config.sample.emotion_scale,
            **config.export.model_dump(),
        ),
        license="apache-2.0",
        description=f"float-train export of {run_dir.name} at step {step}"
        + ("" if renderer is None else f", renderer from {renderer.name}"),
    )
    text = card.read_text() if card is not None else model_card(config, ae, flow, step, run_dir, weights)
    if card is None and renderer is not None:
        text += (
            f"\nThe auto-encoder's renderer was fine-tuned after stage 2 (`{renderer}`, encoder unchanged).\n"
        )
    return save_bundle(
        out_dir,
        manifest=manifest,
        motion_ae=ae,
        flow=flow,
        audio_projection=projection,
        model_card=text,
        overwrite=overwrite,
    )
