"""Scoring folders of videos: pair them, stream every metric over each pair, report.

One video pair is open at a time and its frames are decoded in batches; every metric keeps only running
statistics (or one number per video), so memory is bounded by a frame batch, not by the length or the number
of videos. :func:`score` does the work and keeps the metrics' state; :func:`evaluate` turns it into a
:class:`~float_eval.report.Report`, :mod:`float_eval.shards` into a shard file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from .config import EvalConfig
from .pair import SIDES, video_pairs
from .pairing import PlannedRow, plan_pairs
from .protocol import MetricValue, VideoMetric, output_names
from .registry import available_metrics, create_metric
from .report import Report, VideoResult
from .resources import Components, Resources
from .weights import WeightsError, check_weights, missing_weights_message

__all__ = ["RunState", "evaluate", "required_weights", "score"]


def build_metrics(config: EvalConfig) -> list[VideoMetric]:
    """The metrics ``config`` names, in report order (Table 1's, then the others by name)."""
    # Report order does not depend on how --metrics was spelled.
    order = {name: i for i, name in enumerate(available_metrics())}
    names = sorted(set(config.metrics), key=lambda name: order.get(name, len(order)))
    return [create_metric(name, config) for name in names]


def required_weights(config: EvalConfig) -> list[str]:
    """Manifest files a run of ``config`` reads when no stand-in is injected (check them before long work)."""
    return list(dict.fromkeys(name for metric in build_metrics(config) for name in metric.weights))


def check_required_weights(config: EvalConfig) -> None:
    """Check every weight file the run needs at once.

    Raises:
        WeightsError: listing every missing (and, with ``check_digests``, wrong) file with its URL,
            destination and sha256.
    """
    statuses = check_weights(config.weights_dir, required_weights(config))
    bad = [s for s in statuses if not s.present or (config.check_digests and not s.ok)]
    if bad:
        raise WeightsError(missing_weights_message(bad, config.weights_dir))


@dataclass
class RunState:
    """What scoring left: the metrics (with their statistics), per-video rows and problems, shared objects."""

    config: EvalConfig
    metrics: list[VideoMetric]
    resources: Resources
    results: list[VideoResult]
    problems: Counter[str]
    pairs_scored: int = 0


def score(
    config: EvalConfig,
    components: Components | None = None,
    progress: bool = True,
    rows: list[PlannedRow] | None = None,
) -> RunState:
    """Stream every metric over the pairs of ``rows`` (default: every name of the run, :func:`plan_pairs`).

    Raises:
        WeightsError: a weight file is missing or wrong (all of them are listed when no stand-in is given).
        FileNotFoundError: a video folder does not exist. ValueError: a bad pairing file.
    """
    if rows is None:  # the folders and the pairing first: a mistyped folder is named, not hidden by weights
        rows = plan_pairs(config)
    if components is None or len(components) == 0:
        check_required_weights(config)
    resources = Resources(config, components)
    metrics = build_metrics(config)
    for metric in metrics:
        if callable(setup := getattr(metric, "setup", None)):
            setup(resources)
    state = RunState(config, metrics, resources, [], Counter())
    for pair in video_pairs(config, rows, state.results, state.problems, progress):
        # One decoding pass a side feeds every metric that hands over frame consumers (the built-ins);
        # update() then only finishes (LSE decodes its face tracks' frames once more for the crops).
        plans = [
            consumers(pair) for m in metrics if callable(consumers := getattr(m, "frame_consumers", None))
        ]
        for side in SIDES:
            pair.run_pass(side, [c for plan in plans for c in plan.get(side, [])], desc="metrics")
        for metric in metrics:
            metric.update(pair)
        pair.finish()
        state.pairs_scored += 1
    return state


def _aggregate(metric: VideoMetric, problems: Counter[str]) -> dict[str, float | None]:
    """``metric.compute()`` by report key; None where it cannot be computed, with the reason counted."""
    try:
        value: MetricValue = metric.compute()
    except ValueError as err:
        problems[f"{metric.name} not computed: {err}"] += 1
        return dict.fromkeys(output_names(metric))
    values = value if isinstance(value, Mapping) else {metric.name: value}
    return {key: None if v is None else float(v) for key, v in values.items()}


def assemble_report(
    config: EvalConfig,
    metrics: list[VideoMetric],
    run_settings: dict[str, object],
    results: list[VideoResult],
    problems: Counter[str],
    pairs_scored: int,
    random_weights: bool,
) -> Report:
    """Every metric's numbers, direction and settings, beside the run's settings and the weights it read."""
    problems = Counter(problems)
    report = Report(
        aggregate={},
        per_video=results,
        problem_counts={},
        settings={"run": config.model_dump(mode="json"), **run_settings},
        random_weights=random_weights,
        pairs_scored=pairs_scored,
    )
    for metric in metrics:
        report.aggregate.update(_aggregate(metric, problems))
        report.settings[metric.name] = metric.settings()
        hib = metric.higher_is_better
        report.higher_is_better.update(hib if isinstance(hib, Mapping) else {metric.name: bool(hib)})
    report.problem_counts = dict(problems)
    return report


def run_settings(resources: Resources) -> dict[str, object]:
    """The weights a run read: digests by file, and those accepted although they differ from the manifest."""
    return {
        "weights_sha256": dict(resources.weights_sha256),
        "weights_unverified": list(resources.weights_unverified),
        "weights_unpinned": list(resources.weights_unpinned),
    }


def evaluate(config: EvalConfig, components: Components | None = None, progress: bool = True) -> Report:
    """Score every generated video that has a reference (by name, ``pair_pattern`` or ``pair_map``).

    ``components`` injects stand-ins for what metrics would build from the weights folder (tests, your own
    exports). Without them, every weight file the metrics need is checked (all problems listed at once)
    before anything is loaded, and networks are loaded before the first video is decoded.

    Raises:
        WeightsError: a weight file is missing, wrong or unreadable. FileNotFoundError: a video folder does
            not exist. ValueError: a bad pairing file.
    """
    state = score(config, components, progress)
    return assemble_report(
        config,
        state.metrics,
        run_settings(state.resources),
        state.results,
        state.problems,
        state.pairs_scored,
        state.resources.random_weights,
    )
