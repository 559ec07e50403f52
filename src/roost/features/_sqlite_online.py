"""The SQLite online store: one file, safe for several processes and threads at once.

Each view version has its own table, ``online_<name>_v<version>``, created on first
use. The file uses write-ahead logging, so a server's readers never wait on a
materialization job's writes; writers wait on each other for at most the busy timeout.

Connections come from a small pool: a thread borrows one for a call and gives it back,
so a server's worker threads read concurrently, no connection is ever used by two
threads at once, and ``close`` reaches every connection however many threads came and
went. Expired records stay until ``delete_expired`` (see ``roost.features.online``).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from roost._sqlite import connect, enable_wal, transaction
from roost.errors import FeatureError, FeatureUnavailable
from roost.features.aggregates import AggregateView
from roost.features.online import OnlineRecord, check_records, dump_values, load_values

__all__ = ["SqliteOnlineStore"]

log = logging.getLogger(__name__)

#: how long a writer waits for another process's transaction before failing
_BUSY_TIMEOUT_MS = 5000
#: keys per ``IN (...)``: well under SQLite's limit on bound parameters
_CHUNK = 500


class SqliteOnlineStore:
    """Aggregate values in a SQLite file (created, with its folder, if missing).

    Args:
        path: the database file.

    Raises:
        FeatureError: the file or its folder cannot be created or opened.

    Example:
        >>> store = SqliteOnlineStore(Path("/var/lib/roost/online.db"))  # doctest: +SKIP
        >>> store.write(spend_30d, records)  # doctest: +SKIP
        2
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path).expanduser()
        self.url = f"sqlite:///{self.path}"
        self._lock = threading.Lock()  # guards _idle, _closed and _tables
        self._idle: list[sqlite3.Connection] = []
        self._closed = False
        self._tables: set[str] = set()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FeatureError(
                f"online store {self.url}: cannot create its folder ({exc})"
            ) from exc
        connection = self._connect()
        try:
            enable_wal(connection, f"online store {self.url}")
        except sqlite3.Error as exc:
            connection.close()
            raise FeatureUnavailable(f"online store {self.url}: cannot open ({exc})") from exc
        self._idle.append(connection)

    # ------------------------------------------------------------------ the contract

    def write(self, view: AggregateView, records: Sequence[OnlineRecord]) -> int:
        """Upsert records in one transaction, never replacing a newer stored record.

        Returns:
            How many records were written.

        Raises:
            FeatureError: a record does not match the view, or the file cannot be written.
        """
        check_records(view, records)
        if not records:
            return 0
        table = _table_of(view)
        rows = [
            (
                r.key,
                dump_values(r.values, f"online store, view {view.ref}, key {r.key}"),
                r.event_time_us,
                r.written_at_us,
            )
            for r in records
        ]
        sql = (
            f'INSERT INTO "{table}" (key, "values", event_time_us, written_at_us) '
            "VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
            '"values" = excluded."values", event_time_us = excluded.event_time_us, '
            "written_at_us = excluded.written_at_us "
            "WHERE excluded.event_time_us >= event_time_us"
        )
        with self._transaction(view, write=True) as connection:
            cursor = connection.executemany(sql, rows)
            written = cursor.rowcount
        log.debug(
            "online store %s: wrote %d of %d records of %s", self.url, written, len(rows), view.ref
        )
        return written

    def read(self, view: AggregateView, keys: Sequence[str]) -> list[OnlineRecord | None]:
        """The stored records of ``keys`` (one SELECT per 500 keys), None where absent.

        Raises:
            FeatureError: a key is not a string, or the file cannot be read.
        """
        _check_keys(view, keys)
        if not keys:
            return []
        table = _table_of(view)
        unique = list(dict.fromkeys(keys))
        found: dict[str, OnlineRecord] = {}
        with self._transaction(view, write=False) as connection:
            for start in range(0, len(unique), _CHUNK):
                chunk = unique[start : start + _CHUNK]
                marks = ", ".join("?" * len(chunk))
                for key, text, event_time_us, written_at_us in connection.execute(
                    f'SELECT key, "values", event_time_us, written_at_us FROM "{table}" '
                    f"WHERE key IN ({marks})",
                    chunk,
                ):
                    where = f"online store {self.url}, view {view.ref}, key {key}"
                    found[key] = OnlineRecord(
                        key, load_values(text, where), int(event_time_us), int(written_at_us)
                    )
        return [found.get(key) for key in keys]

    def delete_expired(self, view: AggregateView, now_us: int) -> int:
        """Remove records with ``event_time_us + view.ttl_us < now_us``; returns how many."""
        _check_time(view, now_us)
        with self._transaction(view, write=True) as connection:
            cursor = connection.execute(
                f'DELETE FROM "{_table_of(view)}" WHERE event_time_us < ?',
                (now_us - view.ttl_us,),
            )
            deleted = cursor.rowcount
        log.debug("online store %s: deleted %d expired records of %s", self.url, deleted, view.ref)
        return deleted

    def count(self, view: AggregateView) -> int:
        """How many records the view has (expired ones included)."""
        with self._transaction(view, write=False) as connection:
            (row,) = connection.execute(f'SELECT COUNT(*) FROM "{_table_of(view)}"').fetchall()
        return int(row[0])

    def close(self) -> None:
        """Close every connection (idempotent); connections in use close when returned."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    # ------------------------------------------------------------------ connections

    def _connect(self) -> sqlite3.Connection:
        try:
            # the pool hands a connection to one thread at a time
            connection = connect(self.path, timeout_s=_BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as exc:
            raise FeatureUnavailable(f"online store {self.url}: cannot open ({exc})") from exc
        try:
            connection.execute("PRAGMA synchronous = NORMAL")  # with WAL: safe across crashes
        except sqlite3.Error as exc:
            connection.close()
            raise FeatureUnavailable(f"online store {self.url}: cannot open ({exc})") from exc
        return connection

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """Borrow a pooled connection (opening one if none is free) for one call."""
        with self._lock:
            if self._closed:
                raise FeatureError(f"online store {self.url} is closed")
            connection = self._idle.pop() if self._idle else None
        if connection is None:
            connection = self._connect()
        try:
            yield connection
        finally:
            with self._lock:
                closed = self._closed
                if not closed:
                    self._idle.append(connection)
            if closed:
                connection.close()

    @contextmanager
    def _transaction(self, view: AggregateView, *, write: bool) -> Iterator[sqlite3.Connection]:
        """One transaction on the view's table (created first if this store has not yet)."""
        table = _table_of(view)
        try:
            with self._connection() as connection:
                if table not in self._tables:
                    connection.execute(
                        f'CREATE TABLE IF NOT EXISTS "{table}" (key TEXT PRIMARY KEY, '
                        '"values" TEXT NOT NULL, event_time_us INTEGER NOT NULL, '
                        "written_at_us INTEGER NOT NULL)"
                    )
                    with self._lock:
                        self._tables.add(table)
                with transaction(connection, write=write):
                    yield connection
        except sqlite3.Error as exc:
            raise FeatureUnavailable(f"online store {self.url}, view {view.ref}: {exc}") from exc


def _table_of(view: AggregateView) -> str:
    # view names are plain identifiers (checked by AggregateView), so this is safe SQL
    return f"online_{view.name}_v{view.version}"


def _check_keys(view: AggregateView, keys: Sequence[str]) -> None:
    for index, key in enumerate(keys):
        if not isinstance(key, str):
            raise FeatureError(
                f"online store, view {view.ref}: keys expected canonical key strings "
                f"(Entity.key_of), got {key!r} (position {index})"
            )


def _check_time(view: AggregateView, now_us: int) -> None:
    if isinstance(now_us, bool) or not isinstance(now_us, int):
        raise FeatureError(
            f"online store, view {view.ref}: now_us expected an int (UTC µs), got {now_us!r}"
        )
