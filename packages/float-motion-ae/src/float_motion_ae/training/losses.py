"""Reconstruction losses for training the auto-encoder (no training loop here).

``L = w_l1 * L1 + w_lp * LPIPS(VGG) + w_comp * L_comp-lp (eyes, mouth) [+ w_adv * non-saturating GAN]``.
With ``mouth_l1`` > 0 the L1 is weighted ``1 + mouth_l1`` on the mouth band (:func:`mouth_band_mask`).
The paper does not publish its weights; the defaults below are starting points, set them in ``LossWeights``.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from float_motion_ae.training.discriminator import generator_adversarial_loss

VGG_ENV = "FLOAT_LPIPS_VGG"
"""Environment variable naming the local VGG16 weights file used when no path is passed."""

VGG_FILE_HINT = (
    "torchvision's ImageNet VGG16 weights 'vgg16-397923af.pth' "
    "(https://download.pytorch.org/models/vgg16-397923af.pth, or the torch hub cache "
    "~/.cache/torch/hub/checkpoints/)"
)

# torchvision vgg16.features index -> the LPIPS slice holding that layer (relu1_2 | relu2_2 | ... | relu5_3).
_VGG_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
_SLICE_BOUNDS = ((0, 4), (4, 9), (9, 16), (16, 23), (23, 30))

# (x0, y0, x1, y1) as fractions of the image side, for face crops aligned like FLOAT's (face centred, eyes
# at ~40% height, mouth at ~75%): left eye, right eye, mouth. Use landmark boxes for unaligned data.
FIXED_COMPONENT_BOXES: tuple[tuple[float, float, float, float], ...] = (
    (0.25, 0.32, 0.48, 0.52),
    (0.52, 0.32, 0.75, 0.52),
    (0.32, 0.62, 0.68, 0.86),
)


class LossWeights(BaseModel):
    """Weights of the auto-encoder loss terms (0 disables a term)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    l1: float = Field(1.0, ge=0.0, description="pixel L1 between reconstruction and driving frame")
    perceptual: float = Field(1.0, ge=0.0, description="LPIPS (VGG) on the whole frame")
    component: float = Field(1.0, ge=0.0, description="LPIPS on eye and mouth crops (L_comp-lp)")
    adversarial: float = Field(0.0, ge=0.0, description="non-saturating GAN loss (needs a Discriminator)")
    r1_gamma: float = Field(10.0, ge=0.0, description="R1 weight for the discriminator step (gamma)")
    component_crop: int = Field(64, ge=16, description="side of the resampled eye/mouth crops, pixels")
    mouth_l1: float = Field(
        0.0,
        ge=0.0,
        description="extra pixel L1 on the mouth band of an aligned crop (mouth_band_mask): at 64 px the "
        "mouth is a few pixels, and a weight of 2 makes them count 3x",
    )


def _load_vgg_state(path: Path) -> dict[str, torch.Tensor]:
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path} does not hold a VGG16 state dict (got {type(state).__name__})")
    mapped: dict[str, torch.Tensor] = {}
    missing: list[str] = []
    for index in _VGG_CONV_INDICES:
        slice_id = next(s for s, (lo, hi) in enumerate(_SLICE_BOUNDS) if lo <= index < hi) + 1
        for name in ("weight", "bias"):
            key = f"features.{index}.{name}"
            if key not in state:
                missing.append(key)
                continue
            mapped[f"slice{slice_id}.{index}.{name}"] = state[key]
    if missing:
        raise ValueError(
            f"{path} is not a torchvision VGG16 checkpoint: missing {', '.join(missing[:4])}"
            f"{' ...' if len(missing) > 4 else ''}; expected {VGG_FILE_HINT}"
        )
    return mapped


def resolve_vgg_path(path: str | Path | None) -> Path:
    """The VGG16 weights file: ``path``, else ``$FLOAT_LPIPS_VGG``; raises ``FileNotFoundError`` if absent."""
    chosen = path if path is not None else os.environ.get(VGG_ENV)
    if chosen is None:
        raise FileNotFoundError(
            f"LPIPS needs a local VGG16 backbone: pass backbone_path= or set {VGG_ENV} to {VGG_FILE_HINT}. "
            "Nothing is downloaded automatically."
        )
    resolved = Path(chosen).expanduser()
    if not resolved.is_file():
        raise FileNotFoundError(
            f"LPIPS VGG16 backbone not found at {resolved}: place {VGG_FILE_HINT} there, or point "
            f"backbone_path= / {VGG_ENV} at it."
        )
    return resolved


