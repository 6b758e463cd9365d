"""float-eval: the seven talking-head metrics of FLOAT's Table 1 on any method's videos.

FID (pytorch-fid Inception), FVD (StyleGAN-V I3D), CSIM (ArcFace), E-FID / P-FID (Deep3DFaceRecon 3DMM
coefficients), LSE-D / LSE-C (SyncNet v2 on S3FD face tracks) as :class:`VideoMetric`s over video pairs,
a registry other packages add metrics to (entry-point group ``float_eval.metrics``), a weights manifest and a
CLI. Networks live in :mod:`float_eval.nets`, their maths in :mod:`float_eval.ops`, the metrics in
:mod:`float_eval.metrics`.
"""

from .config import EvalConfig
from .ops.clips import ClipSampling
from .pair import VideoPair
from .protocol import VideoMetric
from .registry import DEFAULT_METRICS, available_metrics, check_metric_names, register_metric
from .report import Report, VideoResult
from .resources import Components, Resources
from .run import evaluate, required_weights
from .runtime import bound_heap_growth
from .shards import merge_shards, run_shard
from .weights import WeightsError, resolve_weight

__all__ = [
    "DEFAULT_METRICS",
    "ClipSampling",
    "Components",
    "EvalConfig",
    "Report",
    "Resources",
    "VideoMetric",
    "VideoPair",
    "VideoResult",
    "WeightsError",
    "available_metrics",
    "bound_heap_growth",
    "check_metric_names",
    "evaluate",
    "merge_shards",
    "register_metric",
    "required_weights",
    "resolve_weight",
    "run_shard",
]
