"""Loading trained parts back: the frozen auto-encoder stage 2 needs, and stage-2 weights for export."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import yaml
from safetensors.torch import load_file
from torch import nn

from float_audio import AudioProjection
from float_flow import (
    FlowMatchingTransformer,
    LossBreakdown,
    LossConfig,
    WindowConditions,
    flow_matching_loss,
)
from float_motion_ae import MotionAutoEncoder
from float_motion_ae.training import coefficient_scale, rescale_latents
from float_pipeline import atomic_path
from float_train.checkpoint import latest_checkpoint, write_text_atomic
from float_train.config import ConfigError

__all__ = [
    "FINAL_DIR",
    "FlowTrainModule",
    "apply_ema",
    "load_motion_ae",
    "save_pretrained_atomic",
    "write_final_motion_ae",
]


def apply_ema(module: nn.Module, ema_file: Path, prefix: str = "") -> None:
    """Copy EMA averages (``ema.safetensors`` of a checkpoint) into ``module``'s parameters.

    Keys are parameter names of the trained module; ``prefix`` selects a submodule (``"flow."``).
    """
    state = load_file(str(ema_file))
    with torch.no_grad():
        for name, param in module.named_parameters():
            key = prefix + name
            if key in state:
                param.copy_(state[key].to(param.dtype))


FINAL_DIR = "motion_ae"
"""Folder of a stage-1 run dir holding the rescaled final model (runs with ``coeff_std``)."""
_FINAL_SOURCE = "rescaled_from.json"


def _is_model_folder(path: Path) -> bool:
    return (path / "config.json").is_file() and (path / "model.safetensors").is_file()


def _checkpoint_model(checkpoint: Path, use_ema: bool) -> tuple[MotionAutoEncoder, str]:
    model = MotionAutoEncoder.from_pretrained(str(checkpoint / "model"))
    ema = checkpoint / "ema.safetensors"
    if use_ema and ema.is_file():
        apply_ema(model, ema)
        return model, f"{checkpoint} (EMA weights)"
    return model, str(checkpoint)


def _wants_rescale(run_dir: Path) -> bool:
    saved = run_dir / "config.yaml"
    return saved.is_file() and (yaml.safe_load(saved.read_text()) or {}).get("coeff_std") is not None


def load_motion_ae(path: Path, use_ema: bool = True) -> tuple[MotionAutoEncoder, str]:
    """A ``MotionAutoEncoder`` from a saved model folder or a stage-1 run dir. Returns the model and a
    description of where it came from.

    From a run dir: its rescaled final model (``RUN_DIR/motion_ae``, runs with ``coeff_std``) when that was
    written from the newest complete checkpoint, else that checkpoint (EMA weights when it has them).

    Raises:
        ConfigError: not a model or run dir; or a ``coeff_std`` run whose rescaled model is missing or older
            than its newest checkpoint (the run did not finish).
    """
    if _is_model_folder(path):
        return MotionAutoEncoder.from_pretrained(str(path)), str(path)
    checkpoint = latest_checkpoint(path)
    if checkpoint is None or not (checkpoint / "model" / "model.safetensors").is_file():
        raise ConfigError(
            f"motion_ae: {path} is neither a MotionAutoEncoder folder (config.json + model.safetensors) nor "
            "a stage-1 run dir with a complete checkpoint; train one with `float-train ae CONFIG` first"
        )
    final = path / FINAL_DIR
    if _wants_rescale(path) or _is_model_folder(final):
        source = final / _FINAL_SOURCE
        record = json.loads(source.read_text()) if source.is_file() and _is_model_folder(final) else {}
        if record.get("checkpoint") != checkpoint.name:
            raise ConfigError(
                f"motion_ae: {path} rescales its latents at the end (coeff_std) but {final} was not written "
                f"from its newest checkpoint {checkpoint.name}: finish the run with `float-train ae "
                f"{path / 'config.yaml'} --resume`"
            )
        model = MotionAutoEncoder.from_pretrained(str(final))
        return model, f"{final} (latents x{record['latent_scale']:.4g} of {checkpoint.name})"
    return _checkpoint_model(checkpoint, use_ema)


def write_final_motion_ae(
    run_dir: Path, coeff_std: float, sample: torch.Tensor, use_ema: bool = True
) -> float:
    """Rescale the newest checkpoint's model so the motion coefficients of ``sample`` (``[N, 3, S, S]``
    frames in [-1, 1]) have mean std ``coeff_std``, and save it to ``RUN_DIR/motion_ae`` (atomically).

    The renders do not change (:func:`float_motion_ae.training.rescale_latents`); the flow model of stage 2,
    which starts from N(0, I) noise, then learns latents on a scale of about 1. Returns the factor applied.
    """
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None:
        raise ConfigError(f"{run_dir} has no complete checkpoint to rescale")
    model, _ = _checkpoint_model(checkpoint, use_ema)
    model.eval()
    factor = coeff_std / coefficient_scale(model, sample)
    rescale_latents(model, factor)
    final = run_dir / FINAL_DIR
    save_pretrained_atomic(model, final)
    record = {
        "checkpoint": checkpoint.name,
        "latent_scale": factor,
        "coeff_std": coeff_std,
        "frames": len(sample),
    }
    write_text_atomic(final / _FINAL_SOURCE, json.dumps(record, indent=2) + "\n")
    return factor


def save_pretrained_atomic(model: nn.Module, folder: Path) -> None:
    """``save_pretrained`` into a temporary sibling, renamed into place (no hub README)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder, folder=True) as staging:
        model.save_pretrained(staging)  # type: ignore[operator]
        (staging / "README.md").unlink(missing_ok=True)


class FlowTrainModule(nn.Module):
    """The stage-2 trainable pair: audio projection + flow-matching transformer, loss in ``forward``.

    Keeping the loss inside ``forward`` lets accelerate wrap one module (DDP synchronises both parts'
    gradients and autocast covers both).
    """

    def __init__(self, flow: FlowMatchingTransformer, projection: AudioProjection) -> None:
        super().__init__()
        self.flow = flow
        self.projection = projection

    def forward(
        self,
        motion: torch.Tensor,
        audio: torch.Tensor,
        emotion: torch.Tensor,
        loss_config: LossConfig,
        generator: torch.Generator | None = None,
        source: torch.Tensor | None = None,
    ) -> LossBreakdown:
        """L_OT + lambda L_vel of a batch of windows.

        Args:
            motion: [B, P + L, d] motion latents (P context frames then L current frames).
            audio: [B, P + L, A] raw audio-encoder features of the same frames.
            emotion: [B, 7] clip emotion.
            generator: draws the source frame (when ``source`` is None), t, the noise and the condition
                dropout.
            source: [B, d] source (reference) motion; None: a random frame of each window.
        """
        P = self.flow.config.num_prev_frames
        B, frames = motion.shape[:2]
        if source is None:
            # The source (reference) motion is one frame of the same clip, drawn per sample.
            pick = torch.randint(0, frames, (B,), generator=generator, device=motion.device)
            source = motion[torch.arange(B, device=motion.device), pick]
        projected = self.projection(audio)
        cond = WindowConditions(
            source=source,
            audio=projected[:, P:],
            emotion=emotion,
            prev_motion=motion[:, :P],
            prev_audio=projected[:, :P],
        )
        return flow_matching_loss(self.flow, motion[:, P:], cond, config=loss_config, generator=generator)
