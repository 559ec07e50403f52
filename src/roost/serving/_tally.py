"""Request counts and latencies added up in memory, written to Prometheus in bulk.

With several worker processes, every prometheus_client update is a locked write into
a memory-mapped file, and a request makes three (its count, its latency's bucket and
the latency sum): about 12% of a small model's throughput, measured (docs/benchmarks.md).
A ``RequestTally`` adds them up in plain Python instead, and ``flush`` writes each
series' totals at once. The app flushes every second, before every scrape it answers
and at shutdown, so a scrape sees another worker's requests at most a second late.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

__all__ = ["RequestTally", "add_to_histogram"]


def add_to_histogram(child: Any, total: float, bucket_counts: list[int]) -> None:
    """Add many observations to a prometheus_client histogram child in one write each.

    ``bucket_counts[i]`` is the number of observations in the i-th bucket (not
    cumulative: the first bound at or above the value, as ``Histogram.observe`` picks),
    ``total`` their sum. prometheus_client has no public call for this, so this uses
    the ``_sum`` and ``_buckets`` values that ``observe`` updates;
    tests/serving/test_metrics.py checks that the result equals one ``observe`` per value.
    """
    child._sum.inc(total)
    for bucket, count in zip(child._buckets, bucket_counts, strict=True):
        if count:
            bucket.inc(count)


class RequestTally:
    """The requests of one series (model, version, protocol, code) since the last flush.

    Args:
        requests: the request counter's child of this series.
        errors: the error counter's child, or None for a status below 400.
        duration: the latency histogram's child.
        bounds: the histogram's upper bounds, ``+Inf`` last.
    """

    __slots__ = ("_bounds", "_buckets", "_count", "_duration", "_errors", "_requests", "_sum")

    def __init__(
        self, requests: Any, errors: Any, duration: Any, bounds: tuple[float, ...]
    ) -> None:
        self._requests = requests
        self._errors = errors
        self._duration = duration
        self._bounds = bounds
        self._count = 0
        self._sum = 0.0
        self._buckets = [0] * len(bounds)

    def add(self, duration_s: float) -> None:
        """One more request, answered in ``duration_s``."""
        self._count += 1
        self._sum += duration_s
        self._buckets[bisect_left(self._bounds, duration_s)] += 1

    def flush(self) -> None:
        """Write what was added since the last flush; start again from zero."""
        if not self._count:
            return
        self._requests.inc(self._count)
        if self._errors is not None:
            self._errors.inc(self._count)
        add_to_histogram(self._duration, self._sum, self._buckets)
        self._count = 0
        self._sum = 0.0
        self._buckets = [0] * len(self._bounds)
