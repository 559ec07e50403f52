"""Telemetry at ``/metrics``: what was logged and dropped, production accuracy, drift.

Counts (records sampled, skipped, written, dropped; feedback recorded or duplicate;
the writer thread's CPU seconds) come from the prediction log and the feedback route,
and are written at every metrics flush. Production quality is heavier: every
``QUALITY_INTERVAL_S`` a worker thread scores the last hour's feedback, read from the
sink, and measures the drift of the recent requests this process logged (the last
``RECENT_RECORDS`` per model, kept in memory by the tap) against each package's
training baseline. With several workers, each measures its own share of the traffic
and the gauges show the most recent value.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from prometheus_client import CollectorRegistry, Counter, Gauge

from roost.clock import Clock
from roost.serving.repository import ServedModel
from roost.telemetry import LoggedPrediction, RenderedPrediction
from roost.telemetry.accuracy import REGRESSION, production_metrics
from roost.telemetry.drift import drift_report

if TYPE_CHECKING:  # _telemetry imports this module's neighbours; annotations only
    from roost.serving._telemetry import PredictionTap

__all__ = ["QUALITY_INTERVAL_S", "QUALITY_WINDOW_S", "QualityMetrics", "watch_quality"]

log = logging.getLogger(__name__)

#: how often production accuracy and drift are recomputed
QUALITY_INTERVAL_S = 30.0
#: how far back feedback counts towards the production accuracy gauge
QUALITY_WINDOW_S = 3600.0


class QualityMetrics:
    """The telemetry metrics of one server.

    Args:
        registry: the app's own registry, or None when worker processes share files.
    """

    def __init__(self, registry: CollectorRegistry | None) -> None:
        quality = ("model", "version")
        self.records = Counter(
            "roost_telemetry_records",
            "Prediction requests seen by telemetry, by outcome: sampled (to be logged), "
            "skipped (not sampled), written (in the sink), dropped (buffer full).",
            ["outcome"],
            registry=registry,
        )
        self.write_cpu = Counter(
            "roost_telemetry_write_cpu_seconds",
            "CPU time the prediction log's writer threads spent writing to the sink: "
            "telemetry's cost beyond the request path.",
            ["sink"],
            registry=registry,
        )
        self.feedback = Counter(
            "roost_feedback_items",
            "Feedback items stored, by status: recorded, or duplicate (an id already had one).",
            ["status"],
            registry=registry,
        )
        self.accuracy = Gauge(
            "roost_production_accuracy",
            "Share of correct predictions among those with feedback in the last hour "
            "(classifiers).",
            quality,
            multiprocess_mode="mostrecent",
            registry=registry,
        )
        self.mae = Gauge(
            "roost_production_mae",
            "Mean absolute error of the predictions with feedback in the last hour (regressors).",
            quality,
            multiprocess_mode="mostrecent",
            registry=registry,
        )
        self.scored_rows = Gauge(
            "roost_production_scored_rows",
            "Rows with feedback behind roost_production_accuracy or roost_production_mae.",
            quality,
            multiprocess_mode="mostrecent",
            registry=registry,
        )
        self.drift = Gauge(
            "roost_drift_psi",
            "Population stability index of recent inputs and outputs against the training "
            "baseline: under 0.1 stable, 0.25 and over a major shift.",
            [*quality, "feature"],
            multiprocess_mode="mostrecent",
            registry=registry,
        )
        #: the server's telemetry, once the app has one
        self.tap: PredictionTap | None = None
        self._seen: dict[tuple[Counter, str], float] = {}  # total counted so far
        self._baselines: dict[str, Any] = {}  # package folder -> its baseline, or None

    def flush(self) -> None:
        """Add what the log and the feedback route counted since the last flush."""
        if self.tap is None:
            return
        counts = self.tap.log.counts
        totals: list[tuple[Counter, str, float]] = [
            *(
                (self.records, outcome, getattr(counts, outcome))
                for outcome in ("sampled", "skipped", "written", "dropped")
            ),
            *((self.feedback, s, n) for s, n in self.tap.feedback_counts.items()),
            (self.write_cpu, _sink_kind(self.tap.sink.url), counts.write_cpu_s),
        ]
        for counter, label, total in totals:
            key = (counter, label)
            delta = total - self._seen.get(key, 0)
            if delta > 0:  # the counts only grow; a Prometheus counter must never go down
                counter.labels(label).inc(delta)
                self._seen[key] = total

    def _baseline(self, model: ServedModel) -> Any:
        """The package's training baseline (None without one), read once per package."""
        path = str(model.model.path)
        if path not in self._baselines:
            relative = model.model.metadata.get("baseline")
            self._baselines[path] = (
                json.loads((model.model.path / relative).read_text(encoding="utf-8"))
                if relative
                else None
            )
        return self._baselines[path]

    def update(
        self,
        served: list[ServedModel],
        recent: Mapping[str, Sequence[LoggedPrediction]],
        now: float,
    ) -> None:
        """Recompute production accuracy and drift (in a worker thread: it reads the sink)."""
        if self.tap is None:
            return
        for model in served:
            version = str(model.version)
            pairs = self.tap.sink.joined(model=model.name, since=now - QUALITY_WINDOW_S)
            scores = production_metrics(pairs, window_s=QUALITY_WINDOW_S)
            for overall in scores.overall:
                labels = (overall.model, str(overall.version))
                self.scored_rows.labels(*labels).set(overall.n)
                if scores.task == REGRESSION and overall.mae is not None:
                    self.mae.labels(*labels).set(overall.mae)
                elif overall.accuracy is not None:
                    self.accuracy.labels(*labels).set(overall.accuracy)
            baseline = self._baseline(model)
            parsed = (  # the JSON back
                r.record() if isinstance(r, RenderedPrediction) else r
                for r in recent.get(model.name, [])
            )
            records = [r for r in parsed if r.version == model.version]
            if baseline is None or not records:
                continue
            names = [spec.name for spec in model.model.signature.inputs]
            drift = drift_report(baseline, records, feature_order=names)
            for feature in (*drift.features, *drift.outputs):
                if feature.psi is not None:
                    self.drift.labels(model.name, version, feature.name).set(feature.psi)


def _sink_kind(url: str) -> str:
    """``sqlite``, ``postgresql`` or ``jsonl``, from a sink's URL."""
    scheme = url.split(":", 1)[0]
    return "postgresql" if scheme.startswith("postgres") else scheme


async def watch_quality(
    metrics: QualityMetrics,
    served: Any,
    clock: Clock,
    interval_s: float = QUALITY_INTERVAL_S,
) -> None:
    """Recompute the quality gauges every ``interval_s`` until cancelled.

    Args:
        metrics: the gauges, with the server's tap.
        served: returns the models served now (the repository's ``served``).
        clock: time.
        interval_s: the pause between two updates.
    """
    while True:
        await asyncio.sleep(interval_s)
        tap = metrics.tap
        if tap is None:
            continue
        # copied here, on the loop: the tap appends to these from the loop only
        recent = {name: list(records) for name, records in tap.recent.items()}
        try:
            await anyio.to_thread.run_sync(metrics.update, served(), recent, clock.time())
        except Exception:  # telemetry never fails serving (STYLE.md §5)
            log.exception("telemetry: could not update production accuracy and drift")
