"""What a metric is to :func:`float_eval.evaluate`: the :class:`VideoMetric` protocol (torchmetrics' manner).

A metric streams over video pairs: ``update(pair)`` once per generated/reference pair, ``compute()`` once at
the end, ``reset()`` to start again; ``settings()`` says what produced the number (backbone, weights,
preprocessing) and is written beside it in every report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .pair import VideoPair

__all__ = ["MetricValue", "VideoMetric", "output_names"]

MetricValue = float | None | Mapping[str, float | None]


@runtime_checkable
class VideoMetric(Protocol):
    """A metric over pairs of videos.

    Attributes:
        name: the name it is registered under (``--metrics`` picks it, the report keys it).
        higher_is_better: True/False for a metric with one number; for several numbers, a mapping from each
            report key to its direction (LSE: ``{"lse_d": False, "lse_c": True}``), which also names them.
        weights: the float-eval manifest files (:data:`float_eval.weights.MANIFEST`) it reads when no
            stand-in is injected, known before anything is loaded (``required_weights`` checks them early).
            Metrics that bring their own files list none here and check them in ``setup``.

    A metric may also define:

    - ``setup(resources)`` (:class:`float_eval.Resources`): :func:`float_eval.evaluate` calls it once before
      the first pair, to load networks (shared with other metrics through ``resources``).
    - ``frame_consumers(pair) -> {side: [consumer]}``: objects with ``push(frames, start)``, ``close()`` and
      ``done`` (:class:`float_eval.pair.FrameConsumer`) that :func:`float_eval.evaluate` feeds in one decoding
      pass per side shared by every metric, before calling ``update(pair)`` (build them with
      ``pair.plan(self, build)`` and read them back in ``update`` with ``pair.consume(self, build)``, which
      runs the pass itself when nobody has). Without it, ``update`` reads frames with ``pair.batches(side)``.
    - ``state()`` and ``merge_state(state)``: the metric's sufficient statistics (numpy arrays and JSON
      values) and how to add another shard's; needed for ``float-eval run --shard`` and ``merge``.
    """

    name: str
    higher_is_better: bool | Mapping[str, bool]
    weights: Sequence[str]

    def update(self, pair: VideoPair) -> None:
        """Add one pair; per-video values, notes and problems go into ``pair.result``."""
        ...

    def compute(self) -> MetricValue:
        """The number (or numbers, keyed as ``higher_is_better``) over every pair so far; None when undefined.

        Raises:
            ValueError: the metric cannot be computed from what it saw (the report gives None and the reason).
        """
        ...

    def reset(self) -> None:
        """Forget every pair seen."""
        ...

    def settings(self) -> dict[str, Any]:
        """What produced the number: backbone, weights, preprocessing, pooling (JSON-serialisable)."""
        ...


def output_names(metric: VideoMetric) -> list[str]:
    """Report keys of ``metric``: the keys of ``higher_is_better`` when it is a mapping, else its name."""
    if isinstance(metric.higher_is_better, Mapping):
        return list(metric.higher_is_better)
    return [metric.name]
