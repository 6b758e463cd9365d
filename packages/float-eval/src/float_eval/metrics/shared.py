"""Networks several built-in metrics share within a run (built once through :class:`float_eval.Resources`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..nets.faces import FaceDetector
from ..nets.scrfd import SCRFD, SCRFD_WEIGHTS

if TYPE_CHECKING:
    from ..resources import Resources

__all__ = ["scrfd"]


def scrfd(resources: Resources) -> FaceDetector:
    """The run's SCRFD (``det_10g.onnx``) or ``detector`` stand-in: CSIM, E-FID, P-FID, LSE with scrfd."""
    return resources.shared("detector", lambda: SCRFD(resources.weight(SCRFD_WEIGHTS)))
