"""Serving's side of telemetry: hand each answered prediction request to the prediction log.

``PredictionTap.record`` runs on the event loop after the outputs are known. It builds
one ``PredictionRecord`` and appends it to the log's buffer; the log's own thread
writes it to the sink, so a slow or failing sink never holds up an answer. Sampling is
decided first (``wants``), so an unsampled request costs one random number.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict, deque
from typing import Any

from roost.clock import Clock
from roost.errors import ConfigError
from roost.serving.repository import ServedModel
from roost.telemetry import PredictionLog, PredictionRecord, Redactor, Sink

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
        #: the last requests logged, per model, for the drift gauges (``_quality``)
        self.recent: defaultdict[str, deque[PredictionRecord]] = defaultdict(
            lambda: deque(maxlen=RECENT_RECORDS)
        )
        self._redactors: dict[tuple[str, int], Redactor | None] = {}
        self._unreadable: set[str] = set()  # refs whose sensitive_fields could not be read

    def redactor(self, served: ServedModel) -> Redactor | None:
        """The redactor of one served version, from its card's ``sensitive_fields``.

        Raises:
            ConfigError: the declaration is malformed (saving refuses those; an older
                package may still hold one).
        """
        key = (served.name, served.version)
        if key not in self._redactors:
            declared = (served.model.metadata.get("card") or {}).get("sensitive_fields")
            self._redactors[key] = Redactor.from_card(declared, self._hash_key)
        return self._redactors[key]

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
            inputs = rows_for_log(rows)
            try:
                redactor = self.redactor(served)
            except ConfigError as exc:
                # which fields are sensitive is unknown: log no inputs rather than leak one
                if served.ref not in self._unreadable:
                    self._unreadable.add(served.ref)
                    log.error("telemetry: %s: %s; its inputs are not logged", served.ref, exc)
                redactor, inputs = None, []
            if redactor is not None:
                inputs = redactor.rows(inputs)
            record = PredictionRecord(
                prediction_id=prediction_id,
                timestamp=self.clock.time() - latency_s,
                model=served.name,
                version=served.version,
                protocol=protocol,
                inputs=inputs,
                outputs=outputs,
                latency_ms=latency_s * 1000,
            )
            self.log.record(record)
            self.recent[served.name].append(record)
        except Exception:  # telemetry never fails a request (STYLE.md §5)
            log.exception("telemetry: could not log prediction %s", prediction_id)
