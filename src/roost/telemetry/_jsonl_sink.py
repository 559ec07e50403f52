"""The JSON-lines sink: one JSON object per line, appended, for log shippers to pick up.

Lines look like ``{"kind": "prediction", "prediction_id": …, "timestamp": …}`` and
``{"kind": "feedback", "prediction_id": …, "truth": …, "received_at": …}``. Each batch
is appended in one write under an exclusive ``flock``, so several worker processes
never interleave half lines; feedback is fsynced before ``write_feedback`` returns.

The query methods read the whole file, which suits tests and small deployments; use
SQLite or PostgreSQL to query a large log. When reading, the first prediction and the
first feedback per id win, later feedback for an id counts as a duplicate, and a line
that cannot be read (a crash mid-write tears the last one) is skipped.

``write_feedback`` answers ``DUPLICATE`` only for ids this sink object has already
written: duplicates sent through another process are found only when reading.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from roost.errors import TelemetryError
from roost.telemetry._records import (
    DUPLICATE,
    LINE_FIELDS,
    RECORDED,
    FeedbackRecord,
    FeedbackStatus,
    LoggedPrediction,
    PredictionRecord,
    RenderedPrediction,
    prediction_of,
)
from roost.telemetry._sink import (
    DEFAULT_LATE_AFTER_S,
    FeedbackCounts,
    dump_json,
    load_json,
    one_line,
)

__all__ = ["JsonlSink"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Feedback:
    """The first feedback read for a prediction id, and how many more followed."""

    record: FeedbackRecord
    duplicates: int = 0


class JsonlSink:
    """Prediction records and feedback appended to a JSON-lines file.

    Args:
        path: the file (created with its folder if missing).

    Raises:
        TelemetryError: the file cannot be created or opened for appending.

    Example:
        >>> sink = JsonlSink("/var/log/roost/predictions.jsonl")  # doctest: +SKIP
        >>> sink.write_feedback([FeedbackRecord("a1", 1, time.time())])  # doctest: +SKIP
        ['recorded']
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.url = f"jsonl:///{self.path}"
        self._lock = threading.Lock()  # flock is per open file, so threads take turns here
        self._seen_feedback: set[str] = set()
        self._warned_unreadable = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd: int | None = os.open(
                self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644
            )
        except OSError as exc:
            raise TelemetryError(f"telemetry sink {self.url}: {one_line(exc)}") from exc

    # ------------------------------------------------------------------ writing

    def write_predictions(self, records: Sequence[LoggedPrediction]) -> None:
        data = b"".join(_prediction_line(record) for record in records)
        with self._lock:
            self._append(data, durable=False)

    def write_feedback(self, records: Sequence[FeedbackRecord]) -> list[FeedbackStatus]:
        data = b"".join(_feedback_line(record) for record in records)
        statuses: list[FeedbackStatus] = []
        with self._lock:
            seen = self._seen_feedback
            batch: set[str] = set()
            for record in records:
                # a duplicate is written too: reading counts it, so none is silently lost
                known = record.prediction_id in seen or record.prediction_id in batch
                statuses.append(DUPLICATE if known else RECORDED)
                batch.add(record.prediction_id)
            self._append(data, durable=True)
            seen.update(batch)
        return statuses

    def _append(self, data: bytes, *, durable: bool) -> None:
        """Append whole lines in one locked write; the caller holds ``self._lock``."""
        if not data:
            return
        if self._fd is None:
            raise TelemetryError(f"telemetry sink {self.url} is closed")
        fd = self._fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    # a crash tore the last line: end it, so this batch's first line is
                    # not glued to it and lost with it
                    data = b"\n" + data
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                if durable:
                    os.fsync(fd)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError as exc:
            raise TelemetryError(f"telemetry sink {self.url}: {one_line(exc)}") from exc

    # ------------------------------------------------------------------ reading

    def _read(self) -> tuple[dict[str, PredictionRecord], dict[str, _Feedback]]:
        """Every readable record in the file, the first per prediction id."""
        predictions: dict[str, PredictionRecord] = {}
        feedback: dict[str, _Feedback] = {}
        unreadable = 0
        for line in self._lines():
            try:
                item = load_json(line)
                kind = item["kind"]
                if kind == "prediction":
                    record = _prediction(item)
                    predictions.setdefault(record.prediction_id, record)
                elif kind == "feedback":
                    answer = FeedbackRecord(
                        str(item["prediction_id"]), item["truth"], float(item["received_at"])
                    )
                    first = feedback.setdefault(answer.prediction_id, _Feedback(answer))
                    if first.record is not answer:
                        first.duplicates += 1
                else:
                    unreadable += 1
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                unreadable += 1
        if unreadable:
            level = logging.DEBUG if self._warned_unreadable else logging.WARNING
            log.log(level, "telemetry sink %s: skipped %d unreadable lines", self.url, unreadable)
            self._warned_unreadable = True
        return predictions, feedback

    def _lines(self) -> Iterator[bytes]:
        try:
            with self.path.open("rb") as file:
                fcntl.flock(file.fileno(), fcntl.LOCK_SH)  # never read a batch half written
                data = file.read()
        except OSError as exc:
            raise TelemetryError(f"telemetry sink {self.url}: {one_line(exc)}") from exc
        return (line for line in data.split(b"\n") if line.strip())

    def predictions(
        self, model: str | None = None, since: float | None = None, until: float | None = None
    ) -> list[PredictionRecord]:
        records, _ = self._read()
        return _in_window(records.values(), model, since, until)

    def joined(
        self, model: str | None = None, since: float | None = None, until: float | None = None
    ) -> list[tuple[PredictionRecord, FeedbackRecord]]:
        records, feedback = self._read()
        return [
            (record, feedback[record.prediction_id].record)
            for record in _in_window(records.values(), model, since, until)
            if record.prediction_id in feedback
        ]

    def feedback_counts(
        self,
        model: str | None = None,
        since: float | None = None,
        late_after_s: float = DEFAULT_LATE_AFTER_S,
    ) -> FeedbackCounts:
        records, feedback = self._read()
        recorded = duplicates = unmatched = late = 0
        delays = []
        for first in feedback.values():
            answer = first.record
            if since is not None and answer.received_at < since:
                continue
            prediction = records.get(answer.prediction_id)
            if prediction is not None and model is not None and prediction.model != model:
                continue
            recorded += 1
            duplicates += first.duplicates
            if prediction is None:
                unmatched += 1
                continue
            delay = answer.received_at - prediction.timestamp
            delays.append(delay)
            if delay > late_after_s:
                late += 1
        return FeedbackCounts(recorded, duplicates, unmatched, late, _median(delays))

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def _in_window(
    records: Iterable[PredictionRecord], model: str | None, since: float | None, until: float | None
) -> list[PredictionRecord]:
    chosen = [
        record
        for record in records
        if (model is None or record.model == model)
        and (since is None or record.timestamp >= since)
        and (until is None or record.timestamp < until)
    ]
    return sorted(chosen, key=lambda record: (record.timestamp, record.prediction_id))


