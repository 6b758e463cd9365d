"""float-flow: FLOAT's flow-matching transformer, OT path and loss, ODE samplers, guidance, streaming windows.

Tensors only: source motion [B, 512], frame-aligned audio features [B, T, 512] at 25 fps, emotion [B, 7]
(optional head pose [B, T, 6]) in; motion latents [B, T, 512] out.
"""

from float_flow.conditions import WindowConditions
from float_flow.config import EMOTION_LABELS, LossConfig, SamplerConfig, TransformerConfig
from float_flow.convert import (
    OFFICIAL_LICENSE_NOTICE,
    OfficialLicenseWarning,
    convert_official,
    load_official,
    official_buffers,
    official_shapes,
)
from float_flow.guidance import IncrementalGuidance, guidance_weights
from float_flow.loss import ConditionDropout, DropoutMasks, LossBreakdown, flow_matching_loss, velocity_loss
from float_flow.onednn import OneDNNLinear, onednn_available, use_onednn_linears
from float_flow.path import interpolate, sample_noise, sample_time, target_velocity
from float_flow.sampler import VelocityField, integrate, time_grid
from float_flow.transformer import FlowMatchingTransformer, band_mask, sinusoidal_positions
from float_flow.windows import MotionWindow, count_windows, generate, generate_windows, sample_window

__all__ = [
    "EMOTION_LABELS",
    "OFFICIAL_LICENSE_NOTICE",
    "ConditionDropout",
    "DropoutMasks",
    "FlowMatchingTransformer",
    "IncrementalGuidance",
    "LossBreakdown",
    "LossConfig",
    "MotionWindow",
    "OfficialLicenseWarning",
    "OneDNNLinear",
    "SamplerConfig",
    "TransformerConfig",
    "VelocityField",
    "WindowConditions",
    "band_mask",
    "convert_official",
    "count_windows",
    "flow_matching_loss",
    "generate",
    "generate_windows",
    "guidance_weights",
    "integrate",
    "interpolate",
    "load_official",
    "official_buffers",
    "official_shapes",
    "onednn_available",
    "sample_noise",
    "sample_time",
    "sample_window",
    "sinusoidal_positions",
    "target_velocity",
    "time_grid",
    "use_onednn_linears",
    "velocity_loss",
]
