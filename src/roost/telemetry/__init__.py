"""Telemetry: what the served models did, and whether they were right.

- a prediction log (``PredictionLog``): requests sampled, redacted (``Redactor``),
  buffered and written off the request path to a sink (``open_sink``: SQLite by default,
  PostgreSQL, or JSON lines);
- feedback (``FeedbackRecord``): the ground truth, joined to the logged predictions;
- production accuracy, drift against the training baseline, volume estimates and
  reports built from the sink.

docs/telemetry.md has the long form.
"""

from __future__ import annotations

from roost.telemetry._records import (
    DUPLICATE,
    RECORDED,
    FeedbackRecord,
    LoggedPrediction,
    PredictionRecord,
    RenderedPrediction,
)
from roost.telemetry._redact import Redactor
from roost.telemetry._sink import FeedbackCounts, Sink, mask_password, open_sink
from roost.telemetry.log import LogCounts, PredictionLog

__all__ = [
    "DUPLICATE",
    "RECORDED",
    "FeedbackCounts",
    "FeedbackRecord",
    "LogCounts",
    "LoggedPrediction",
    "PredictionLog",
    "PredictionRecord",
    "Redactor",
    "RenderedPrediction",
    "Sink",
    "mask_password",
    "open_sink",
]
