"""Pick metrics by name (``--metrics``, ``EvalConfig.metrics``); other packages add theirs via entry points.

A package registers a metric by declaring, in its ``pyproject.toml``::

    [project.entry-points."float_eval.metrics"]
    my-metric = "my_package.module:MyMetric"

The object the entry point names is a factory: called with the run's :class:`float_eval.EvalConfig`, it
returns a :class:`float_eval.VideoMetric` (a class or a function both work). float-eval's own metrics are
declared the same way (its ``pyproject.toml``); :data:`_BUILTINS` repeats them so that a source checkout
without installed metadata still finds them, through the same loader.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING

from .protocol import VideoMetric

if TYPE_CHECKING:
    from .config import EvalConfig

__all__ = [
    "DEFAULT_METRICS",
    "ENTRY_POINT_GROUP",
    "MetricFactory",
    "available_metrics",
    "check_metric_names",
    "create_metric",
    "get_metric_factory",
    "register_metric",
    "unregister_metric",
]

ENTRY_POINT_GROUP = "float_eval.metrics"

MetricFactory = Callable[["EvalConfig"], VideoMetric]

# The metrics of FLOAT's Table 1, in report order; the same values as the entry points in pyproject.toml.
_BUILTINS: dict[str, str] = {
    "fid": "float_eval.metrics.fid:FIDMetric",
    "fvd": "float_eval.metrics.fvd:FVDMetric",
    "csim": "float_eval.metrics.csim:CSIMMetric",
    "efid": "float_eval.metrics.coefficients:EFIDMetric",
    "pfid": "float_eval.metrics.coefficients:PFIDMetric",
    "lse": "float_eval.metrics.lse:LSEMetric",
}
# What a run scores when it names no metrics: the built-ins (registered metrics are opt-in by name).
DEFAULT_METRICS: tuple[str, ...] = tuple(_BUILTINS)
_registered: dict[str, MetricFactory] = {}


def register_metric(name: str, factory: MetricFactory, *, overwrite: bool = False) -> None:
    """Register ``factory`` under ``name`` in this process (takes precedence over entry points).

    Raises:
        ValueError: ``name`` is empty, has a comma, or is taken (built-in, registered) without ``overwrite``.
    """
    if not name or not name.strip() or "," in name:
        raise ValueError(f"metric name must be a non-empty string without commas, got {name!r}")
    if not overwrite and (name in _BUILTINS or name in _registered):
        raise ValueError(f"metric {name!r} is already registered; pass overwrite=True to replace it")
    _registered[name] = factory


def unregister_metric(name: str) -> None:
    """Remove a metric added with :func:`register_metric` (built-ins and entry points stay)."""
    _registered.pop(name, None)


def _entry_points() -> dict[str, EntryPoint]:
    # Read on every call (cheap) so that packages installed or put on sys.path after import are found.
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_metrics() -> list[str]:
    """Every metric name: the built-ins in report order, then registered and entry-point ones, sorted."""
    others = (set(_registered) | set(_entry_points())) - set(_BUILTINS)
    return [*_BUILTINS, *sorted(others)]


def _load(entry: EntryPoint) -> MetricFactory:
    try:
        return entry.load()
    except Exception as error:
        raise ImportError(
            f"metric {entry.name!r} = {entry.value!r} of {ENTRY_POINT_GROUP!r} failed to load: {error}"
        ) from error


def get_metric_factory(name: str) -> MetricFactory:
    """Factory for ``name``: in-process registrations first, then built-ins, then entry points.

    Raises:
        KeyError: unknown name (the message lists the available ones). ImportError: its entry point fails.
    """
    if name in _registered:
        return _registered[name]
    if name in _BUILTINS:
        return _load(EntryPoint(name, _BUILTINS[name], ENTRY_POINT_GROUP))
    found = _entry_points().get(name)
    if found is None:
        raise KeyError(_unknown_message([name]))
    return _load(found)


def _unknown_message(unknown: Iterable[str]) -> str:
    return (
        f"unknown metric(s) {sorted(unknown)}; choose from {', '.join(available_metrics())} "
        f"(other packages add metrics under the entry-point group {ENTRY_POINT_GROUP!r})"
    )


def check_metric_names(names: list[str]) -> list[str]:
    """Return ``names`` unchanged, or raise ``ValueError`` naming the unknown ones and the registered ones."""
    known = set(available_metrics())
    unknown = [m for m in names if m not in known]
    if unknown:
        raise ValueError(_unknown_message(unknown))
    return names


def create_metric(name: str, config: EvalConfig) -> VideoMetric:
    """Build the metric registered as ``name`` for the run ``config`` (cheap: networks load in ``setup``).

    Raises:
        KeyError: unknown name. TypeError: the factory did not return a :class:`VideoMetric`.
    """
    metric = get_metric_factory(name)(config)
    if not isinstance(metric, VideoMetric):
        raise TypeError(
            f"metric {name!r} built a {type(metric).__name__}, which is not a VideoMetric (it needs `name`, "
            "`higher_is_better`, `weights`, `update(pair)`, `compute()`, `reset()` and `settings()`)"
        )
    if metric.name != name:
        raise TypeError(f"metric registered as {name!r} calls itself {metric.name!r}: the names must agree")
    return metric
