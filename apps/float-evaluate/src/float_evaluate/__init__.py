"""float-evaluate: generate each test video of a prepared split with a bundle, score them with float-eval."""

from float_evaluate.config import EvaluateConfig
from float_evaluate.references import ReferenceClip, export_reference, select_videos
from float_evaluate.runner import EvaluationRun, run_evaluation, write_reports

__all__ = [
    "EvaluateConfig",
    "EvaluationRun",
    "ReferenceClip",
    "export_reference",
    "run_evaluation",
    "select_videos",
    "write_reports",
]
