"""The offline store: every ingested event, kept in one SQLite file.

Training frames, materialization and compute-on-miss all read events from here, so a
value computed for training and one computed for serving start from the same rows.

Each ``Events`` table becomes one SQL table, ``events_<name>``, holding the canonical
entity key (``_key``, as ``Entity.key_of`` writes it), the event time in UTC epoch
microseconds (``_time_us``), the entity's key columns and the declared value columns.
Rows are only ever appended; a table's columns never change. If an ``Events``
definition changes (a column added, removed or retyped) its old rows no longer mean
the same thing, so the store refuses it: give the new definition a new name.

``ingest`` checks every value before it writes anything, and writes all rows in one
transaction, so a bad frame leaves the store as it was. ``read`` gives the rows back
with their dtypes: ``int64``, ``float64``, ``bool`` and ``object`` (Python ``str``);
a null becomes ``NaN`` in a float column and ``None`` in a string column, but an
``int64`` column holding a null comes back as ``float64`` (NaN), and a ``bool`` column
holding a null as ``object`` (True/False/None), as pandas itself does.

The file is in WAL mode with a 5 s busy timeout, so several processes can use it at
once; within a process one connection is shared, guarded by a lock, so threads may
share a store.

Example:
    >>> store = OfflineStore(tmp_path / "offline.db")           # doctest: +SKIP
    >>> store.ingest(payments, frame)                             # doctest: +SKIP
    3
    >>> store.read(payments, keys=["[42]"], until_us=t_us)       # doctest: +SKIP
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from roost._sqlite import connect, switch_to_wal, transaction
from roost.errors import ConfigError, FeatureError
from roost.features._frames import event_columns, frame_of, rows_of
from roost.features.entities import Events

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["OfflineStore"]

log = logging.getLogger(__name__)

# distinct declared types, so that retyping a column (int64 -> bool) is noticed
_SQL_TYPES = {"int64": "INTEGER", "float64": "REAL", "bool": "BOOLEAN", "string": "TEXT"}
_NOT_NULL = {"_key": " NOT NULL", "_time_us": " NOT NULL"}
_CHUNK = 500  # keys per IN (...): well under SQLite's variable limit
_BUSY_TIMEOUT_MS = 5000


class OfflineStore:
    """Ingested events in a SQLite file (see the module docstring).

    Args:
        path: the file; it and its folder are created on first use.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        self._closed = False
        # (events name, layout) pairs whose table was seen to match
        self._checked: set[tuple[str, tuple[tuple[str, str], ...]]] = set()

    def ingest(self, events: Events, frame: pd.DataFrame, *, replace: bool = False) -> int:
        """Check a frame of events and append all of its rows, or none.

        Columns other than the entity keys, the timestamp and the declared value columns
        are ignored; value columns may hold nulls.

        Args:
            events: the table the rows belong to.
            frame: one row per event.
            replace: drop the table's rows first, in the same transaction (reloading a
                whole history: readers see the old rows or the new, never neither).

        Returns:
            How many rows were written.

        Raises:
            FeatureError: a column is missing; a key is null or of the wrong type; a
                timestamp is null or not a time; a value does not fit its column's dtype
                (naming the column, the value and its row); the table was ingested
                under another definition; or the file cannot be written.

        Example:
            >>> store.ingest(payments, pd.DataFrame(                  # doctest: +SKIP
            ...     {"card_id": [42], "ts": ["2024-05-01T12:00:00Z"], "amount": [9.5]}))
            1
        """
        _check_events(events)
        rows = rows_of(events, frame)
        layout = _layout(events)
        table = _table(events)
        insert = (
            f"INSERT INTO {table} ({', '.join(_quote(n) for n, _ in layout)}) "
            f"VALUES ({', '.join('?' for _ in layout)})"
        )
        with self._transaction(write=True) as connection:
            self._has_table(connection, events)  # refuses a name that differs only in case
            columns = ", ".join(f"{_quote(n)} {t}{_NOT_NULL.get(n, '')}" for n, t in layout)
            connection.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
            connection.execute(
                f"CREATE INDEX IF NOT EXISTS {_quote(f'events_{events.name}_key_time')} "
                f"ON {table} (_key, _time_us)"
            )
            self._check_layout(connection, events)
            if replace:
                connection.execute(f"DELETE FROM {table}")
            connection.executemany(insert, rows)
        log.debug("ingested %d %s events into %s", len(rows), events.name, self.path)
        return len(rows)

    def read(
        self,
        events: Events,
        *,
        keys: Sequence[str] | None = None,
        until_us: int | None = None,
    ) -> pd.DataFrame:
        """The stored events, sorted by ``_key``, ``_time_us``, then ingest order.

        Args:
            events: the table to read.
            keys: only these canonical entity keys (all when None).
            until_us: only events at or before this time (UTC epoch µs).

        Returns:
            A frame with the columns ``_key``, ``_time_us``, the key columns and the value
            columns (dtypes as in the module docstring); empty, with those columns, when
            nothing matches or the events were never ingested.

        Raises:
            ConfigError: ``keys`` is not a list of key strings, or ``until_us`` not an int.
            FeatureError: the table was ingested under another definition, or the file
                cannot be read.
        """
        _check_events(events)
        wanted = None if keys is None else _wanted(events, keys)
        if until_us is not None and (isinstance(until_us, bool) or not isinstance(until_us, int)):
            raise ConfigError(
                f"events {events.name!r}: until_us must be an int (epoch µs), got {until_us!r}"
            )
        layout = _layout(events)
        select = f"SELECT {', '.join(_quote(n) for n, _ in layout)} FROM {_table(events)}"
        order = " ORDER BY _key, _time_us, rowid"
        time_filter, time_params = ("", [])
        if until_us is not None:  # clamped: SQLite integers are 64-bit
            time_filter, time_params = "_time_us <= ?", [max(min(until_us, 2**63 - 1), -(2**63))]
        rows: list[tuple[Any, ...]] = []
        with self._transaction(write=False) as connection:
            if not self._has_table(connection, events):
                return frame_of(events, rows)
            self._check_layout(connection, events)
            if wanted is None:
                where = f" WHERE {time_filter}" if time_filter else ""
                rows = connection.execute(select + where + order, time_params).fetchall()
            else:
                # sorted chunks of sorted keys: their results, concatenated, stay sorted
                for start in range(0, len(wanted), _CHUNK):
                    chunk = wanted[start : start + _CHUNK]
                    where = f" WHERE _key IN ({', '.join('?' for _ in chunk)})"
                    where += f" AND {time_filter}" if time_filter else ""
                    found = connection.execute(select + where + order, [*chunk, *time_params])
                    rows.extend(found.fetchall())
        return frame_of(events, rows)

    def keys(self, events: Events) -> list[str]:
        """Every canonical entity key with at least one event, sorted."""
        found = self._query(events, "SELECT DISTINCT _key FROM {table} ORDER BY _key")
        return [str(row[0]) for row in found]

    def count(self, events: Events) -> int:
        """How many events are stored (0 if never ingested)."""
        found = self._query(events, "SELECT COUNT(*) FROM {table}")
        return int(found[0][0]) if found else 0

    def time_range(self, events: Events) -> tuple[int, int] | None:
        """The oldest and newest event times (UTC epoch µs); None when there are none."""
        found = self._query(events, "SELECT MIN(_time_us), MAX(_time_us) FROM {table}")
        if not found or found[0][0] is None:
            return None
        return int(found[0][0]), int(found[0][1])

    def close(self) -> None:
        """Close the file (idempotent); the store cannot be used afterwards."""
        with self._lock:
            self._closed = True
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def __enter__(self) -> OfflineStore:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _query(self, events: Events, sql: str) -> list[tuple[Any, ...]]:
        _check_events(events)
        with self._transaction(write=False) as connection:
            if not self._has_table(connection, events):
                return []
            self._check_layout(connection, events)
            return connection.execute(sql.format(table=_table(events))).fetchall()

    def _has_table(self, connection: sqlite3.Connection, events: Events) -> bool:
        table = f"events_{events.name}"
        found = connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE",
            (table,),
        ).fetchone()
        if found is not None and found[0] != table:
            # SQLite table names ignore case: 'Payments' would read and write 'payments'
            raise FeatureError(
                f"offline store {self.path}: events {events.name!r} clashes with events "
                f"{found[0].removeprefix('events_')!r} (names may differ in more than case)"
            )
        return found is not None

    def _check_layout(self, connection: sqlite3.Connection, events: Events) -> None:
        """Refuse a table whose columns differ from what ``events`` declares now."""
        expected = _layout(events)
        if (events.name, expected) in self._checked:
            return
        info = connection.execute(f"PRAGMA table_info({_table(events)})").fetchall()
        stored = tuple((str(row[1]), str(row[2]).upper()) for row in info)
        if stored != expected:
            raise FeatureError(
                f"offline store {self.path}: events {events.name!r} were ingested with columns "
                f"({_describe(stored)}), but the definition now gives ({_describe(expected)}); "
                "the Events definition changed: give it a new name to keep both"
            )
        self._checked.add((events.name, expected))

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        with self._lock:
            connection = self._connect()
            try:
                with transaction(connection, write=write):
                    yield connection
            except sqlite3.Error as exc:  # locked past the timeout, disk full, corrupt file
                raise FeatureError(f"offline store {self.path}: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        if self._closed:
            raise FeatureError(f"offline store {self.path} is closed")
        if self._connection is not None:
            return self._connection
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FeatureError(
                f"offline store {self.path}: cannot create its folder: {exc}"
            ) from exc
        try:
            switch_to_wal(
                self.path, f"offline store {self.path}", timeout_s=_BUSY_TIMEOUT_MS / 1000
            )
        except sqlite3.Error as exc:
            raise FeatureError(f"offline store {self.path}: {exc}") from exc
        connection = self._open()
        self._connection = connection
        return connection

    def _open(self) -> sqlite3.Connection:
        try:
            return connect(self.path, timeout_s=_BUSY_TIMEOUT_MS / 1000)  # under self._lock
        except sqlite3.Error as exc:
            raise FeatureError(f"offline store {self.path}: {exc}") from exc


def _check_events(events: object) -> None:
    if not isinstance(events, Events):
        raise ConfigError(f"offline store: expected an Events table, got {events!r}")


def _wanted(events: Events, keys: Iterable[str]) -> list[str]:
    """The distinct keys asked for, sorted; each must be a canonical key string."""
    if isinstance(keys, str | bytes) or not isinstance(keys, Iterable):
        raise ConfigError(f"events {events.name!r}: keys must be a list of keys, got {keys!r}")
    wanted = set(keys)
    for key in wanted:
        if not isinstance(key, str):
            raise ConfigError(
                f"events {events.name!r}: keys must be canonical key strings "
                f"(Entity.key_of, like '[42]'), got {key!r}"
            )
    return sorted(wanted)


def _layout(events: Events) -> tuple[tuple[str, str], ...]:
    """The table's columns and their declared SQL types, in order."""
    return tuple((name, _SQL_TYPES[dtype]) for name, dtype in event_columns(events))


def _table(events: Events) -> str:
    return _quote(f"events_{events.name}")


def _quote(name: str) -> str:
    # names are checked identifiers (entities.check_name); quoting guards SQL keywords
    return '"' + name.replace('"', '""') + '"'


def _describe(layout: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{name} {sql_type}" for name, sql_type in layout)
