"""What the SQLite and PostgreSQL sinks share: their tables and their queries.

Three tables:

- ``roost_prediction_batches``: the records, as the prediction log wrote them. One row
  holds up to ``RECORDS_PER_BATCH`` records of one model, as JSON lines (each a
  ``RenderedPrediction.line``), with the first and last of their timestamps.
- ``roost_prediction_ids``: one narrow row per record: its prediction id, its batch and
  its timestamp, for feedback to find it. A prediction id already there (a retried
  batch) keeps its first record; the repeat is taken out of its batch.
- ``roost_feedback``: the first truth per prediction id; later feedback for the same id
  only adds to its ``duplicates`` count, so nothing sent is silently lost.

Why batches: a row per record with ten columns and two indexes cost the writer thread
about 5.9 µs per record in a quiet process; a batch row and a narrow id row cost 3.4.
In a loaded server that thread takes its CPU from the model's, so this is throughput.

Files written by roost before batches (one ``roost_predictions`` row per record) are
converted when a sink opens them, in the transaction that creates the tables.
"""

from __future__ import annotations

import functools
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from roost.telemetry._json import dump_json, load_json
from roost.telemetry._records import (
    DUPLICATE,
    RECORDED,
    FeedbackRecord,
    FeedbackStatus,
    LoggedPrediction,
    PredictionRecord,
    RenderedPrediction,
    prediction_of,
)
from roost.telemetry._sink import DEFAULT_LATE_AFTER_S, FeedbackCounts

__all__ = ["RECORDS_PER_BATCH", "Cursor", "SqlSink", "schema"]

log = logging.getLogger(__name__)

#: records per batch row. Its ids go in one INSERT of three parameters each: binding
#: them holds the GIL (the event loop waits meanwhile), so 750 keeps that short; far
#: under SQLite's (32,766) and PostgreSQL's (65,535) parameter limits. A feedback lookup
#: searches one batch's text, about 50 kB at this size.
RECORDS_PER_BATCH = 250

#: the table of roost before batches, converted when found
_ROW_TABLE = "roost_predictions"
_ROW_COLUMNS = "prediction_id, ts, model, version, protocol, inputs, outputs, latency_ms, path"
#: old rows converted per read: bounds the memory a conversion holds
_CONVERT_CHUNK = 5000
#: ids per ``IN (…)`` list
_IDS_PER_QUERY = 500


