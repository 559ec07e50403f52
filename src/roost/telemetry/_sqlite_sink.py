"""The SQLite sink: one file that several worker processes write at once.

The file uses write-ahead logging, so readers (drift, the dashboard) never wait on the
writers and writers wait on each other only for the length of one batch. Each thread
has its own connection: the prediction log's writer thread and the threads that store
feedback never share one. Predictions are committed with ``synchronous=NORMAL`` (safe
against a crashed process, fast); feedback with ``FULL``, because the server
acknowledges it to the client and it must then survive a power cut too.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from roost._sqlite import connect, switch_to_wal, transaction
from roost.errors import TelemetryError
from roost.telemetry._connections import ThreadConnections
from roost.telemetry._sink import one_line
from roost.telemetry._sql_sink import SqlSink, schema

__all__ = ["SqliteSink"]

log = logging.getLogger(__name__)

#: how long a writer waits for another process's batch before giving up
_BUSY_TIMEOUT_S = 10.0
#: how long a process opening the file waits for another that opens it: that one may be
#: converting the file of an older roost, about 25 s per million records
_OPEN_TIMEOUT_S = 600.0


class _SqliteCursor:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._connection.execute(sql, params).fetchall()

    def count(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._connection.execute(sql, params).rowcount

    def has_table(self, name: str) -> bool:
        found = self._connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        )
        return found.fetchone() is not None


class SqliteSink(SqlSink):
    """Prediction records and feedback in a SQLite file (created with its folder if missing).

    Args:
        path: the database file.

    Raises:
        TelemetryError: the file cannot be created or opened.

    Example:
        >>> sink = SqliteSink("/var/lib/roost/telemetry.sqlite3")  # doctest: +SKIP
        >>> sink.feedback_counts(model="fraud").recorded  # doctest: +SKIP
        0
    """

    #: SQLite keeps the tables of a CROSS JOIN in the order written. Without statistics
    #: (nothing runs ANALYZE on these files) its planner would rather walk every
    #: prediction id of the window and look each one's feedback up.
    _join_to_feedback = "CROSS JOIN"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.url = f"sqlite:///{self.path}"
        self._connections = ThreadConnections(self._connect, self.url)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TelemetryError(
                f"telemetry sink {self.url}: cannot create its folder ({one_line(exc)})"
            ) from exc
        try:
            switch_to_wal(self.path, f"telemetry sink {self.url}", timeout_s=_BUSY_TIMEOUT_S)
        except sqlite3.Error as exc:
            raise TelemetryError(f"telemetry sink {self.url}: {one_line(exc)}") from exc
        # CREATE ... IF NOT EXISTS inside one write transaction: processes opening a new
        # file at once take turns on SQLite's write lock, and the later ones find the tables
        connection = self._connections.get()
        try:
            connection.execute(f"PRAGMA busy_timeout = {int(_OPEN_TIMEOUT_S * 1000)}")
            with self._transaction(write=True) as cur:
                self._create_tables(
                    cur,
                    schema(
                        real="REAL", batch_key="INTEGER PRIMARY KEY", without_rowid="WITHOUT ROWID"
                    ),
                )
            connection.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_S * 1000)}")
        except sqlite3.Error as exc:
            raise TelemetryError(f"telemetry sink {self.url}: {one_line(exc)}") from exc

    def _connect(self) -> sqlite3.Connection:
        try:
            # one connection per thread; close() may close them all from another
            connection = connect(self.path, timeout_s=_BUSY_TIMEOUT_S)
        except sqlite3.Error as exc:
            raise TelemetryError(f"telemetry sink {self.url}: {one_line(exc)}") from exc
        return connection

    @contextmanager
    def _transaction(self, *, write: bool, durable: bool = False) -> Iterator[_SqliteCursor]:
        connection = self._connections.get()
        try:
            if write:
                synchronous = "FULL" if durable else "NORMAL"
                connection.execute(f"PRAGMA synchronous={synchronous}")
            with transaction(connection, write=write):
                yield _SqliteCursor(connection)
        except sqlite3.Error as exc:  # locked past the timeout, disk full, corrupt file
            raise TelemetryError(f"telemetry sink {self.url}: {one_line(exc)}") from exc

    def close(self) -> None:
        """Close every thread's connection (idempotent)."""
        self._connections.close_all()
