"""One model's telemetry over a time window, gathered from a sink into a ``TelemetryReport``.

``roost telemetry report`` prints it as tables and ``render_html`` draws it; both read
the same object, so the terminal and the HTML page never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from roost.telemetry._sink import DEFAULT_LATE_AFTER_S, Sink
from roost.telemetry.accuracy import REGRESSION, production_metrics
from roost.telemetry.drift import DriftReport, FeatureDrift, drift_report
from roost.telemetry.report import (
    AccuracyPoint,
    DriftBar,
    TelemetryReport,
    bucket_latencies,
    choose_bucket_s,
    nearest_rank,
)

__all__ = ["collect_report"]


def _bars(drifts: Sequence[FeatureDrift]) -> list[DriftBar]:
    return [DriftBar(d.name, d.psi, d.level, d.n) for d in drifts]


def collect_report(
    sink: Sink,
    model: str,
    *,
    since: float | None,
    until: float,
    now: float,
    baseline: Mapping[str, Any] | None = None,
    feature_order: Sequence[str] | None = None,
    task: str | None = None,
    late_after_s: float = DEFAULT_LATE_AFTER_S,
) -> TelemetryReport:
    """Gather ``model``'s predictions, feedback and drift logged in ``[since, until)``.

    Args:
        sink: where the server logged (SQLite, PostgreSQL or JSON lines).
        model: the model's name; every version logged in the window is included.
        since: the window's start (epoch seconds); None from the first record.
        until: the window's end (exclusive).
        now: when the report is made.
        baseline: the package's training baseline (``eval/baseline.json``), for drift;
            None leaves drift out, with a note.
        feature_order: the model's input names in signature order (for list rows).
        task: ``classification`` or ``regression``; inferred from the outputs if None.
        late_after_s: feedback later than this after its prediction is counted late.
    """
    records = sink.predictions(model=model, since=since, until=until)
    pairs = sink.joined(model=model, since=since, until=until)
    counts = sink.feedback_counts(model=model, since=since, late_after_s=late_after_s)
    notes: list[str] = []
    start = since if since is not None else (records[0].timestamp if records else until)
    bucket_s = choose_bucket_s(max(until - start, 1.0))
    latencies = sorted(record.latency_ms for record in records)
    metrics = production_metrics(pairs, window_s=bucket_s, task=task)
    regression = metrics.task == REGRESSION
    accuracy = [
        AccuracyPoint(w.start, w.version, w.n, value)
        for w in metrics.windows
        if (value := w.mae if regression else w.accuracy) is not None
    ]
    overall = [
        (w.version, w.n, value)
        for w in metrics.overall
        if (value := w.mae if regression else w.accuracy) is not None
    ]
    if not records:
        notes.append("No prediction of this model was logged in this window.")
    if not pairs:
        notes.append(
            "No feedback matched a logged prediction in this window: production accuracy "
            "needs POST /v1/feedback with the ids the predictions returned."
        )
    if metrics.invalid:
        notes.append(f"{metrics.invalid} rows had feedback that could not be scored.")
    drift: DriftReport | None = None
    if baseline is None:
        notes.append("The package holds no training baseline: drift was not measured.")
    elif records:
        drift = drift_report(baseline, records, feature_order=feature_order)
    return TelemetryReport(
        model=model,
        versions=sorted({record.version for record in records}),
        since=since,
        until=until,
        generated_at=now,
        requests=len(records),
        rows=sum(record.n_rows for record in records),
        latency_p50_ms=nearest_rank(latencies, 50) if latencies else None,
        latency_p99_ms=nearest_rank(latencies, 99) if latencies else None,
        latency=bucket_latencies([(r.timestamp, r.latency_ms) for r in records], bucket_s),
        accuracy_metric="mae" if regression else "accuracy",
        accuracy=accuracy,
        overall=overall,
        drift_features=_bars(drift.features) if drift else [],
        drift_outputs=_bars(drift.outputs) if drift else [],
        feedback={
            "recorded": counts.recorded,
            "duplicates": counts.duplicates,
            "unmatched": counts.unmatched,
            "late": counts.late,
            "median_delay_s": counts.median_delay_s,
        },
        sink=sink.url,
        notes=notes,
    )
