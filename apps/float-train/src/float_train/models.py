"""Loading trained parts back: the frozen auto-encoder stage 2 needs, and stage-2 weights for export."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import torch
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
from float_train.checkpoint import latest_checkpoint
from float_train.config import ConfigError

__all__ = ["FlowTrainModule", "apply_ema", "load_motion_ae", "save_pretrained_atomic"]


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


def load_motion_ae(path: Path, use_ema: bool = True) -> tuple[MotionAutoEncoder, str]:
    """A ``MotionAutoEncoder`` from a saved model folder or a stage-1 run dir (its newest complete
    checkpoint, EMA weights when it has them). Returns the model and a description of where it came from."""
    if (path / "config.json").is_file() and (path / "model.safetensors").is_file():
        return MotionAutoEncoder.from_pretrained(str(path)), str(path)
    checkpoint = latest_checkpoint(path)
    if checkpoint is None or not (checkpoint / "model" / "model.safetensors").is_file():
        raise ConfigError(
            f"motion_ae: {path} is neither a MotionAutoEncoder folder (config.json + model.safetensors) nor "
            "a stage-1 run dir with a complete checkpoint; train one with `float-train ae CONFIG` first"
        )
    model = MotionAutoEncoder.from_pretrained(str(checkpoint / "model"))
    ema = checkpoint / "ema.safetensors"
    if use_ema and ema.is_file():
        apply_ema(model, ema)
        return model, f"{checkpoint} (EMA weights)"
    return model, str(checkpoint)


def save_pretrained_atomic(model: nn.Module, folder: Path) -> None:
    """``save_pretrained`` into a temporary sibling, renamed into place (no hub README)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        model.save_pretrained(staging)  # type: ignore[operator]
        (staging / "README.md").unlink(missing_ok=True)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


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
    ) -> LossBreakdown:
        """L_OT + lambda L_vel of a batch of windows.

        Args:
            motion: [B, P + L, d] motion latents (P context frames then L current frames).
            audio: [B, P + L, A] raw audio-encoder features of the same frames.
            emotion: [B, 7] clip emotion.
            generator: draws the source frame, t, the noise and the condition dropout.
        """
        P = self.flow.config.num_prev_frames
        B, frames = motion.shape[:2]
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
