"""Live facts: what the running service knows about a model, for its factsheet.

A factsheet served by ``roost serve`` adds them to the measured and declared facts: they
change while the service runs, so they are gathered at request time (serving builds a
``LiveFacts`` from its metrics and its telemetry) and never stored in the package.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from roost.types import JSONDict

__all__ = ["LiveFacts"]


@dataclass(frozen=True, slots=True)
class LiveFacts:
    """One served version's behaviour since the server started.

    Attributes:
        serving_since: when the server started serving this version, ISO 8601 in UTC.
        requests: requests to the model's endpoints since then, answered or refused, on
            every worker: predictions, and also its metadata and readiness (the server's
            metrics do not tell those apart); its card and factsheet are not counted.
        errors: those answered with a 5xx status.
        throughput_rps: requests per second over the time served; None before any.
        latency_ms: request latency percentiles from the server's histogram
            (``{"p50": 3.1, "p95": 7.9, "p99": 12.0}``); empty before any request.
        telemetry: whether the server logs predictions (production accuracy and drift
            need it).
        production: from feedback, when telemetry is on: ``{"accuracy": 0.91,
            "scored_rows": 120}`` (classifiers) or ``{"mae": …, "scored_rows": …}``; None
            without feedback.
        drift: PSI per feature and output of recent requests against the training
            baseline (``{"petal_length": 0.31}``); None without telemetry or baseline.
    """

    serving_since: str
    requests: int
    errors: int
    throughput_rps: float | None
    latency_ms: dict[str, float] = field(default_factory=dict)
    telemetry: bool = False
    production: JSONDict | None = None
    drift: dict[str, float] | None = None

    @property
    def error_rate(self) -> float | None:
        """The share of requests that failed; None before any request."""
        return self.errors / self.requests if self.requests else None

    def to_dict(self) -> JSONDict:
        return {
            "serving_since": self.serving_since,
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": self.error_rate,
            "throughput_rps": self.throughput_rps,
            "latency_ms": dict(self.latency_ms),
            "telemetry": self.telemetry,
            "production": self.production,
            "drift": self.drift,
        }
