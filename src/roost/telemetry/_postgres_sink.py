"""The PostgreSQL sink: the same tables and queries as SQLite, for several machines.

A ``search_path`` in the URL (``?options=-csearch_path%3Dtelemetry``) is honoured by the
driver itself, so the tables can live in their own schema. Each thread has its own
connection; one that breaks (a server restart) is dropped and the next call reconnects.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from roost.errors import TelemetryError
from roost.telemetry._connections import ThreadConnections
from roost.telemetry._sink import mask_password, one_line
from roost.telemetry._sql_sink import SqlSink, schema

__all__ = ["PostgresSink"]

# any fixed number: the key of the advisory lock held while creating the tables
_SCHEMA_LOCK = 0x726F6F7374_7465


class _PostgresCursor:
    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self._connection.execute(sql.replace("?", "%s"), params)
        return list(cursor.fetchall()) if cursor.description else []

    def count(self, sql: str, params: Sequence[Any] = ()) -> int:
        return int(self._connection.execute(sql.replace("?", "%s"), params).rowcount)

    def has_table(self, name: str) -> bool:
        # to_regclass looks the name up along the search_path, as unqualified names are
        ((found,),) = self.execute("SELECT to_regclass(?) IS NOT NULL", (name,))
        return bool(found)


class PostgresSink(SqlSink):
    """Prediction records and feedback in PostgreSQL (tables created if missing).

    Args:
        url: ``postgresql://user:password@host:port/database``, optionally with
            ``?options=-csearch_path%3DSCHEMA``.

    Raises:
        TelemetryError: psycopg is not installed, or the server cannot be reached.

    Example:
        >>> sink = PostgresSink("postgresql://roost@db:5432/telemetry")  # doctest: +SKIP
        >>> len(sink.predictions(model="fraud", since=time.time() - 3600))  # doctest: +SKIP
        1200
    """

    def __init__(self, url: str) -> None:
        self.url = mask_password(url)
        try:
            import psycopg
        except ImportError as exc:
            raise TelemetryError(
                f"telemetry sink {self.url} is a PostgreSQL URL but psycopg is not installed; "
                "install it with: pip install 'roost[postgres]'"
            ) from exc
        self._psycopg = psycopg
        self._dsn = url
        self._connections: ThreadConnections[Any] = ThreadConnections(
            self._connect, self.url, is_usable=lambda connection: not connection.closed
        )
        with self._transaction(write=True) as cur:
            # CREATE TABLE IF NOT EXISTS races with itself in PostgreSQL: two processes
            # creating the tables at once both pass the check and one fails on a duplicate
            # pg_type row. The lock makes them take turns.
            cur.execute("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK,))
            self._create_tables(
                cur,
                schema(
                    real="DOUBLE PRECISION",
                    batch_key="BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
                    without_rowid="",
                ),
            )

    def _connect(self) -> Any:
        try:
            # autocommit: transactions are the explicit blocks below, never left open
            return self._psycopg.connect(self._dsn, autocommit=True)
        except self._psycopg.Error as exc:
            raise TelemetryError(
                f"telemetry sink {self.url}: cannot connect ({one_line(exc)})"
            ) from exc

    @contextmanager
    def _transaction(self, *, write: bool, durable: bool = False) -> Iterator[_PostgresCursor]:
        connection = self._connections.get()
        try:
            with connection.transaction():
                if durable:
                    # acknowledged feedback must survive a server crash, whatever the
                    # server's default says
                    connection.execute("SET LOCAL synchronous_commit = on")
                yield _PostgresCursor(connection)
        except self._psycopg.Error as exc:
            if connection.broken or connection.closed:
                self._connections.forget(connection)
            raise TelemetryError(f"telemetry sink {self.url}: {one_line(exc)}") from exc

    def close(self) -> None:
        """Close every thread's connection (idempotent)."""
        self._connections.close_all()
