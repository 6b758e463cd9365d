"""Validated configurations: the transformer's shape, the training loss, the ODE sampler.

pydantic lives here, at the edge; the modules that do the maths take plain numbers and tensors.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Emotion classes of the official speech-emotion classifier, in the order of the 7-d emotion vector.
EMOTION_LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


class TransformerConfig(BaseModel):
    """Shape of a :class:`~float_flow.FlowMatchingTransformer`; the defaults are the paper/official model.

    ``num_frames`` (L) current frames follow ``num_prev_frames`` (L') context frames, so one forward sees
    ``L' + L`` tokens (official: 10 + 50 = 60). ``dim_pose = 0`` builds no pose branch (the official model);
    ``dim_pose = 6`` adds the paper's 6-d head-pose condition.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    dim_motion: int = Field(512, gt=0, description="d: motion latent width (input and output)")
    dim_hidden: int = Field(1024, gt=0, description="h: transformer width")
    depth: int = Field(8, gt=0, description="number of transformer blocks")
    num_heads: int = Field(8, gt=0, description="attention heads; must divide dim_hidden")
    mlp_ratio: float = Field(4.0, gt=0, description="MLP hidden width = mlp_ratio * dim_hidden")
    num_frames: int = Field(50, gt=0, description="L: current frames per window (2 s at 25 fps)")
    num_prev_frames: int = Field(10, ge=0, description="L': context frames before the window")
    attention_window: int = Field(2, ge=0, description="band half-width: frame i attends i-w..i+w")
    dim_audio: int = Field(512, gt=0, description="frame-aligned audio feature width")
    dim_emotion: int = Field(7, gt=0, description="emotion vector width (7 classes)")
    dim_pose: int = Field(0, ge=0, description="head-pose width (0 = no pose branch, paper: 6)")
    freq_dim: int = Field(256, gt=0, description="sinusoidal width of the flow-time embedding (even)")
    motion_reference: Literal["absolute", "source"] = Field(
        "absolute",
        description="what the motion tokens hold: 'absolute' latents (official), or 'source': latents minus "
        "the source motion, so the model generates a displacement from the portrait's own motion, a target "
        "that does not carry each face's own offset in latent space",
    )

    @model_validator(mode="after")
    def _check(self) -> TransformerConfig:
        if self.dim_hidden % self.num_heads != 0:
            raise ValueError(
                f"dim_hidden={self.dim_hidden} is not divisible by num_heads={self.num_heads}: "
                "pick num_heads dividing the width"
            )
        if self.dim_hidden % 2 != 0 or self.freq_dim % 2 != 0:
            raise ValueError("dim_hidden and freq_dim must be even (sin/cos pairs in the positional tables)")
        return self

    @property
    def num_tokens(self) -> int:
        """L' + L: tokens in one forward pass."""
        return self.num_prev_frames + self.num_frames

    @property
    def dim_condition(self) -> int:
        """Width of the per-frame condition before ``c_embedder``: source + audio + emotion (+ pose)."""
        return self.dim_motion + self.dim_audio + self.dim_emotion + self.dim_pose


class LossConfig(BaseModel):
    """Training objective: L = L_OT + lambda_vel * L_vel, with condition dropout for guidance.

    Dropout zeroes the condition per sample (the "null" condition that guidance uses at inference).
    Paper: lambda_vel = 1, source/audio/emotion p = 0.1 each, context p = 0.5.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    lambda_vel: float = Field(1.0, ge=0, description="weight of the velocity-difference loss L_vel")
    p_source: float = Field(0.1, ge=0, le=1, description="drop probability of the source motion")
    p_audio: float = Field(0.1, ge=0, le=1, description="drop probability of the current audio")
    p_emotion: float = Field(0.1, ge=0, le=1, description="drop probability of the emotion vector")
    p_context: float = Field(0.5, ge=0, le=1, description="drop probability of the context frames")
    p_pose: float = Field(0.1, ge=0, le=1, description="drop probability of the head pose (if any)")


class SamplerConfig(BaseModel):
    """Fixed-step ODE integration of the velocity field from t = 0 (noise) to t = 1 (motion).

    ``nfe`` counts velocity evaluations (each one batched FMT forward when guidance is on): Euler takes
    ``nfe`` steps, midpoint ``nfe / 2`` steps (so ``nfe`` must be even). The official release calls
    ``odeint(method='euler')`` on ``linspace(0, 1, 10)``: a 10-point grid, i.e. 9 Euler steps of 1/9 —
    exactly ``SamplerConfig.official()`` = Euler, nfe 9.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Literal["euler", "midpoint"] = "euler"
    nfe: int = Field(10, gt=0, description="number of velocity-field evaluations")

    @model_validator(mode="after")
    def _check(self) -> SamplerConfig:
        if self.method == "midpoint" and self.nfe % 2 != 0:
            raise ValueError(
                f"midpoint sampling uses 2 evaluations per step, so nfe must be even (got nfe={self.nfe})"
            )
        return self

    @property
    def num_steps(self) -> int:
        """Number of integration steps on [0, 1]."""
        return self.nfe if self.method == "euler" else self.nfe // 2

    @classmethod
    def official(cls) -> SamplerConfig:
        """The official release's solver: 9 Euler steps (its ``--nfe 10`` is the grid length, not the NFE)."""
        return cls(method="euler", nfe=9)
