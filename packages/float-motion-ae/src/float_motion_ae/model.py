"""``MotionAutoEncoder``: image <-> (identity latent, motion on an orthonormal basis)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from float_motion_ae.config import MotionAEConfig
from float_motion_ae.decoder import Synthesis, ToFlow
from float_motion_ae.encoder import Encoder
from float_motion_ae.layers import warp_dtype
from float_motion_ae.renderers import Renderer

RANGE_TOLERANCE = 1e-3
"""Images may exceed [-1, 1] by this much (resampling overshoot) before they are rejected."""


@dataclass(frozen=True)
class Encoded:
    """What the encoder extracts from images [B, 3, S, S].

    Attributes:
        identity: ``w_{S->R}`` [B, d] (d = 512 officially), the appearance latent.
        features: multi-scale maps, coarse to fine, [B, C_l, 2^l, 2^l] for l = 3..log2(S)
            (official: 512@8, 512@16, 512@32, 256@64, 128@128, 64@256, 32@512).
        coeffs: motion coefficients lambda [B, M] (M = 20 officially); ``motion(coeffs)`` gives [B, d].
    """

    identity: torch.Tensor
    features: tuple[torch.Tensor, ...]
    coeffs: torch.Tensor

    def select(self, index: int) -> Encoded:
        """The encoding of one image of the batch, keeping a batch axis of 1."""
        return Encoded(
            identity=self.identity[index : index + 1],
            features=tuple(f[index : index + 1] for f in self.features),
            coeffs=self.coeffs[index : index + 1],
        )


class MotionAutoEncoder(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="float-kit",
    repo_url="https://github.com/float-kit/float-kit",
    tags=["float", "talking-head", "motion-autoencoder"],
    license="apache-2.0",
):
    """LIA-style motion auto-encoder of FLOAT (official default: 512x512, d = 512, M = 20, 45.24 M params).

    Built from a ``MotionAEConfig`` (the one place the defaults live), saved as ``config.json`` by
    ``save_pretrained``; reload with ``MotionAutoEncoder.from_pretrained(folder_or_hub_id)``. Submodules
    ``enc`` and ``dec`` carry the official checkpoint's parameter names, see ``convert_official``.

    Args:
        config: a ``MotionAEConfig`` or a dict of its fields (as ``config.json`` holds); None: the official
            model.
        **overrides: config fields replacing those of ``config``, e.g. ``MotionAutoEncoder(size=64)``.

    Raises:
        pydantic.ValidationError (a ValueError): a field is invalid or unknown (the message names it).
    """

    def __init__(self, config: MotionAEConfig | Mapping[str, Any] | None = None, **overrides: Any):
        super().__init__()
        self.config = MotionAEConfig.build(config, **overrides)
        self.enc = Encoder(self.config)
        self.dec = Synthesis(self.config)

    def save_pretrained(self, save_directory: str | Path, *, config: Any = None, **kwargs: Any) -> str | None:
        """Write ``model.safetensors`` and ``config.json`` (this model's ``MotionAEConfig`` fields) to
        ``save_directory`` (see ``huggingface_hub.PyTorchModelHubMixin.save_pretrained``)."""
        config = self.config.model_dump() if config is None else config
        return super().save_pretrained(save_directory, config=config, **kwargs)

    @property
    def renderer(self) -> Renderer:
        """How the decoder runs (``float_motion_ae.renderers``); ``default_renderer()`` for a new model."""
        return self.dec.renderer

    def set_renderer(self, renderer: Renderer) -> None:
        """Run the decoder with ``renderer`` (``float_motion_ae.renderers``), e.g. ``ReferenceRenderer()``
        (the official formulation), ``ChannelsLastRenderer()``, ``FusedRenderer(winograd=True)`` or
        ``default_renderer(batch="activations")`` (one dense conv per layer for batches: faster training on
        CPU). The weights and the maths are unchanged.

        Raises:
            TypeError: ``renderer`` is not a ``float_motion_ae.renderers.Renderer``.
        """
        self.dec.set_renderer(renderer)

    def freeze_motion(self) -> None:
        """Freeze everything that produces a frame's motion latent: the encoder and the motion basis.

        For a renderer-only fine-tune: ``encode_motion`` keeps returning exactly the same latents for every
        image, so a flow transformer trained on them stays valid while the rest of the decoder learns. The
        encoder then also runs without autograd in training, which makes each step cheaper.
        """
        self.enc.requires_grad_(False)
        self.dec.direction.requires_grad_(False)

    @torch.no_grad()
    def zero_flow_heads(self) -> None:
        """Set the decoder's flow heads to zero, so training starts from the identity warp.

        A random head starts from a random warp that the first hundreds of training steps only undo (demo
        auto-encoder: 20.6 dB at step 300 with zero heads, 17.8 dB without).
        """
        for head in self.dec.to_flows:
            flow_head = cast(ToFlow, head)
            flow_head.conv.weight.zero_()
            flow_head.bias.zero_()

    def copy_weights_from(self, other: MotionAutoEncoder, source: str = "the other model") -> None:
        """Load ``other``'s weights (a second training phase starting from a first one's result).

        Raises:
            ValueError: the two configs differ (the message names ``source`` and both configs).
        """
        if other.config != self.config:
            raise ValueError(
                f"{source} holds a model with config {other.config.model_dump()}, but this model's is "
                f"{self.config.model_dump()}; make the two match"
            )
        self.load_state_dict(other.state_dict())

    # ----------------------------------------------------------------------------------------- checks
    def check_images(self, images: torch.Tensor, name: str = "images") -> None:
        """Raise ``ValueError`` unless ``images`` is float [B, 3, S, S] with values in [-1, 1]."""
        s = self.config.size
        expected = f"[B, 3, {s}, {s}] float RGB in [-1, 1]"
        if not isinstance(images, torch.Tensor):
            raise ValueError(
                f"{name} must be a torch.Tensor of shape {expected}; got {type(images).__name__}"
            )
        if images.ndim != 4 or images.shape[1] != 3 or images.shape[2] != s or images.shape[3] != s:
            hint = ""
            if images.ndim == 4 and images.shape[-1] == 3:
                hint = " (channels-last input: use images.permute(0, 3, 1, 2))"
            elif images.ndim == 3:
                hint = " (add a batch axis: images[None])"
            elif images.ndim == 4 and images.shape[2:] != (s, s):
                hint = f" (resize or crop to {s}x{s}, or build the model with size={images.shape[-1]})"
            raise ValueError(f"{name} must have shape {expected}; got {list(images.shape)}{hint}")
        if not images.is_floating_point():
            raise ValueError(
                f"{name} must be floating point in [-1, 1] with shape {expected}; got dtype {images.dtype} "
                "(convert uint8 with images.float() / 127.5 - 1)"
            )
        lo, hi = float(images.min()), float(images.max())
        if lo < -1.0 - RANGE_TOLERANCE or hi > 1.0 + RANGE_TOLERANCE:
            raise ValueError(
                f"{name} values must lie in [-1, 1] (shape {expected}); got min {lo:.3g}, max {hi:.3g} "
                "(map [0, 1] images with x * 2 - 1 and [0, 255] images with x / 127.5 - 1)"
            )

    def _check_features(self, features: tuple[torch.Tensor, ...], batch: int) -> None:
        shapes = self.config.feature_shapes()
        if len(features) != len(shapes):
            raise ValueError(
                f"features must be the {len(shapes)} encoder maps (coarse to fine {shapes}); "
                f"got {len(features)}"
            )
        for level, (feature, (c, h, w)) in enumerate(zip(features, shapes, strict=True)):
            if (
                feature.ndim != 4
                or tuple(feature.shape[1:]) != (c, h, w)
                or feature.shape[0] not in (1, batch)
            ):
                raise ValueError(
                    f"features[{level}] must have shape [1 or {batch}, {c}, {h}, {w}]; "
                    f"got {list(feature.shape)}"
                )

    # -------------------------------------------------------------------------------------- public API
    def encode(self, images: torch.Tensor) -> Encoded:
        """Encode images [B, 3, S, S] in [-1, 1] -> identity [B, d], feature maps, coeffs [B, M]."""
        self.check_images(images)
        identity, features, coeffs = self.enc(images)
        return Encoded(identity=identity, features=features, coeffs=coeffs)

    def basis(self) -> torch.Tensor:
        """The orthonormal motion basis Q [d, M] (QR of the stored direction weight, as the official)."""
        return self.dec.direction.basis()

    def motion(self, coeffs: torch.Tensor) -> torch.Tensor:
        """Motion latent ``coeffs @ Q^T``: [..., M] -> [..., d]."""
        m = self.config.motion_dim
        if coeffs.shape[-1] != m:
            raise ValueError(f"coeffs must have shape [..., {m}]; got {list(coeffs.shape)}")
        return self.dec.direction(coeffs)

    def encode_motion(self, images: torch.Tensor) -> torch.Tensor:
        """Motion latents [B, d] of images [B, 3, S, S] (the driving signal FLOAT's transformer learns)."""
        return self.motion(self.encode(images).coeffs)

    def prepare_features(
        self, features: tuple[torch.Tensor, ...] | list[torch.Tensor]
    ) -> tuple[torch.Tensor, ...]:
        """The source's encoder maps in the layout the CPU inference decoder reads fastest.

        Call once per source and pass the result to every ``decode`` of its frames: the maps become
        channels_last in the warp dtype (float32 for a bf16/fp16 model), which the channels-last route
        (``ChannelsLastRenderer``) would otherwise convert on every frame (~5% of a 512 px frame). Values and
        shapes are unchanged, so any route accepts the result.

        Args:
            features: coarse-to-fine maps [1 or N, C_l, H_l, W_l] (``encode(...).features``).

        Returns:
            The same maps, channels_last, in float32 when the model is half precision.
        """
        target = warp_dtype(next(self.parameters()).dtype)
        return tuple(feature.to(target).contiguous(memory_format=torch.channels_last) for feature in features)

    def decode(
        self,
        identity: torch.Tensor,
        motion: torch.Tensor,
        features: tuple[torch.Tensor, ...] | list[torch.Tensor],
    ) -> torch.Tensor:
        """Render ``identity + motion`` by warping the source features.

        Args:
            identity: [1 or N, d] identity latent of the source.
            motion: [N, d] motion latents (e.g. the N frames of a generated clip) or [d].
            features: the source's encoder maps, batch 1 (broadcast to all N motions: the inference hot
                path, computed once per portrait) or N.

        Returns:
            images [N, 3, S, S], roughly in [-1, 1] (unclamped, as the official decoder).
        """
        d = self.config.latent_dim
        if motion.ndim == 1:
            motion = motion[None]
        if motion.ndim != 2 or motion.shape[1] != d:
            raise ValueError(f"motion must have shape [N, {d}]; got {list(motion.shape)}")
        if identity.ndim != 2 or identity.shape[1] != d:
            raise ValueError(f"identity must have shape [1 or N, {d}]; got {list(identity.shape)}")
        batch = max(motion.shape[0], identity.shape[0])
        if motion.shape[0] not in (1, batch) or identity.shape[0] not in (1, batch):
            raise ValueError(
                f"identity {list(identity.shape)} and motion {list(motion.shape)} must share the batch size "
                "or have a batch of 1"
            )
        features = tuple(features)
        self._check_features(features, batch)
        latent = identity + motion
        return self.dec(latent, features)

    def reconstruct(self, source: torch.Tensor, driving: torch.Tensor) -> torch.Tensor:
        """Render ``source``'s appearance with ``driving``'s motion (the AE training objective).

        Args:
            source: [1 or B, 3, S, S] in [-1, 1] (one source may drive a whole batch).
            driving: [B, 3, S, S] in [-1, 1].

        Returns:
            [B, 3, S, S] reconstruction of ``driving``.
        """
        self.check_images(driving, "driving")
        src = self.encode(source)
        drv_identity, _ = self.enc.net_app(driving)
        motion = self.motion(self.enc.fc(drv_identity))
        return self.decode(src.identity, motion, src.features)

    def forward(self, source: torch.Tensor, driving: torch.Tensor) -> torch.Tensor:
        """Same as ``reconstruct``."""
        return self.reconstruct(source, driving)
