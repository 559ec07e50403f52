"""A served version's live facts, read from the server's own metrics when a factsheet is asked for.

Nothing is counted twice: the factsheet reads the very samples ``GET /metrics`` exposes
(every worker's, when ``roost serve --workers N`` shares metric files), filtered to one
model and version:

- ``requests``: ``roost_requests_total`` summed over protocols and status codes; every
  request whose path names the model is counted there (predictions, and the readiness,
  metadata and document requests that name it), and the request asking for the
  factsheet is not counted yet when its answer is built;
- ``errors``: those with a 5xx status code;
- ``latency_ms``: p50, p95 and p99 of ``roost_request_duration_seconds`` (the buckets of
  every protocol added up), interpolated within a bucket as Prometheus's
  ``histogram_quantile`` does (``histogram_quantile``);
- ``throughput_rps``: requests divided by the seconds since this process started serving
  the version (``ServedModel.serving_since``);
- with telemetry on, ``production`` from ``roost_production_accuracy`` (or ``_mae``) and
  ``roost_production_scored_rows``, and ``drift`` from ``roost_drift_psi``: gauges the
  quality task recomputes every ``QUALITY_INTERVAL_S``, so they may be that much old, and
  are absent before the first update that had feedback (or recent requests) to measure.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric

from roost.cards.live import LiveFacts
from roost.serving.metrics import Metrics
from roost.serving.repository import ServedModel
from roost.types import JSONDict

__all__ = ["PERCENTILES", "collect", "histogram_quantile", "live_facts"]

#: the latency percentiles a factsheet shows: name -> quantile
PERCENTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99}

_REQUESTS = "roost_requests_total"
_DURATION_BUCKET = "roost_request_duration_seconds_bucket"
_ACCURACY = "roost_production_accuracy"
_MAE = "roost_production_mae"
_SCORED_ROWS = "roost_production_scored_rows"
_DRIFT = "roost_drift_psi"


def collect(metrics: Metrics) -> list[Metric]:
    """Every metric family of the server, as ``metrics.render()`` would expose it.

    Reads files with several workers: call it in a worker thread. It does not flush:
    this process's tallies belong to the event loop, so the caller flushes there first.
    """
    folder = metrics.multiprocess_dir
    if folder is None:
        return list(metrics.registry.collect())
    from prometheus_client import multiprocess

    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged, path=str(folder))  # type: ignore[no-untyped-call]
    return list(merged.collect())


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """The ``q`` quantile of a histogram, the way Prometheus's ``histogram_quantile`` finds it.

    The rank ``q × count`` falls in one bucket; the value is interpolated linearly between
    that bucket's lower and upper bound (observations assumed evenly spread within it).
    The first bucket's lower bound is 0. A rank in the ``+Inf`` bucket gives the highest
    finite bound: the histogram cannot say more.

    Args:
        q: between 0 and 1.
        buckets: ``(upper bound, cumulative count)`` pairs, ``+Inf`` among them.

    Returns:
        The estimate; None without observations or without a ``+Inf`` bucket.

    Example:
        >>> histogram_quantile(0.5, [(1.0, 2.0), (2.0, 4.0), (float("inf"), 4.0)])
        1.0
        >>> histogram_quantile(0.75, [(1.0, 2.0), (2.0, 4.0), (float("inf"), 4.0)])
        1.5
    """
    ordered = sorted(buckets)
    if len(ordered) < 2 or not math.isinf(ordered[-1][0]):
        return None
    # cumulative counts never go down; a scrape racing a write could show it, as in Prometheus
    bounds = [bound for bound, _ in ordered]
    counts: list[float] = []
    for _, count in ordered:
        counts.append(max(count, counts[-1]) if counts else count)
    total = counts[-1]
    if total <= 0:
        return None
    rank = q * total
    # the first bucket whose cumulative count reaches the rank (+Inf when none before it)
    index = next((i for i, c in enumerate(counts[:-1]) if c >= rank), len(counts) - 1)
    if index == len(counts) - 1:
        return bounds[-2]
    upper = bounds[index]
    if index == 0:
        if upper <= 0:
            return upper
        lower, below = 0.0, 0.0
    else:
        lower, below = bounds[index - 1], counts[index - 1]
    return lower + (upper - lower) * (rank - below) / (counts[index] - below)


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def live_facts(
    families: Iterable[Metric], served: ServedModel, *, telemetry: bool, now: float
) -> LiveFacts:
    """The live facts of ``served`` from the collected metric families.

    Args:
        families: what ``collect`` returned.
        served: the version the factsheet is about.
        telemetry: whether the server logs predictions.
        now: the time now (``repository.clock.time()``).
    """
    name, version = served.name, str(served.version)
    requests = errors = 0.0
    buckets: dict[float, float] = defaultdict(float)
    gauges: dict[str, float] = {}
    drift: dict[str, float] = {}
    for family in families:
        for sample in family.samples:
            labels = sample.labels
            if labels.get("model") != name or labels.get("version") != version:
                continue
            if sample.name == _REQUESTS:
                requests += sample.value
                if labels.get("code", "").startswith("5"):
                    errors += sample.value
            elif sample.name == _DURATION_BUCKET:
                buckets[float(labels["le"])] += sample.value
            elif sample.name in (_ACCURACY, _MAE, _SCORED_ROWS):
                gauges[sample.name] = sample.value
            elif sample.name == _DRIFT:
                drift[labels["feature"]] = sample.value
    latency_ms: dict[str, float] = {}
    for label, q in PERCENTILES.items():
        seconds = histogram_quantile(q, list(buckets.items()))
        if seconds is not None:
            latency_ms[label] = round(seconds * 1000, 3)
    elapsed_s = now - served.serving_since
    return LiveFacts(
        serving_since=_iso(served.serving_since),
        requests=int(requests),
        errors=int(errors),
        throughput_rps=requests / elapsed_s if requests and elapsed_s > 0 else None,
        latency_ms=latency_ms,
        telemetry=telemetry,
        production=_production(gauges) if telemetry else None,
        drift=dict(sorted(drift.items())) if telemetry and drift else None,
    )


def _production(gauges: dict[str, float]) -> JSONDict | None:
    """Production accuracy (or MAE) and the rows behind it; None before any was measured."""
    scored = int(gauges.get(_SCORED_ROWS, 0))
    if _ACCURACY in gauges:
        return {"accuracy": gauges[_ACCURACY], "scored_rows": scored}
    if _MAE in gauges:
        return {"mae": gauges[_MAE], "scored_rows": scored}
    return None
