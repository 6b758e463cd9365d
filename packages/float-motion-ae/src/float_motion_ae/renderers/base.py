"""``Renderer``: the object that decides how the decoder executes (the official formulation by default).

The decoder's modules (``ModulatedConv2d``, ``StyledConv``, ``Synthesis``) hold a renderer and hand every
call to it, as diffusers' attention layers hand theirs to an attention processor: to change how the decoder
runs, swap the object (``MotionAutoEncoder.set_renderer``), not a flag inside each layer. The base class runs
the official formulation, written in the decoder modules themselves (their ``reference`` methods); subclasses
override the hooks they speed up and fall back to the base where their kernels do not apply.

Every renderer also says how a batch of N > 1 frames is modulated (``batch``, see ``BatchStrategy``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

import torch

if TYPE_CHECKING:
    from float_motion_ae.decoder import ModulatedConv2d, StyledConv, Synthesis

BatchStrategy = Literal["auto", "weights", "activations"]
"""How a batch of N > 1 samples is modulated: ``"weights"`` loops over samples with per-sample weights
(exact: a frame decodes bit-identically alone or in a batch; CPU default), ``"activations"`` runs one dense
conv on ``x * s`` then demodulates (GPU default; equal to the per-sample result up to float rounding),
``"auto"`` picks by device."""

BATCH_STRATEGIES: tuple[str, ...] = get_args(BatchStrategy)


@dataclass(frozen=True)
class Renderer:
    """Runs the decoder in the official formulation; the base of every renderer.

    Attributes:
        batch: how batches of N > 1 frames are modulated (``BatchStrategy``; default ``"auto"``).

    Raises:
        ValueError: ``batch`` is not one of ``"auto"``, ``"weights"``, ``"activations"``.
    """

    batch: BatchStrategy = "auto"

    def __post_init__(self) -> None:
        if self.batch not in BATCH_STRATEGIES:
            raise ValueError(f"batch strategy must be 'auto', 'weights' or 'activations'; got {self.batch!r}")

    def batch_mode(self, x: torch.Tensor) -> Literal["weights", "activations"]:
        """The strategy for ``x``: ``batch``, with ``"auto"`` resolved by ``x``'s device."""
        if self.batch == "auto":
            return "activations" if x.is_cuda else "weights"
        return self.batch

    # ----------------------------------------------------------------------------------- hooks
    def modulated_conv(self, conv: ModulatedConv2d, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """``ModulatedConv2d``: ``x`` [B, in, H, W], ``style`` [B, style_dim] -> [B, out, H', W']."""
        return conv.reference(x, style, self.batch_mode(x))

    def styled_conv(self, layer: StyledConv, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """``StyledConv``: modconv, noise (never fed), activation: [B, in, H, W] -> [B, out, H', W']."""
        return layer.reference(x, style)

    def render(
        self, synthesis: Synthesis, latent: torch.Tensor, features: tuple[torch.Tensor, ...]
    ) -> torch.Tensor:
        """The decoder: ``latent`` [B, d], features coarse to fine ([1 or B, C_l, H_l, W_l]) -> [B, 3, S, S].

        With the ``"weights"`` strategy a batch is rendered frame by frame: the same cost per frame on CPU,
        and each frame is bit-identical to decoding it alone (the warps amplify float rounding, so batched
        kernels would differ by ~1e-5).
        """
        if latent.shape[0] > 1 and self.batch_mode(latent) == "weights":
            return torch.cat(
                [
                    self.render_batch(
                        synthesis,
                        latent[i : i + 1],
                        tuple(f[i : i + 1] if f.shape[0] > 1 else f for f in features),
                    )
                    for i in range(latent.shape[0])
                ]
            )
        return self.render_batch(synthesis, latent, features)

    def render_batch(
        self, synthesis: Synthesis, latent: torch.Tensor, features: tuple[torch.Tensor, ...]
    ) -> torch.Tensor:
        """One batch (or one frame) through the decoder; ``render``'s arguments and result."""
        return synthesis.reference(latent, features)


@dataclass(frozen=True)
class ReferenceRenderer(Renderer):
    """The official formulation everywhere, at inference too (the base behaviour under its own name).

    Modulated weight, stride-2 transposed conv, separate blur, bias and leaky-ReLU passes, ``grid_sample``
    warp: what training always runs, and the order to compare fast renderers against.
    """


@dataclass(frozen=True)
class InferenceRenderer(Renderer):
    """Base of the fast renderers: fused CPU kernels where no gradient is needed, the official formulation
    elsewhere (training, other devices, layer shapes the kernels do not cover)."""

    def accepts(self, conv: ModulatedConv2d, x: torch.Tensor) -> bool:
        """Whether this renderer's kernels run ``conv`` on ``x`` (else the base, official formulation)."""
        if x.device.type != "cpu":
            return False
        if torch.is_grad_enabled() and (x.requires_grad or conv.weight.requires_grad):
            return False
        return not (conv.upsample and (conv.kernel_size != 3 or tuple(conv.blur.kernel.shape) != (4, 4)))
