"""What telemetry stores: one record per logged prediction request, one per feedback item.

A prediction record holds one *request* (its id is the ``X-Prediction-Id`` the client
got), which may carry several rows: ``inputs`` and ``outputs`` are lists with one entry
per row. Feedback names the request by that id; its ``truth`` is one value for a
one-row request, or a list with one value per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from roost.telemetry._json import dump_json_array, load_json

__all__ = [
    "LINE_FIELDS",
    "FeedbackRecord",
    "FeedbackStatus",
    "LoggedPrediction",
    "PredictionRecord",
    "RenderedPrediction",
    "prediction_of",
]


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


#: the fields of a rendered record's line (a JSON array), in order
LINE_FIELDS = (
    "prediction_id",
    "timestamp",
    "model",
    "version",
    "protocol",
    "inputs",
    "outputs",
    "latency_ms",
    "path",
)


class RenderedPrediction(NamedTuple):
    """A prediction record already rendered as the line the sinks store.

    Serving renders each request's record as it answers, instead of keeping the request's
    rows and outputs alive until the log's thread writes them: the buffer then holds one
    small object per request rather than a tree of lists and dicts that the garbage
    collector walks at every collection. The whole record is one JSON array: one call to
    orjson, 0.8 µs in a quiet process where rendering inputs and outputs on their own took
    1.1 to 1.5. The SQL sinks store a batch of these lines as one row. The id, timestamp
    and model stay outside the line because the sinks index and group by them. (A
    NamedTuple rather than a frozen dataclass: it is built on the request path, and a
    frozen dataclass's ``__init__`` costs three times more.)

    Attributes:
        prediction_id: as in ``PredictionRecord``; so are ``timestamp`` and ``model``.
        line: the record as a JSON array of ``LINE_FIELDS``, in that order. Text, not
            orjson's bytes: a bytes object orjson made keeps its oversized buffer, and
            holding thousands in the buffer cost 5 µs per record more than copies did.
    """

    prediction_id: str
    timestamp: float
    model: str
    line: str

    @classmethod
    def render(
        cls,
        prediction_id: str,
        timestamp: float,
        model: str,
        version: int,
        protocol: str,
        inputs: list[Any],
        outputs: list[Any],
        latency_ms: float,
        path: list[str] | None = None,
    ) -> RenderedPrediction:
        """Render a request's record from the fields of ``PredictionRecord``."""
        return cls(
            prediction_id,
            timestamp,
            model,
            dump_json_array(
                [
                    prediction_id,
                    timestamp,
                    model,
                    version,
                    protocol,
                    inputs,
                    outputs,
                    latency_ms,
                    path,
                ]
            ).decode(),
        )

    @classmethod
    def of(cls, record: PredictionRecord) -> RenderedPrediction:
        """Render a record."""
        return cls.render(
            record.prediction_id,
            record.timestamp,
            record.model,
            record.version,
            record.protocol,
            record.inputs,
            record.outputs,
            record.latency_ms,
            record.path,
        )

    def record(self) -> PredictionRecord:
        """The record back, its line parsed."""
        return prediction_of(load_json(self.line))


def prediction_of(fields: list[Any]) -> PredictionRecord:
    """The record a parsed line holds (a JSON array of ``LINE_FIELDS``).

    Raises:
        ValueError, TypeError: the array is not a record's.
    """
    prediction_id, timestamp, model, version, protocol, inputs, outputs, latency_ms, path = fields
    return PredictionRecord(
        prediction_id=str(prediction_id),
        timestamp=float(timestamp),
        model=str(model),
        version=int(version),
        protocol=str(protocol),
        inputs=_as_list(inputs),
        outputs=_as_list(outputs),
        latency_ms=float(latency_ms),
        path=None if path is None else [str(member) for member in path],
    )


def _as_list(value: Any) -> list[Any]:
    # a value JSON could not hold was stored as its repr, a string: one entry, not its letters
    return value if isinstance(value, list) else [value]


#: what the prediction log takes and the sinks write: a record, or one rendered already
LoggedPrediction = PredictionRecord | RenderedPrediction


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
