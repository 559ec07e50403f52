"""What every SQLite file of roost does alike: write-ahead logging and explicit transactions.

The registry index, the telemetry sink, and the feature store's offline, online and
catalog files are each shared by several processes. Each is switched to write-ahead
logging once (readers then never wait on writers), and each runs its statements in
explicit transactions on a connection in autocommit mode (``isolation_level=None``).
The callers translate ``sqlite3.Error`` into their own room's error, naming their file.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["connect", "enable_wal", "is_busy", "switch_to_wal", "transaction"]

log = logging.getLogger(__name__)

#: how many times a busy file is asked again to switch to write-ahead logging
WAL_ATTEMPTS = 50


def connect(path: str | Path, *, timeout_s: float) -> sqlite3.Connection:
    """A connection in autocommit mode, waiting up to ``timeout_s`` for a busy file.

    Autocommit (``isolation_level=None``): ``transaction`` says where transactions begin.
    ``check_same_thread`` is off because the callers share a connection between threads
    themselves, one thread at a time (a lock, a pool, or one connection per thread).

    Raises:
        sqlite3.Error: the file cannot be opened.
    """
    return sqlite3.connect(path, timeout=timeout_s, isolation_level=None, check_same_thread=False)


def is_busy(exc: sqlite3.Error) -> bool:
    """Whether the error is another connection holding the file (worth a retry)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def enable_wal(connection: sqlite3.Connection, name: str) -> None:
    """Switch the connection's file to write-ahead logging; later connections inherit it.

    The switch needs a moment alone with the file, which SQLite's busy timeout does not
    wait for, so processes opening a new file at once retry here. A file that stays busy
    keeps its rollback journal: slower under concurrency, just as correct.

    Args:
        connection: an open connection to the file.
        name: how to name the file in the log (``registry index /srv/roost/registry.db``).

    Raises:
        sqlite3.Error: anything but the file being busy (a corrupt or unreadable file).
    """
    for attempt in range(WAL_ATTEMPTS):
        try:
            (mode,) = connection.execute("PRAGMA journal_mode=WAL").fetchone()
            if str(mode).lower() == "wal":
                return
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            log.debug("switching %s to WAL, attempt %d: %s", name, attempt + 1, exc)
        time.sleep(0.01 * (attempt + 1))
    log.warning("%s stayed busy; keeping its rollback journal", name)


def switch_to_wal(path: str | Path, name: str, *, timeout_s: float) -> None:
    """``enable_wal`` on a connection of its own, closed afterwards (before a room's first use).

    Raises:
        sqlite3.Error: the file cannot be opened, or is corrupt or unreadable.
    """
    connection = connect(path, timeout_s=timeout_s)
    try:
        enable_wal(connection, name)
    finally:
        connection.close()


@contextmanager
def transaction(connection: sqlite3.Connection, *, write: bool) -> Iterator[sqlite3.Connection]:
    """One transaction: committed when the block ends, rolled back when it raises.

    A write takes the write lock up front (``BEGIN IMMEDIATE``): a busy file then waits in
    the busy timeout here, rather than failing half-way through the block, and what the
    block reads stays true until it commits. A read is one snapshot for every query.
    """
    connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        yield connection
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
