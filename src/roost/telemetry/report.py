"""A model's telemetry as one self-contained HTML page: latency, accuracy and drift.

The report is data first (:class:`TelemetryReport`, filled from the telemetry sink),
then a page (:func:`render_html`). The page inlines its stylesheet and draws its charts
as inline SVG, so it references no URL: it opens offline, can be mailed or attached to
a ticket, and prints. Each chart has a table with the same numbers under it, for screen
readers and for paper. All times are shown in UTC, in ISO 8601.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from roost.errors import ConfigError
from roost.telemetry._html import (
    LEVEL_COLORS,
    NONE,
    STYLESHEET,
    count,
    duration,
    empty,
    figure,
    level_class,
    ms,
    psi,
    section,
    table,
    tag,
    time_axis,
    utc,
)
from roost.telemetry._svg import bar_chart, format_number, line_chart, time_ticks
from roost.telemetry.drift import MAJOR_PSI, MODERATE_PSI

__all__ = [
    "AccuracyPoint",
    "DriftBar",
    "LatencyPoint",
    "TelemetryReport",
    "bucket_latencies",
    "choose_bucket_s",
    "nearest_rank",
    "render_html",
]

_ACCURACY_METRICS = ("accuracy", "mae")
#: (longest span, bucket) in seconds: at most about 60 to 170 points per chart
_BUCKETS_S = ((600.0, 10.0), (2 * 3600.0, 60.0), (12 * 3600.0, 300.0), (7 * 86400.0, 3600.0))
_DAY_S = 86400.0
_CHART_W, _CHART_H = 760, 300


@dataclass(frozen=True, slots=True)
class LatencyPoint:
    """The latency of the requests that arrived in one time bucket.

    Attributes:
        start: the bucket's start, in epoch seconds.
        requests: requests in the bucket.
        p50_ms: their median latency (nearest rank).
        p99_ms: their 99th percentile latency (nearest rank).
    """

    start: float
    requests: int
    p50_ms: float
    p99_ms: float

    def __post_init__(self) -> None:
        if self.requests < 0:
            raise ConfigError(f"latency point requests must be >= 0, got {self.requests}")


@dataclass(frozen=True, slots=True)
class AccuracyPoint:
    """How right one version was on the predictions of one time bucket that got feedback.

    Attributes:
        start: the bucket's start, in epoch seconds.
        version: the model version that answered.
        n: rows with feedback in the bucket.
        value: the accuracy (0 to 1) or the mean absolute error, per
            :attr:`TelemetryReport.accuracy_metric`.
    """

    start: float
    version: int
    n: int
    value: float

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ConfigError(f"accuracy point n must be >= 0, got {self.n}")


@dataclass(frozen=True, slots=True)
class DriftBar:
    """The drift of one feature or output over the window, against the training baseline.

    Attributes:
        name: the feature or output.
        psi: its population stability index; None when it could not be measured.
        level: ``stable``, ``moderate``, ``major``, ``too few`` or ``no baseline``
            (see :mod:`roost.telemetry.drift`).
        n: values measured.
    """

    name: str
    psi: float | None
    level: str
    n: int


@dataclass(frozen=True, slots=True)
class TelemetryReport:
    """Everything the telemetry report shows for one model over one window.

    Attributes:
        model: the model's name.
        versions: the versions that answered in the window.
        since: the window's start in epoch seconds; None for all of the history.
        until: the window's end in epoch seconds.
        generated_at: when the report was built, in epoch seconds.
        requests: logged prediction requests in the window.
        rows: rows in those requests.
        latency_p50_ms: median request latency over the window; None without requests.
        latency_p99_ms: 99th percentile request latency, likewise.
        latency: latency per time bucket (:func:`bucket_latencies`).
        accuracy_metric: ``accuracy`` (classifiers) or ``mae`` (regressors).
        accuracy: the metric per time bucket and version.
        overall: (version, n, value): the metric per version over the whole window.
        drift_features: the drift of each input feature.
        drift_outputs: the drift of each model output.
        feedback: ``recorded``, ``duplicates``, ``unmatched``, ``late`` counts and
            ``median_delay_s``; a missing key or None shows as a dash.
        sink: where the data came from, its password masked.
        notes: sentences to show the reader, e.g. why drift was not computed.
    """

    model: str
    versions: list[int]
    since: float | None
    until: float
    generated_at: float
    requests: int
    rows: int
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    latency: list[LatencyPoint]
    accuracy_metric: str
    accuracy: list[AccuracyPoint]
    overall: list[tuple[int, int, float]]
    drift_features: list[DriftBar]
    drift_outputs: list[DriftBar]
    feedback: dict[str, float | int | None]
    sink: str
    notes: list[str]

    def __post_init__(self) -> None:
        if self.accuracy_metric not in _ACCURACY_METRICS:
            raise ConfigError(
                f"accuracy_metric must be one of {', '.join(_ACCURACY_METRICS)}, "
                f"got {self.accuracy_metric!r}"
            )


def choose_bucket_s(span_s: float) -> float:
    """A readable bucket width for a window ``span_s`` seconds long.

    10 s up to 10 minutes, 1 minute up to 2 hours, 5 minutes up to 12 hours, 1 hour up
    to 7 days, 1 day beyond: between about 60 and 170 points per chart, except for
    windows of months (one point a day).

    Raises:
        ConfigError: ``span_s`` is negative or not finite.

    Example:
        >>> choose_bucket_s(6 * 3600)
        300.0
    """
    if not (math.isfinite(span_s) and span_s >= 0):
        raise ConfigError(f"span_s must be a finite number >= 0, got {span_s!r}")
    return next((bucket for longest, bucket in _BUCKETS_S if span_s <= longest), _DAY_S)


def nearest_rank(ordered: Sequence[float], percent: int) -> float:
    """The nearest-rank percentile: the smallest value with ``percent``% of all at or below it."""
    rank = -(-percent * len(ordered) // 100)  # ceil in integers: no float rounding at edges
    return ordered[max(rank, 1) - 1]


def bucket_latencies(samples: Sequence[tuple[float, float]], bucket_s: float) -> list[LatencyPoint]:
    """Group (timestamp, latency_ms) samples into time buckets with their p50 and p99.

    Buckets start at multiples of ``bucket_s`` since the epoch (so hourly buckets
    start on the hour, UTC); buckets without a sample are left out rather than drawn as
    zero. Percentiles use the nearest-rank method: the p-th percentile of n sorted
    values is the ``ceil(p * n / 100)``-th, an observed latency, never an interpolated
    one. Samples with a non-finite time or latency are ignored.

    Args:
        samples: one (epoch seconds, latency in ms) pair per request, in any order.
        bucket_s: the bucket width in seconds (see :func:`choose_bucket_s`).

    Returns:
        one point per non-empty bucket, oldest first.

    Raises:
        ConfigError: ``bucket_s`` is not a positive finite number.

    Example:
        >>> bucket_latencies([(0.0, 10.0), (30.0, 20.0), (75.0, 5.0)], 60)
        [LatencyPoint(start=0.0, requests=2, p50_ms=10.0, p99_ms=20.0), \
LatencyPoint(start=60.0, requests=1, p50_ms=5.0, p99_ms=5.0)]
    """
    if not (math.isfinite(bucket_s) and bucket_s > 0):
        raise ConfigError(f"bucket_s must be a positive finite number, got {bucket_s!r}")
    buckets: dict[float, list[float]] = {}
    for timestamp, latency_ms in samples:
        if math.isfinite(timestamp) and math.isfinite(latency_ms):
            start = math.floor(timestamp / bucket_s) * bucket_s
            buckets.setdefault(float(start), []).append(latency_ms)
    points = []
    for start in sorted(buckets):
        ordered = sorted(buckets[start])
        p50, p99 = nearest_rank(ordered, 50), nearest_rank(ordered, 99)
        points.append(LatencyPoint(start, len(ordered), p50, p99))
    return points


def _summary(report: TelemetryReport) -> str:
    since = "the first record" if report.since is None else utc(report.since)
    span = "" if report.since is None else f" ({duration(report.until - report.since)})"
    name = _metric_name(report)
    feedback = report.feedback
    rows = [
        ("Model", report.model),
        ("Versions", ", ".join(str(v) for v in report.versions) or NONE),
        ("Window (UTC)", f"{since} to {utc(report.until)}{span}"),
        ("Requests", count(report.requests)),
        ("Rows", count(report.rows)),
        ("Latency p50 / p99", f"{ms(report.latency_p50_ms)} / {ms(report.latency_p99_ms)}"),
        *(
            (f"{name} of v{version}", f"{_metric(report, value)} on {count(n)} rows")
            for version, n, value in report.overall
        ),
        ("Feedback recorded", count(feedback.get("recorded"))),
        ("Feedback duplicates", count(feedback.get("duplicates"))),
        ("Feedback unmatched", count(feedback.get("unmatched"))),
        ("Feedback late", count(feedback.get("late"))),
        ("Median feedback delay", duration(feedback.get("median_delay_s"))),
        ("Data from", report.sink),
        ("Generated (UTC)", utc(report.generated_at)),
    ]
    body = "\n".join(f"<tr>{tag('th', k, scope='row')}{tag('td', v)}</tr>" for k, v in rows)
    return f'<table class="summary">\n<tbody>\n{body}\n</tbody>\n</table>'


def _metric_name(report: TelemetryReport) -> str:
    return "Accuracy" if report.accuracy_metric == "accuracy" else "MAE"


def _metric(report: TelemetryReport, value: float) -> str:
    if not math.isfinite(value):
        return NONE
    return f"{value:.1%}" if report.accuracy_metric == "accuracy" else f"{value:.4g}"


def _latency(report: TelemetryReport) -> str:
    points = report.latency
    if not points:
        return empty("no prediction request was logged")
    x_label, x_format = time_axis([p.start for p in points])
    p50 = [(p.start, p.p50_ms) for p in points]
    p99 = [(p.start, p.p99_ms) for p in points]
    chart = line_chart(
        {"p50": p50, "p99": p99},
        width=_CHART_W,
        height=_CHART_H,
        x_label=x_label,
        y_label="latency (ms)",
        x_format=x_format,
        x_ticks=time_ticks,
        y_min=0.0,
        title="Request latency over time: p50 and p99, in milliseconds",
    )
    rows = [(utc(p.start), count(p.requests), ms(p.p50_ms), ms(p.p99_ms)) for p in points]
    headers = ("bucket start (UTC)", "requests#", "p50#", "p99#")
    return figure(chart, table("Latency per time bucket", headers, rows))


def _accuracy(report: TelemetryReport) -> str:
    points = sorted(report.accuracy, key=lambda p: (p.start, p.version))
    if not points:
        return empty("no feedback was matched to a logged prediction")
    is_accuracy = report.accuracy_metric == "accuracy"
    series: dict[str, list[tuple[float, float]]] = {}
    for p in sorted(points, key=lambda p: p.version):
        series.setdefault(f"v{p.version}", []).append((p.start, p.value))
    x_label, x_format = time_axis([p.start for p in points])
    chart = line_chart(
        series,
        width=_CHART_W,
        height=_CHART_H,
        x_label=x_label,
        y_label="accuracy (%)" if is_accuracy else "mean absolute error",
        x_format=x_format,
        y_format=(lambda v: f"{v:.0%}") if is_accuracy else format_number,
        x_ticks=time_ticks,
        y_min=0.0,
        y_max=1.0 if is_accuracy else None,
        title=f"Production {_metric_name(report)} over time, one line per version",
    )
    name = _metric_name(report)
    rows = [(utc(p.start), f"v{p.version}", count(p.n), _metric(report, p.value)) for p in points]
    headers = ("bucket start (UTC)", "version", "rows#", f"{name}#")
    return figure(chart, table(f"{name} per time bucket and version", headers, rows))


def _drift(bars: Sequence[DriftBar], what: str) -> str:
    if not bars:
        return empty(f"no {what} drift was measured")
    chart = bar_chart(
        [(b.name, b.psi, b.level) for b in bars],
        width=_CHART_W,
        x_label="population stability index (PSI)",
        thresholds=[
            (MODERATE_PSI, f"{MODERATE_PSI:g} moderate"),
            (MAJOR_PSI, f"{MAJOR_PSI:g} major"),
        ],
        colors=LEVEL_COLORS,
        title=f"Drift of each {what} against the training baseline, as PSI",
    )
    rows = [
        (b.name, psi(b.psi), (b.level, f"level {level_class(b.level)}"), count(b.n)) for b in bars
    ]
    return figure(chart, table(f"Drift per {what}", (what, "PSI#", "level", "values#"), rows))


_LATENCY_TEXT = (
    "From a request&#8217;s arrival to its answer: the median (p50) and the 99th "
    "percentile (p99) of the requests in each time bucket."
)
_ACCURACY_TEXT = (
    "Computed on the predictions that received feedback (their ground truth), per time "
    "bucket of the prediction and per model version."
)
_DRIFT_TEXT = (
    "The population stability index (PSI) of each feature and output in this window "
    f"against the training baseline. Below {MODERATE_PSI:g}: stable; from {MODERATE_PSI:g} "
    f"to {MAJOR_PSI:g}: a moderate shift, worth a look; {MAJOR_PSI:g} and above: a major "
    "shift. The dashed lines mark these two thresholds. &#8220;too few&#8221;: too few "
    "values to measure."
)


def render_html(report: TelemetryReport) -> str:
    """Write the report as one self-contained HTML page.

    The page holds a summary table, the notes, and three charts with a table of the same
    numbers under each: latency over time, production accuracy (or MAE) over time per
    version, and drift per feature and output. A chart without data is replaced by a
    "No data in this window" line. The page loads nothing: its style and charts are
    inline, so it reads offline and prints. The same report gives the same page.

    Args:
        report: what to show.

    Returns:
        the whole HTML document.

    Example:
        >>> page = render_html(report)  # doctest: +SKIP
        >>> Path("telemetry.html").write_text(page, encoding="utf-8")  # doctest: +SKIP
    """
    title = f"Telemetry — {report.model}"
    metric = "accuracy" if report.accuracy_metric == "accuracy" else "mean absolute error (MAE)"
    notes = "\n".join(tag("li", note) for note in report.notes)
    drift = "\n".join(
        [
            f"<h3>Features</h3>\n{_drift(report.drift_features, 'feature')}",
            f"<h3>Outputs</h3>\n{_drift(report.drift_outputs, 'output')}",
        ]
    )
    generated = f"Generated {utc(report.generated_at)}. All times are UTC."
    sections = [
        f"<header>\n{tag('h1', title)}\n{tag('p', generated, 'meta')}\n</header>",
        section("summary", "Summary", "", _summary(report)),
        section("notes", "Notes", "", f'<ul class="notes">\n{notes}\n</ul>') if notes else "",
        section("latency", "Latency", _LATENCY_TEXT, _latency(report)),
        section("accuracy", f"Production {metric}", _ACCURACY_TEXT, _accuracy(report)),
        section("drift", "Drift", _DRIFT_TEXT, drift),
    ]
    body = "\n".join(section for section in sections if section)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"{tag('title', title)}\n<style>\n{STYLESHEET}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )
