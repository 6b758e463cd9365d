"""Training parts of float-motion-ae: losses, discriminator, paired augmentation, latent rescaling.

Install with ``pip install 'float-motion-ae[train]'`` (adds ``lpips`` for ``PerceptualLoss``). Nothing here is
needed to encode, decode or convert: ``import float_motion_ae`` never imports this subpackage.
"""

from float_motion_ae.training.augment import PairAugment, augment_pair
from float_motion_ae.training.discriminator import (
    Discriminator,
    discriminator_loss,
    generator_adversarial_loss,
    r1_penalty,
)
from float_motion_ae.training.latent_scale import coefficient_scale, rescale_latents
from float_motion_ae.training.losses import (
    FIXED_COMPONENT_BOXES,
    LossTerms,
    LossWeights,
    MotionAELoss,
    PerceptualLoss,
    component_boxes_from_landmarks,
    crop_regions,
    fixed_component_boxes,
    mouth_band_mask,
)

__all__ = [
    "FIXED_COMPONENT_BOXES",
    "Discriminator",
    "LossTerms",
    "LossWeights",
    "MotionAELoss",
    "PairAugment",
    "PerceptualLoss",
    "augment_pair",
    "coefficient_scale",
    "component_boxes_from_landmarks",
    "crop_regions",
    "discriminator_loss",
    "fixed_component_boxes",
    "generator_adversarial_loss",
    "mouth_band_mask",
    "r1_penalty",
    "rescale_latents",
]
