"""What telemetry stores: one record per logged prediction request, one per feedback item.

A prediction record holds one *request* (its id is the ``X-Prediction-Id`` the client
got), which may carry several rows: ``inputs`` and ``outputs`` are lists with one entry
per row. Feedback names the request by that id; its ``truth`` is one value for a
one-row request, or a list with one value per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["FeedbackRecord", "FeedbackStatus", "PredictionRecord"]


@dataclass(frozen=True, slots=True)
class PredictionRecord:
    """One prediction request, as logged.

    Attributes:
        prediction_id: the id the client got (``X-Prediction-Id``), unique per request.
        timestamp: when the request arrived, in seconds since the epoch (UTC).
        model: the model's name.
        version: the version that answered.
        protocol: ``v1``, ``v2`` or ``mlflow``.
        inputs: the rows as received, one entry per row (a dict of column to value, or a
            list of values), sensitive fields already redacted.
        outputs: the model's outputs, one entry per row, as the client got them.
        latency_ms: from the request's arrival to its outputs.
        path: for a composite, the members that answered, in order; None otherwise.
    """

    prediction_id: str
    timestamp: float
    model: str
    version: int
    protocol: str
    inputs: list[Any]
    outputs: list[Any]
    latency_ms: float
    path: list[str] | None = None

    @property
    def n_rows(self) -> int:
        return len(self.outputs)


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    """The ground truth for one logged prediction request.

    Attributes:
        prediction_id: the request it is about.
        truth: one value for a one-row request, else a list with one value per row.
        received_at: when it arrived, in seconds since the epoch (UTC).
    """

    prediction_id: str
    truth: Any
    received_at: float


#: what a sink answers for each feedback record it was given
FeedbackStatus = str
#: the feedback was stored (the first for its prediction id)
RECORDED: FeedbackStatus = "recorded"
#: feedback for this prediction id was already stored; the first one is kept, this is counted
DUPLICATE: FeedbackStatus = "duplicate"
