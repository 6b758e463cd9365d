"""float-motion-ae: FLOAT's motion auto-encoder (image <-> identity latent + motion on an orthonormal basis).

Usable on its own for reenactment, motion editing and as a motion tokenizer; loads the official float.pth
(non-commercial licence) through ``convert_official``.
"""

from float_motion_ae.augment import PairAugment, augment_pair
from float_motion_ae.basis import (
    Direction,
    DirectionRanking,
    calibrate_directions,
    edit_motion,
    motion_coordinates,
    rank_directions,
)
from float_motion_ae.config import MotionAEConfig
from float_motion_ae.convert import (
    LICENSE_NOTICE,
    OfficialLicenseWarning,
    convert_official,
    load_official,
)
from float_motion_ae.discriminator import (
    Discriminator,
    discriminator_loss,
    generator_adversarial_loss,
    r1_penalty,
)
from float_motion_ae.latent_scale import coefficient_scale, rescale_latents
from float_motion_ae.losses import (
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
from float_motion_ae.model import Encoded, MotionAutoEncoder
from float_motion_ae.runtime import ALLOCATOR_SETTING, tune_cpu_allocator

__all__ = [
    "ALLOCATOR_SETTING",
    "FIXED_COMPONENT_BOXES",
    "LICENSE_NOTICE",
    "Direction",
    "DirectionRanking",
    "Discriminator",
    "Encoded",
    "LossTerms",
    "LossWeights",
    "MotionAEConfig",
    "MotionAELoss",
    "MotionAutoEncoder",
    "OfficialLicenseWarning",
    "PairAugment",
    "PerceptualLoss",
    "augment_pair",
    "calibrate_directions",
    "coefficient_scale",
    "component_boxes_from_landmarks",
    "convert_official",
    "crop_regions",
    "discriminator_loss",
    "edit_motion",
    "fixed_component_boxes",
    "generator_adversarial_loss",
    "load_official",
    "motion_coordinates",
    "mouth_band_mask",
    "r1_penalty",
    "rank_directions",
    "rescale_latents",
    "tune_cpu_allocator",
]