def schema(*, real: str, batch_key: str, without_rowid: str) -> tuple[str, ...]:
    """The statements that create the tables.

    Args:
        real: the 8-byte float type's name.
        batch_key: the batch column's type, an integer key the database assigns.
        without_rowid: what ends a table that needs no second key (SQLite's
            ``WITHOUT ROWID``), or nothing.
    """
    return (
        f"""CREATE TABLE IF NOT EXISTS roost_prediction_batches (
            batch {batch_key}, model TEXT NOT NULL, first_ts {real} NOT NULL,
            last_ts {real} NOT NULL, n_records INTEGER NOT NULL, records TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS roost_prediction_batches_last_ts "
        "ON roost_prediction_batches (last_ts)",
        f"""CREATE TABLE IF NOT EXISTS roost_prediction_ids (
            prediction_id TEXT PRIMARY KEY, batch BIGINT NOT NULL, ts {real} NOT NULL)
            {without_rowid}""",
        f"""CREATE TABLE IF NOT EXISTS roost_feedback (
            prediction_id TEXT PRIMARY KEY, truth TEXT NOT NULL, received_at {real} NOT NULL,
            duplicates INTEGER NOT NULL DEFAULT 0)""",
        "CREATE INDEX IF NOT EXISTS roost_feedback_received_at ON roost_feedback (received_at)",
    )


class Cursor(Protocol):
    """One transaction of a SQL sink; statements use ``?`` placeholders."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a statement; the rows it returns."""
        ...

    def count(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement that changes rows; how many it inserted, updated or deleted."""
        ...

    def has_table(self, name: str) -> bool:
        """Whether a table of that name is there."""
        ...


class SqlSink(ABC):
    """The queries of the SQLite and PostgreSQL sinks; subclasses supply the transactions."""

    url: str

    #: how ``joined`` joins ids and batches to the feedback it reads first (see there)
    _join_to_feedback = "JOIN"

    @abstractmethod
    def _transaction(self, *, write: bool, durable: bool = False) -> AbstractContextManager[Cursor]:
        """A transaction; ``durable`` ones are on disk once it commits, even after power loss."""

    def _create_tables(self, cur: Cursor, statements: Iterable[str]) -> None:
        """Create the tables, converting rows a roost before batches wrote (call it once,
        in a write transaction that keeps other processes out)."""
        for statement in statements:
            cur.execute(statement)
        if cur.has_table(_ROW_TABLE):
            converted = _convert_rows(cur)
            cur.execute(f"DROP TABLE {_ROW_TABLE}")
            log.info("telemetry sink %s: converted %d logged predictions", self.url, converted)

    def write_predictions(self, records: Sequence[LoggedPrediction]) -> None:
        if records:
            with self._transaction(write=True) as cur:
                _write_records(cur, records)

    def write_feedback(self, records: Sequence[FeedbackRecord]) -> list[FeedbackStatus]:
        statuses: list[FeedbackStatus] = []
        if not records:
            return statuses
        with self._transaction(write=True, durable=True) as cur:
            for record in records:
                # one statement both stores a first truth and counts a repeated one;
                # RETURNING tells which happened, even for an id twice in this batch
                ((duplicates,),) = cur.execute(
                    "INSERT INTO roost_feedback (prediction_id, truth, received_at) "
                    "VALUES (?, ?, ?) ON CONFLICT (prediction_id) DO UPDATE "
                    "SET duplicates = roost_feedback.duplicates + 1 RETURNING duplicates",
                    (record.prediction_id, dump_json(record.truth).decode(), record.received_at),
                )
                statuses.append(RECORDED if duplicates == 0 else DUPLICATE)
        return statuses

    def predictions(
        self, model: str | None = None, since: float | None = None, until: float | None = None
    ) -> list[PredictionRecord]:
        # the batches that may hold a record of the window: a batch's records span
        # first_ts to last_ts
        where, params = _where(
            [("model = ?", model), ("last_ts >= ?", since), ("first_ts < ?", until)]
        )
        with self._transaction(write=False) as cur:
            rows = cur.execute(f"SELECT records FROM roost_prediction_batches{where}", params)
        records = [
            record
            for (text,) in rows
            for record in _parse_batch(text)
            if (since is None or record.timestamp >= since)
            and (until is None or record.timestamp < until)
        ]
        return sorted(records, key=_in_order)

    def joined(
        self, model: str | None = None, since: float | None = None, until: float | None = None
    ) -> list[tuple[PredictionRecord, FeedbackRecord]]:
        # Feedback first: a window holds far fewer feedback items than predictions, and
        # the quality gauges run this every 30 s over the last hour. Feedback is received
        # after its prediction is made, so the window also bounds the feedback read
        # (clocks skewed between servers only blur its first moments).
        where, params = _where(
            [
                ("b.model = ?", model),
                ("i.ts >= ?", since),
                ("i.ts < ?", until),
                ("f.received_at >= ?", since),
            ]
        )
        join = self._join_to_feedback
        with self._transaction(write=False) as cur:
            matched = cur.execute(
                "SELECT i.prediction_id, i.batch, f.truth, f.received_at FROM roost_feedback f "
                f"{join} roost_prediction_ids i ON i.prediction_id = f.prediction_id "
                f"{join} roost_prediction_batches b ON b.batch = i.batch{where}",
                params,
            )
            wanted: dict[int, list[str]] = {}
            for prediction_id, batch, _, _ in matched:
                wanted.setdefault(int(batch), []).append(str(prediction_id))
            found = _find_records(cur, wanted)
        pairs = [
            (
                found[str(prediction_id)],
                FeedbackRecord(str(prediction_id), load_json(truth), float(at)),
            )
            for prediction_id, _, truth, at in matched
            if str(prediction_id) in found  # always, unless someone edited the batch
        ]
        return sorted(pairs, key=lambda pair: _in_order(pair[0]))

    def feedback_counts(
        self,
        model: str | None = None,
        since: float | None = None,
        late_after_s: float = DEFAULT_LATE_AFTER_S,
    ) -> FeedbackCounts:
        where, params = _where(
            [("f.received_at >= ?", since), ("(b.model = ? OR i.prediction_id IS NULL)", model)]
        )
        joined = (
            "FROM roost_feedback f "
            "LEFT JOIN roost_prediction_ids i ON i.prediction_id = f.prediction_id "
            f"LEFT JOIN roost_prediction_batches b ON b.batch = i.batch{where}"
        )
        with self._transaction(write=False) as cur:
            ((recorded, duplicates, unmatched, late),) = cur.execute(
                "SELECT COUNT(*), COALESCE(SUM(f.duplicates), 0), "
                "COALESCE(SUM(CASE WHEN i.prediction_id IS NULL THEN 1 ELSE 0 END), 0), "
                f"COALESCE(SUM(CASE WHEN f.received_at - i.ts > ? THEN 1 ELSE 0 END), 0) {joined}",
                [late_after_s, *params],
            )
            matched = int(recorded) - int(unmatched)
            middle: list[float] = []
            if matched:
                # the median in SQL, which neither database spells the same way: sort the
                # matched delays and read the one or two in the middle
                rows = cur.execute(
                    f"SELECT f.received_at - i.ts AS delay {joined} "
                    f"{'AND' if where else 'WHERE'} i.prediction_id IS NOT NULL "
                    "ORDER BY delay LIMIT ? OFFSET ?",
                    [*params, 2 - matched % 2, (matched - 1) // 2],
                )
                middle = [float(row[0]) for row in rows]
        return FeedbackCounts(
            recorded=int(recorded),
            duplicates=int(duplicates),
            unmatched=int(unmatched),
            late=int(late),
            median_delay_s=sum(middle) / len(middle) if middle else None,
        )

    @abstractmethod
    def close(self) -> None:
        """Release the connections; the sink cannot be used afterwards."""


def _where(conditions: list[tuple[str, Any]]) -> tuple[str, list[Any]]:
    """A WHERE clause of the conditions whose value is given (not None), and the values."""
    chosen = [(clause, value) for clause, value in conditions if value is not None]
    where = f" WHERE {' AND '.join(clause for clause, _ in chosen)}" if chosen else ""
    return where, [value for _, value in chosen]


# ------------------------------------------------------------------------- writing


def _write_records(cur: Cursor, records: Sequence[LoggedPrediction]) -> None:
    """Store records as batch rows of one model each, and their ids."""
    by_model: dict[str, list[RenderedPrediction]] = {}
    for record in records:
        if isinstance(record, PredictionRecord):
            record = RenderedPrediction.of(record)
        group = by_model.get(record.model)
        if group is None:
            group = by_model[record.model] = []
        group.append(record)
    for group in by_model.values():
        for start in range(0, len(group), RECORDS_PER_BATCH):
            _write_batch(cur, group[start : start + RECORDS_PER_BATCH])


def _batch_columns(records: list[RenderedPrediction]) -> tuple[float, float, int, str]:
    """A batch row's ``first_ts``, ``last_ts``, ``n_records`` and ``records``."""
    stamps = [record.timestamp for record in records]
    return min(stamps), max(stamps), len(records), "\n".join([r.line for r in records])


def _write_batch(cur: Cursor, records: list[RenderedPrediction]) -> None:
    ((batch,),) = cur.execute(
        "INSERT INTO roost_prediction_batches (model, first_ts, last_ts, n_records, records) "
        "VALUES (?, ?, ?, ?, ?) RETURNING batch",
        (records[0].model, *_batch_columns(records)),
    )
    params = [
        value for record in records for value in (record.prediction_id, batch, record.timestamp)
    ]
    if cur.count(_insert_ids(len(records)), params) < len(records):
        _keep_first(cur, batch, records)


def _keep_first(cur: Cursor, batch: int, records: list[RenderedPrediction]) -> None:
    """Take out of a batch the records whose id was already stored (a retried write, or
    an id twice in this batch): the first record stored for an id is the one kept."""
    ids = list({record.prediction_id for record in records})
    ours: set[str] = set()
    for start in range(0, len(ids), _IDS_PER_QUERY):
        chunk = ids[start : start + _IDS_PER_QUERY]
        rows = cur.execute(
            "SELECT prediction_id FROM roost_prediction_ids "
            f"WHERE batch = ? AND prediction_id IN ({', '.join('?' * len(chunk))})",
            [batch, *chunk],
        )
        ours.update(str(row[0]) for row in rows)
    kept: list[RenderedPrediction] = []
    for record in records:
        if record.prediction_id in ours:
            ours.discard(record.prediction_id)  # a second record with this id is not kept
            kept.append(record)
    if not kept:
        cur.count("DELETE FROM roost_prediction_batches WHERE batch = ?", (batch,))
        return
    cur.count(
        "UPDATE roost_prediction_batches SET first_ts = ?, last_ts = ?, n_records = ?, "
        "records = ? WHERE batch = ?",
        (*_batch_columns(kept), batch),
    )


@functools.lru_cache(maxsize=8)
def _insert_ids(n_records: int) -> str:
    """One INSERT of ``n_records`` ids; an id already stored keeps its first record."""
    values = ", ".join(["(?, ?, ?)"] * n_records)
    return (
        f"INSERT INTO roost_prediction_ids (prediction_id, batch, ts) VALUES {values} "
        "ON CONFLICT (prediction_id) DO NOTHING"
    )


def _convert_rows(cur: Cursor) -> int:
    """Copy the rows of a roost before batches into batch rows, oldest first."""
    order = [
        str(row[0])
        for row in cur.execute(f"SELECT prediction_id FROM {_ROW_TABLE} ORDER BY ts, prediction_id")
    ]
    for start in range(0, len(order), _CONVERT_CHUNK):
        chunk = order[start : start + _CONVERT_CHUNK]
        rows: list[tuple[Any, ...]] = []
        for first in range(0, len(chunk), _IDS_PER_QUERY):
            ids = chunk[first : first + _IDS_PER_QUERY]
            rows += cur.execute(
                f"SELECT {_ROW_COLUMNS} FROM {_ROW_TABLE} "
                f"WHERE prediction_id IN ({', '.join('?' * len(ids))})",
                ids,
            )
        records = [
            RenderedPrediction.of(
                PredictionRecord(
                    prediction_id=str(row[0]),
                    timestamp=float(row[1]),
                    model=str(row[2]),
                    version=int(row[3]),
                    protocol=str(row[4]),
                    inputs=load_json(row[5]),
                    outputs=load_json(row[6]),
                    latency_ms=float(row[7]),
                    path=None if row[8] is None else load_json(row[8]),
                )
            )
            for row in rows
        ]
        _write_records(cur, sorted(records, key=lambda r: (r.timestamp, r.prediction_id)))
    return len(order)


# ------------------------------------------------------------------------- reading


def _in_order(record: PredictionRecord) -> tuple[float, str]:
    return record.timestamp, record.prediction_id


def _parse_batch(text: str) -> list[PredictionRecord]:
    # one parse for the whole batch: a JSON string holds no raw newline, so every
    # newline separates two lines
    return [prediction_of(fields) for fields in load_json(f"[{text.replace(chr(10), ',')}]")]


def _find_records(cur: Cursor, wanted: dict[int, list[str]]) -> dict[str, PredictionRecord]:
    """The records of the wanted prediction ids, by id, read from their batches."""
    found: dict[str, PredictionRecord] = {}
    batches = list(wanted)
    for start in range(0, len(batches), _IDS_PER_QUERY):
        chunk = batches[start : start + _IDS_PER_QUERY]
        rows = cur.execute(
            "SELECT batch, n_records, records FROM roost_prediction_batches "
            f"WHERE batch IN ({', '.join('?' * len(chunk))})",
            chunk,
        )
        for batch, n_records, text in rows:
            ids = wanted[int(batch)]
            if len(ids) * 8 > int(n_records):  # many: parsing the lot is quicker
                some = set(ids)
                found.update(
                    (r.prediction_id, r) for r in _parse_batch(text) if r.prediction_id in some
                )
                continue
            for prediction_id in ids:
                record = _find_line(text, prediction_id)
                if record is not None:
                    found[prediction_id] = record
    return found


def _find_line(text: str, prediction_id: str) -> PredictionRecord | None:
    """The record of one prediction id in a batch's text, found without parsing the rest."""
    # a line starts with its id, encoded as it was rendered
    start_of_line = "[" + dump_json(prediction_id).decode() + ","
    if text.startswith(start_of_line):
        at = 0
    else:
        at = text.find("\n" + start_of_line) + 1
        if at == 0:
            return None
    end = text.find("\n", at)
    return prediction_of(load_json(text[at : end if end >= 0 else len(text)]))
