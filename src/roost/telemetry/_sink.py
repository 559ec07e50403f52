"""Where prediction records and feedback are kept: the ``Sink`` seam and ``open_sink``.

Three sinks implement it: SQLite (one file, several worker processes), PostgreSQL
(several machines) and JSON lines (for log shippers). The two SQL sinks share the
queries below; only their connections, placeholders and durability settings differ.

Both SQL sinks store two tables. ``roost_predictions`` holds one row per logged
request; a prediction id already there (a retried batch) is ignored. ``roost_feedback``
holds the first truth per prediction id; later feedback for the same id only adds to
its ``duplicates`` count, so nothing sent is silently lost.
"""

from __future__ import annotations

import functools
import itertools
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from roost.config import mask_password
from roost.errors import ConfigError
from roost.telemetry._json import dump_json, load_json
from roost.telemetry._records import (
    DUPLICATE,
    RECORDED,
    FeedbackRecord,
    FeedbackStatus,
    LoggedPrediction,
    PredictionRecord,
    RenderedPrediction,
)

__all__ = ["FeedbackCounts", "Sink", "dump_json", "load_json", "mask_password", "open_sink"]

#: a day: feedback later than this after its prediction is counted as late
DEFAULT_LATE_AFTER_S = 86400.0

_SQLITE_SUFFIXES = (".sqlite3", ".sqlite", ".db")
#: a scheme (``mysql:``, or ``sqlite:/x`` with a slash missing) is never taken for a path
_LOOKS_LIKE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_ACCEPTED = (
    "sqlite:///PATH or a path ending .sqlite3, .sqlite or .db; "
    "postgresql://… or postgres://…; jsonl:///PATH or a path ending .jsonl"
)


@dataclass(frozen=True, slots=True)
class FeedbackCounts:
    """What became of the feedback a sink received.

    Attributes:
        recorded: feedback records stored (the first per prediction id).
        duplicates: extra feedback for prediction ids that already had some.
        unmatched: stored feedback whose prediction is not (yet) in the log: not sampled,
            not flushed yet, or unknown.
        late: matched feedback that arrived more than ``late_after_s`` after its prediction.
        median_delay_s: the median time from prediction to feedback, over matched feedback;
            None when there is none.
    """

    recorded: int
    duplicates: int
    unmatched: int
    late: int
    median_delay_s: float | None


class Sink(Protocol):
    """Where a prediction log writes, and where feedback and drift read from.

    Every method may raise ``TelemetryError`` when the storage cannot be reached.
    """

    #: the sink's URL for messages; a password in it is replaced by ``***``
    url: str

    def write_predictions(self, records: Sequence[LoggedPrediction]) -> None:
        """Store a batch of prediction records; ids already stored (a retry) are ignored.

        Serving hands over ``RenderedPrediction`` rows; a ``PredictionRecord`` is rendered here.
        """
        ...

    def write_feedback(self, records: Sequence[FeedbackRecord]) -> list[FeedbackStatus]:
        """Store feedback durably (committed or fsynced) before returning.

        Returns:
            One status per record, in order: ``RECORDED``, or ``DUPLICATE`` when feedback for
            that prediction id is already stored (the first truth is kept; this one is counted).
        """
        ...

    def predictions(
        self, model: str | None = None, since: float | None = None, until: float | None = None
    ) -> list[PredictionRecord]:
        """Logged predictions with ``since <= timestamp < until``, oldest first."""
        ...

    def joined(
        self, model: str | None = None, since: float | None = None, until: float | None = None
    ) -> list[tuple[PredictionRecord, FeedbackRecord]]:
        """Predictions in the window (by prediction time) that have feedback, oldest first."""
        ...

    def feedback_counts(
        self,
        model: str | None = None,
        since: float | None = None,
        late_after_s: float = DEFAULT_LATE_AFTER_S,
    ) -> FeedbackCounts:
        """Count the feedback received since ``since``.

        With ``model`` given, the counts cover that model's matched feedback plus all
        unmatched feedback (which has no model), so ``recorded - unmatched`` is the
        model's own.
        """
        ...

    def close(self) -> None:
        """Release connections and files; the sink cannot be used afterwards."""
        ...