def _line(fields: dict[str, Any]) -> bytes:
    # each value is encoded on its own, so one odd value cannot spoil the line
    return orjson.dumps({k: orjson.Fragment(dump_json(v)) for k, v in fields.items()}) + b"\n"


def _prediction_line(record: LoggedPrediction) -> bytes:
    if isinstance(record, PredictionRecord):
        record = RenderedPrediction.of(record)
    # the rendered line is an array of LINE_FIELDS, and log shippers want named fields
    parsed = prediction_of(load_json(record.line))
    fields = {name: getattr(parsed, name) for name in LINE_FIELDS}
    return orjson.dumps({"kind": "prediction", **fields, "n_rows": parsed.n_rows}) + b"\n"


def _feedback_line(record: FeedbackRecord) -> bytes:
    return _line(
        {
            "kind": "feedback",
            "prediction_id": record.prediction_id,
            "truth": record.truth,
            "received_at": record.received_at,
        }
    )


def _prediction(item: dict[str, Any]) -> PredictionRecord:
    path = item.get("path")
    return PredictionRecord(
        prediction_id=str(item["prediction_id"]),
        timestamp=float(item["timestamp"]),
        model=str(item["model"]),
        version=int(item["version"]),
        protocol=str(item["protocol"]),
        inputs=list(item["inputs"]),
        outputs=list(item["outputs"]),
        latency_ms=float(item["latency_ms"]),
        path=None if path is None else [str(member) for member in path],
    )


def _median(values: Sequence[float]) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
