"""float-eval's metrics: the streaming cores (``update`` with tensors) and the run's ``VideoMetric``s.

``FID``, ``FVD``, ``CSIM``, ``CoefficientFID`` take frames, clips or coefficients directly;
``FIDMetric``, ``FVDMetric``, ``CSIMMetric``, ``EFIDMetric``, ``PFIDMetric`` and ``LSEMetric`` are what
``float_eval.evaluate`` runs over video pairs (registered as ``fid``, ``fvd``, ``csim``, ``efid``, ``pfid``,
``lse``).
"""

from .coefficients import (
    ANGLE_SLICE,
    EXP_SLICE,
    TRANS_SLICE,
    CoefficientFID,
    EFIDMetric,
    PFIDMetric,
    pose_coefficients,
)
from .csim import CSIM, CSIMMetric, CSIMResult, aligned_faces
from .fid import FID, FIDMetric
from .frechet import FrechetMetric
from .fvd import FVD, FVDMetric
from .lse import LSEMetric

__all__ = [
    "ANGLE_SLICE",
    "CSIM",
    "EXP_SLICE",
    "FID",
    "FVD",
    "TRANS_SLICE",
    "CSIMMetric",
    "CSIMResult",
    "CoefficientFID",
    "EFIDMetric",
    "FIDMetric",
    "FVDMetric",
    "FrechetMetric",
    "LSEMetric",
    "PFIDMetric",
    "aligned_faces",
    "pose_coefficients",
]