def open_sink(url: str) -> Sink:
    """Open (and create if needed) the sink a URL or path names.

    Args:
        url: ``sqlite:///PATH`` or a path ending ``.sqlite3``, ``.sqlite`` or ``.db``;
            ``postgresql://…`` (needs psycopg); ``jsonl:///PATH`` or a path ending ``.jsonl``.
            As for the registry index, the path is what follows ``sqlite:///``, so
            ``f"sqlite:///{path}"`` works for relative and absolute paths alike.

    Raises:
        ConfigError: the URL names no sink roost knows.
        TelemetryError: the sink cannot be opened (server unreachable, folder unwritable).

    Example:
        >>> sink = open_sink("telemetry.sqlite3")  # doctest: +SKIP
        >>> sink.write_predictions([record])  # doctest: +SKIP
    """
    # imported here: the sink modules import this one, and psycopg is an optional extra
    if url.startswith(("postgresql://", "postgres://")):
        from roost.telemetry._postgres_sink import PostgresSink

        return PostgresSink(url)
    if url.startswith("sqlite:///"):
        from roost.telemetry._sqlite_sink import SqliteSink

        return SqliteSink(url.removeprefix("sqlite:///"))
    if url.startswith("jsonl:///"):
        from roost.telemetry._jsonl_sink import JsonlSink

        return JsonlSink(url.removeprefix("jsonl:///"))
    if not _LOOKS_LIKE_URL.match(url):
        suffix = Path(url).suffix.lower()
        if suffix in _SQLITE_SUFFIXES:
            from roost.telemetry._sqlite_sink import SqliteSink

            return SqliteSink(url)
        if suffix == ".jsonl":
            from roost.telemetry._jsonl_sink import JsonlSink

            return JsonlSink(url)
    raise ConfigError(f"telemetry sink {mask_password(url)!r}: expected {_ACCEPTED}")


# ----------------------------------------------------------------- what SQL sinks share

PREDICTION_COLUMNS = (
    "prediction_id, ts, model, version, protocol, n_rows, inputs, outputs, latency_ms, path"
)


def schema(real: str) -> tuple[str, ...]:
    """The statements that create the tables, with ``real`` the 8-byte float type's name."""
    return (
        f"""CREATE TABLE IF NOT EXISTS roost_predictions (
            prediction_id TEXT PRIMARY KEY, ts {real} NOT NULL, model TEXT NOT NULL,
            version INTEGER NOT NULL, protocol TEXT NOT NULL, n_rows INTEGER NOT NULL,
            inputs TEXT NOT NULL, outputs TEXT NOT NULL, latency_ms {real} NOT NULL,
            path TEXT)""",
        "CREATE INDEX IF NOT EXISTS roost_predictions_model_ts ON roost_predictions (model, ts)",
        f"""CREATE TABLE IF NOT EXISTS roost_feedback (
            prediction_id TEXT PRIMARY KEY, truth TEXT NOT NULL, received_at {real} NOT NULL,
            duplicates INTEGER NOT NULL DEFAULT 0)""",
        "CREATE INDEX IF NOT EXISTS roost_feedback_received_at ON roost_feedback (received_at)",
    )