class PerceptualLoss(nn.Module):
    """LPIPS (v0.1, VGG16 trunk) between image batches in [-1, 1]; frozen, returns one scalar.

    The linear calibration layers ship inside the ``lpips`` package (BSD-2); the VGG16 trunk is read from
    ``backbone_path`` (or ``$FLOAT_LPIPS_VGG``). Inputs must be at least 16x16 (VGG's four poolings).
    """

    def __init__(self, backbone_path: str | Path | None = None):
        super().__init__()
        try:
            import lpips  # the [train] extra: only training needs it, the model never does
        except ModuleNotFoundError as error:
            raise ModuleNotFoundError(
                "PerceptualLoss needs the lpips package: pip install 'float-motion-ae[train]'"
            ) from error

        path = resolve_vgg_path(backbone_path)
        backbone = _load_vgg_state(path)  # validate the file before building the network
        with warnings.catch_warnings():
            # lpips builds torchvision's vgg16 with the deprecated `pretrained=` argument.
            warnings.simplefilter("ignore", UserWarning)
            self.lpips = lpips.LPIPS(net="vgg", pretrained=True, pnet_rand=True, verbose=False)
        self.lpips.net.load_state_dict(backbone, strict=True)
        self.lpips.eval().requires_grad_(False)
        self.backbone_path = path

    def train(self, mode: bool = True) -> PerceptualLoss:
        # The metric stays in eval mode (no dropout) even inside a model put in training mode.
        super().train(mode)
        self.lpips.eval()
        return self

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``prediction``, ``target`` [B, 3, H, W] in [-1, 1], H, W >= 16 -> mean LPIPS distance (scalar)."""
        if prediction.shape != target.shape or prediction.ndim != 4 or prediction.shape[1] != 3:
            raise ValueError(
                f"prediction and target must both have shape [B, 3, H, W]; got {list(prediction.shape)} "
                f"and {list(target.shape)}"
            )
        if min(prediction.shape[-2:]) < 16:
            raise ValueError(f"LPIPS needs images of at least 16x16; got {list(prediction.shape[-2:])}")
        return self.lpips(prediction, target).mean()


def mouth_band_mask(size: int, device: torch.device | None = None) -> torch.Tensor:
    """``[1, 1, S, S]`` mask, 1 on the lower-middle band of an official 1.6x face crop where the mouth moves
    (rows [55 %, 85 %), columns [28 %, 72 %) of the side), 0 elsewhere."""
    mask = torch.zeros(1, 1, size, size, device=device)
    mask[..., int(0.55 * size) : int(0.85 * size), int(0.28 * size) : int(0.72 * size)] = 1.0
    return mask


def fixed_component_boxes(size: int, batch: int, device: torch.device | None = None) -> torch.Tensor:
    """Eye/eye/mouth boxes for aligned face crops: [batch, 3, 4] pixel (x0, y0, x1, y1)."""
    boxes = torch.tensor(FIXED_COMPONENT_BOXES, dtype=torch.float32, device=device) * size
    return boxes[None].expand(batch, -1, -1).clone()


def component_boxes_from_landmarks(
    landmarks: torch.Tensor, margin: float = 0.5, min_side: float = 8.0
) -> torch.Tensor:
    """Square eye/eye/mouth boxes from 68-point landmarks (iBUG order).

    Args:
        landmarks: [B, 68, 2] pixel (x, y); points 36-41 / 42-47 are the eyes, 48-67 the mouth.
        margin: extra border as a fraction of the region's larger extent, on each side.
        min_side: smallest box side in pixels (a closed eye is nearly flat).

    Returns:
        [B, 3, 4] pixel boxes (x0, y0, x1, y1).
    """
    if landmarks.ndim != 3 or landmarks.shape[1:] != (68, 2):
        raise ValueError(
            f"landmarks must have shape [B, 68, 2] (iBUG 68 points); got {list(landmarks.shape)}"
        )
    boxes = []
    for lo, hi in ((36, 42), (42, 48), (48, 68)):
        pts = landmarks[:, lo:hi].float()
        top_left, bottom_right = pts.amin(1), pts.amax(1)
        centre = (top_left + bottom_right) / 2
        side = ((bottom_right - top_left).amax(1) * (1 + 2 * margin)).clamp_min(min_side)
        half = side[:, None] / 2
        boxes.append(torch.cat([centre - half, centre + half], dim=1))
    return torch.stack(boxes, dim=1)


def crop_regions(images: torch.Tensor, boxes: torch.Tensor, out_size: int) -> torch.Tensor:
    """Bilinearly resample boxes of ``images`` [B, 3, H, W] -> crops [B * R, 3, out, out].

    ``boxes`` [B, R, 4] pixel (x0, y0, x1, y1); differentiable w.r.t. ``images``.
    """
    batch, _, height, width = images.shape
    if boxes.ndim != 3 or boxes.shape[0] != batch or boxes.shape[2] != 4:
        raise ValueError(
            f"boxes must have shape [{batch}, R, 4] pixel (x0, y0, x1, y1); got {list(boxes.shape)}"
        )
    regions = boxes.shape[1]
    b = boxes.to(images.dtype).reshape(-1, 4)
    # Affine map from the crop's [-1, 1] square to normalised image coordinates (align_corners=False).
    cx = (b[:, 0] + b[:, 2]) / width - 1
    cy = (b[:, 1] + b[:, 3]) / height - 1
    sx = (b[:, 2] - b[:, 0]) / width
    sy = (b[:, 3] - b[:, 1]) / height
    theta = torch.zeros(b.shape[0], 2, 3, dtype=images.dtype, device=images.device)
    theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = sx, cx, sy, cy
    grid = F.affine_grid(theta, [b.shape[0], 3, out_size, out_size], align_corners=False)
    source = images.repeat_interleave(regions, dim=0)
    return F.grid_sample(source, grid, mode="bilinear", padding_mode="border", align_corners=False)


@dataclass(frozen=True)
class LossTerms:
    """Weighted total (scalar, differentiable) and the unweighted terms (scalars) for logging."""

    total: torch.Tensor
    l1: torch.Tensor
    perceptual: torch.Tensor
    component: torch.Tensor
    adversarial: torch.Tensor


class MotionAELoss(nn.Module):
    """Combines the reconstruction terms with ``LossWeights``.

    Args:
        weights: term weights.
        perceptual: a ``PerceptualLoss`` (needed when ``weights.perceptual`` or ``weights.component`` > 0).
    """

    def __init__(self, weights: LossWeights | None = None, perceptual: PerceptualLoss | None = None):
        super().__init__()
        self.weights = weights or LossWeights()
        if perceptual is None and (self.weights.perceptual > 0 or self.weights.component > 0):
            raise ValueError(
                "weights.perceptual / weights.component > 0 need "
                "perceptual=PerceptualLoss(backbone_path=...); "
                "set both weights to 0 to train with L1 only"
            )
        self.perceptual = perceptual

    def forward(
        self,
        prediction: torch.Tensor,
        target: torch.Tensor,
        boxes: torch.Tensor | None = None,
        fake_logits: torch.Tensor | None = None,
    ) -> LossTerms:
        """Loss of ``prediction`` vs ``target`` ([B, 3, S, S] in [-1, 1]).

        Args:
            boxes: [B, R, 4] eye/mouth pixel boxes (``component_boxes_from_landmarks``); default: fixed boxes
                for aligned crops (``fixed_component_boxes``).
            fake_logits: discriminator logits [B] on ``prediction``; required if ``weights.adversarial`` > 0.
        """
        w = self.weights
        zero = prediction.new_zeros(())
        if w.mouth_l1 > 0:
            # one weighted mean, so mouth_l1 = 0 gives exactly F.l1_loss
            weight = 1.0 + w.mouth_l1 * mouth_band_mask(prediction.shape[-1], prediction.device)
            l1 = ((prediction - target).abs() * weight).mean()
        else:
            l1 = F.l1_loss(prediction, target)
        perceptual = component = adversarial = zero
        if w.perceptual > 0 and self.perceptual is not None:
            perceptual = self.perceptual(prediction, target)
        if w.component > 0 and self.perceptual is not None:
            if boxes is None:
                boxes = fixed_component_boxes(prediction.shape[-1], prediction.shape[0], prediction.device)
            component = self.perceptual(
                crop_regions(prediction, boxes, w.component_crop),
                crop_regions(target, boxes, w.component_crop),
            )
        if w.adversarial > 0:
            if fake_logits is None:
                raise ValueError("weights.adversarial > 0 needs fake_logits = discriminator(prediction)")
            adversarial = generator_adversarial_loss(fake_logits)
        total = w.l1 * l1 + w.perceptual * perceptual + w.component * component + w.adversarial * adversarial
        return LossTerms(
            total=total, l1=l1, perceptual=perceptual, component=component, adversarial=adversarial
        )
