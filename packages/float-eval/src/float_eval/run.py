"""Scoring folders of videos: pair by name, normalise to 25 fps / 16 kHz, stream every metric, report.

One video pair is decoded at a time and every metric keeps only running statistics, so memory is bounded by
the longest video, not by the number of videos.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from .config import EvalConfig
from .pair import video_pairs
from .protocol import MetricValue, VideoMetric, output_names
from .registry import available_metrics, create_metric
from .report import Report, VideoResult
from .resources import Components, Resources

__all__ = ["evaluate", "required_weights"]


def _metrics(config: EvalConfig) -> list[VideoMetric]:
    # Report order does not depend on how --metrics was spelled: Table 1's order, then the others by name.
    order = {name: i for i, name in enumerate(available_metrics())}
    names = sorted(set(config.metrics), key=lambda name: order.get(name, len(order)))
    return [create_metric(name, config) for name in names]


def required_weights(config: EvalConfig) -> list[str]:
    """Manifest files a run of ``config`` reads when no stand-in is injected (check them before long work)."""
    return list(dict.fromkeys(name for metric in _metrics(config) for name in metric.weights))


def _aggregate(metric: VideoMetric, problems: Counter[str]) -> dict[str, float | None]:
    """``metric.compute()`` by report key; None where it cannot be computed, with the reason counted."""
    try:
        value: MetricValue = metric.compute()
    except ValueError as err:
        problems[f"{metric.name} not computed: {err}"] += 1
        return dict.fromkeys(output_names(metric))
    values = value if isinstance(value, Mapping) else {metric.name: value}
    return {key: None if v is None else float(v) for key, v in values.items()}


def _report(
    config: EvalConfig,
    metrics: list[VideoMetric],
    resources: Resources,
    results: list[VideoResult],
    problems: Counter[str],
) -> Report:
    """Every metric's numbers, direction and settings, beside the run's settings and the weights it read."""
    report = Report(
        aggregate={},
        per_video=results,
        problem_counts={},
        settings={
            "run": config.model_dump(mode="json"),
            "weights_sha256": dict(resources.weights_sha256),
            "weights_unverified": list(resources.weights_unverified),
        },
        random_weights=resources.random_weights,
    )
    for metric in metrics:
        report.aggregate.update(_aggregate(metric, problems))
        report.settings[metric.name] = metric.settings()
        hib = metric.higher_is_better
        report.higher_is_better.update(hib if isinstance(hib, Mapping) else {metric.name: bool(hib)})
    report.problem_counts = dict(problems)
    return report


def evaluate(config: EvalConfig, components: Components | None = None, progress: bool = True) -> Report:
    """Score every generated video that has a reference of the same name with ``config.metrics``.

    ``components`` injects stand-ins for what metrics would build from the weights folder (tests, your own
    exports). Networks are loaded (and weight files checked) before the first video is decoded.

    Raises:
        WeightsError: a weight file is missing or wrong. FileNotFoundError: a video folder does not exist.
    """
    resources = Resources(config, components)
    metrics = _metrics(config)
    for metric in metrics:
        if callable(setup := getattr(metric, "setup", None)):
            setup(resources)
    problems: Counter[str] = Counter()
    results: list[VideoResult] = []
    for pair in video_pairs(config, results, problems, progress):
        for metric in metrics:
            metric.update(pair)
        pair.count_faceless_frames()
    return _report(config, metrics, resources, results, problems)