class Cursor(Protocol):
    """One transaction of a SQL sink; statements use ``?`` placeholders."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...


class SqlSink(ABC):
    """The queries of the SQLite and PostgreSQL sinks; subclasses supply the transactions."""

    url: str

    #: how ``joined`` joins predictions to the feedback it reads first (see there)
    _join_to_feedback = "JOIN"

    @abstractmethod
    def _transaction(self, *, write: bool, durable: bool = False) -> AbstractContextManager[Cursor]:
        """A transaction; ``durable`` ones are on disk once it commits, even after power loss."""

    def write_predictions(self, records: Sequence[LoggedPrediction]) -> None:
        if not records:
            return
        # a rendered record is a row of PREDICTION_COLUMNS already, in their order
        rows = [RenderedPrediction.of(r) if isinstance(r, PredictionRecord) else r for r in records]
        with self._transaction(write=True) as cur:
            # many rows per statement, not executemany: the database releases the GIL for
            # each statement it runs, and taking it back from a busy event loop once per
            # row cost the writer thread ~30 µs of CPU per row in a loaded server (py-spy)
            for start in range(0, len(rows), ROWS_PER_INSERT):
                chunk = rows[start : start + ROWS_PER_INSERT]
                cur.execute(_insert_predictions(len(chunk)), list(itertools.chain(*chunk)))

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
        where, params = _window(model, since, until)
        with self._transaction(write=False) as cur:
            rows = cur.execute(
                f"SELECT {PREDICTION_COLUMNS} FROM roost_predictions p{where} "
                "ORDER BY ts, prediction_id",
                params,
            )
        return [_prediction(row) for row in rows]

    def joined(
        self, model: str | None = None, since: float | None = None, until: float | None = None
    ) -> list[tuple[PredictionRecord, FeedbackRecord]]:
        # Feedback first: a window holds far fewer feedback items than predictions, and
        # the quality gauges run this every 30 s over the last hour. Feedback is received
        # after its prediction is made, so the window also bounds the feedback read
        # (clocks skewed between servers only blur its first moments).
        where, params = _window(model, since, until)
        if since is not None:
            where += " AND f.received_at >= ?"
            params.append(since)
        columns = ", ".join(f"p.{name}" for name in PREDICTION_COLUMNS.split(", "))
        with self._transaction(write=False) as cur:
            rows = cur.execute(
                f"SELECT {columns}, f.truth, f.received_at FROM roost_feedback f "
                f"{self._join_to_feedback} roost_predictions p "
                f"ON p.prediction_id = f.prediction_id{where} ORDER BY p.ts, p.prediction_id",
                params,
            )
        return [
            (_prediction(row), FeedbackRecord(str(row[0]), load_json(row[10]), float(row[11])))
            for row in rows
        ]

    def feedback_counts(
        self,
        model: str | None = None,
        since: float | None = None,
        late_after_s: float = DEFAULT_LATE_AFTER_S,
    ) -> FeedbackCounts:
        clauses: list[str] = []
        params: list[Any] = []
        if since is not None:
            clauses.append("f.received_at >= ?")
            params.append(since)
        if model is not None:
            clauses.append("(p.model = ? OR p.prediction_id IS NULL)")
            params.append(model)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        joined = (
            "FROM roost_feedback f LEFT JOIN roost_predictions p "
            f"ON p.prediction_id = f.prediction_id{where}"
        )
        with self._transaction(write=False) as cur:
            ((recorded, duplicates, unmatched, late),) = cur.execute(
                "SELECT COUNT(*), COALESCE(SUM(f.duplicates), 0), "
                "COALESCE(SUM(CASE WHEN p.prediction_id IS NULL THEN 1 ELSE 0 END), 0), "
                f"COALESCE(SUM(CASE WHEN f.received_at - p.ts > ? THEN 1 ELSE 0 END), 0) {joined}",
                [late_after_s, *params],
            )
            matched = int(recorded) - int(unmatched)
            middle: list[float] = []
            if matched:
                # the median in SQL, which neither database spells the same way: sort the
                # matched delays and read the one or two in the middle
                rows = cur.execute(
                    f"SELECT f.received_at - p.ts AS delay {joined} "
                    f"{'AND' if where else 'WHERE'} p.prediction_id IS NOT NULL "
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


def _window(model: str | None, since: float | None, until: float | None) -> tuple[str, list[Any]]:
    """The WHERE clause on predictions (aliased ``p``) for a model and a time window."""
    clauses: list[str] = []
    params: list[Any] = []
    for clause, value in (("p.model = ?", model), ("p.ts >= ?", since), ("p.ts < ?", until)):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    return (f" WHERE {' AND '.join(clauses)}" if clauses else ""), params


#: rows per INSERT. Binding a statement's parameters holds the GIL (a model's thread and
#: the event loop wait meanwhile), and running it releases the GIL, whose hand-back is
#: dear when the loop is busy: 100 rows (1,000 parameters) keep the first short and the
#: second rare. Far under SQLite's (32,766) and PostgreSQL's (65,535) parameter limits.
ROWS_PER_INSERT = 100


@functools.lru_cache(maxsize=8)
def _insert_predictions(n_rows: int) -> str:
    """One INSERT of ``n_rows`` prediction rows; a row already stored (a retry) is skipped."""
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * n_rows)
    return (
        f"INSERT INTO roost_predictions ({PREDICTION_COLUMNS}) VALUES {values} "
        "ON CONFLICT (prediction_id) DO NOTHING"
    )


def _prediction(row: Sequence[Any]) -> PredictionRecord:
    """A record from a row of ``PREDICTION_COLUMNS`` (n_rows, at 5, is implied by outputs)."""
    return PredictionRecord(
        prediction_id=str(row[0]),
        timestamp=float(row[1]),
        model=str(row[2]),
        version=int(row[3]),
        protocol=str(row[4]),
        inputs=load_json(row[6]),
        outputs=load_json(row[7]),
        latency_ms=float(row[8]),
        path=None if row[9] is None else load_json(row[9]),
    )


def one_line(error: BaseException) -> str:
    """An error's message on one line (database drivers like to wrap theirs)."""
    return " ".join(str(error).split()) or type(error).__name__
