"""Serving's side of telemetry: hand each answered prediction request to the prediction log.

``PredictionTap.record`` runs on the event loop after the outputs are known. It renders
one ``RenderedPrediction`` (the record, its inputs and outputs as JSON text) and appends it
to the log's buffer; the log's own thread
writes it to the sink, so a slow or failing sink never holds up an answer. Sampling is
decided first (``wants``), so an unsampled request costs one random number.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from roost.clock import Clock
from roost.errors import ConfigError
from roost.serving.repository import ServedModel
from roost.telemetry import PredictionLog, Redactor, RenderedPrediction, Sink

__all__ = ["RECENT_RECORDS", "PredictionTap", "rows_for_log"]

log = logging.getLogger(__name__)

#: logged requests kept in memory per model for the drift gauges
RECENT_RECORDS = 5000


def rows_for_log(rows: Any) -> list[Any]:
    """A request's rows as a list with one JSON-ready entry per row.

    KServe V1 hands over its list of instances as it came; a DataFrame (V2, MLflow) gives
    one dict per row, a dict of tensors one dict of per-row values.
    """
    if isinstance(rows, list):
        return rows
    if hasattr(rows, "to_dict"):  # a DataFrame
        records: list[Any] = rows.to_dict("records")
        return records
    if isinstance(rows, dict):
        values = {
            name: list(value) if hasattr(value, "__len__") else [value]
            for name, value in rows.items()
        }
        n_rows = len(next(iter(values.values()), []))
        return [{name: column[i] for name, column in values.items()} for i in range(n_rows)]
    return [rows]


class PredictionTap:
    """Log the prediction requests of one server.

    Args:
        log: the buffered prediction log (started and closed by the app's lifespan).
        sink: where the log writes, and where feedback is written straight away.
        clock: time, for timestamps.
        hash_key: the key sensitive fields are hashed with.
    """

    def __init__(self, log: PredictionLog, sink: Sink, clock: Clock, hash_key: bytes) -> None:
        self.log = log
        self.sink = sink
        self.clock = clock
        self._hash_key = hash_key
        #: feedback items stored, by status (``recorded``, ``duplicate``), for the metrics
        self.feedback_counts: Counter[str] = Counter()
        #: the last requests logged, per model with a training baseline, for the drift
        #: gauges (``_quality``); a model without one has nothing to compare them with
        self.recent: dict[str, deque[RenderedPrediction]] = {}
        self._versions: dict[tuple[str, int], _Version] = {}

    def redactor(self, served: ServedModel) -> Redactor | None:
        """The redactor of one served version, from its card's ``sensitive_fields``.

        Raises:
            ConfigError: the declaration is malformed (saving refuses those; an older
                package may still hold one).
        """
        declared = (served.model.metadata.get("card") or {}).get("sensitive_fields")
        return Redactor.from_card(declared, self._hash_key)

    def _version(self, served: ServedModel) -> _Version:
        """What is logged of one served version, worked out on its first request."""
        try:
            redactor, readable = self.redactor(served), True
        except ConfigError as exc:
            # which fields are sensitive is unknown: log no inputs rather than leak one
            log.error("telemetry: %s: %s; its inputs are not logged", served.ref, exc)
            redactor, readable = None, False
        recent = None
        if served.model.metadata.get("baseline"):
            recent = self.recent.setdefault(served.name, deque(maxlen=RECENT_RECORDS))
        is_composite = (served.model.metadata.get("flavor") or {}).get("name") == "composite"
        version = _Version(
            redactor, readable, recent, served.model.path_of if is_composite else None
        )
        self._versions[(served.name, served.version)] = version
        return version

    def feedback_done(self, statuses: list[str]) -> None:
        """Count stored feedback items by status."""
        self.feedback_counts.update(statuses)

    def record(
        self,
        served: ServedModel,
        prediction_id: str,
        protocol: str,
        rows: Any,
        outputs: list[Any],
        latency_s: float,
    ) -> None:
        """Log one answered request, if the log samples it (never raises)."""
        try:
            if not self.log.wants(served.name):
                return
            version = self._versions.get((served.name, served.version))
            if version is None:
                version = self._version(served)
            inputs = rows_for_log(rows) if version.readable else []
            if version.redactor is not None:
                inputs = version.redactor.rows(inputs)
            path = version.path_of(outputs) if version.path_of is not None else None
            # rendered now, so the buffer holds text rather than the request's objects
            record = RenderedPrediction.render(
                prediction_id,
                self.clock.time() - latency_s,
                served.name,
                served.version,
                protocol,
                inputs,
                outputs,
                latency_s * 1000,
                path,
            )
            self.log.record(record)
            if version.recent is not None:
                version.recent.append(record)
        except Exception:  # telemetry never fails a request (STYLE.md §5)
            log.exception("telemetry: could not log prediction %s", prediction_id)


@dataclass(frozen=True, slots=True)
class _Version:
    """What the tap does with the requests of one served version.

    Attributes:
        redactor: hashes or drops its sensitive fields; None when it declares none.
        readable: False when its ``sensitive_fields`` could not be read: no inputs logged.
        recent: where its last records are kept for the drift gauges; None without a
            training baseline.
        path_of: for a composite, which of its members answered a request; None for
            any other model.
    """

    redactor: Redactor | None
    readable: bool
    recent: deque[RenderedPrediction] | None
    path_of: Callable[[list[Any]], list[str] | None] | None
