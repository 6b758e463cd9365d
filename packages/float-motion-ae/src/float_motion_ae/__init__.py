"""float-motion-ae: FLOAT's motion auto-encoder (image <-> identity latent + motion on an orthonormal basis).

Usable on its own for reenactment, motion editing and as a motion tokenizer; loads the official float.pth
(non-commercial licence) through ``convert_official``. How the decoder executes is a swappable renderer
(``float_motion_ae.renderers``); losses, discriminator and augmentation live in ``float_motion_ae.training``
(the ``[train]`` extra), which this module does not import.
"""

from float_motion_ae import compiled
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
    OFFICIAL_LICENSE_NOTICE,
    OfficialLicenseWarning,
    convert_official,
    load_official,
    official_buffers,
    official_shapes,
)
from float_motion_ae.model import Encoded, MotionAutoEncoder
from float_motion_ae.renderers import (
    ActivationRenderer,
    BatchStrategy,
    ChannelsLastRenderer,
    FusedRenderer,
    ReferenceRenderer,
    Renderer,
    default_renderer,
)
from float_motion_ae.renderers.winograd import winograd_conv3x3, winograd_weight
from float_motion_ae.runtime import ALLOCATOR_SETTING, tune_cpu_allocator

__all__ = [
    "ALLOCATOR_SETTING",
    "OFFICIAL_LICENSE_NOTICE",
    "ActivationRenderer",
    "BatchStrategy",
    "ChannelsLastRenderer",
    "Direction",
    "DirectionRanking",
    "Encoded",
    "FusedRenderer",
    "MotionAEConfig",
    "MotionAutoEncoder",
    "OfficialLicenseWarning",
    "ReferenceRenderer",
    "Renderer",
    "calibrate_directions",
    "compiled",
    "convert_official",
    "default_renderer",
    "edit_motion",
    "load_official",
    "motion_coordinates",
    "official_buffers",
    "official_shapes",
    "rank_directions",
    "tune_cpu_allocator",
    "winograd_conv3x3",
    "winograd_weight",
]
