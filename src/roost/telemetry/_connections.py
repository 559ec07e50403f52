"""One database connection per thread, all closed together: what both SQL sinks need.

The prediction log's writer thread and the threads that store feedback must never share
a connection (neither sqlite3 nor psycopg connections are safe to use from two threads at
once), yet ``close`` has to reach all of them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from roost.errors import TelemetryError

__all__ = ["ThreadConnections"]


class _Closable(Protocol):
    def close(self) -> None: ...


C = TypeVar("C", bound=_Closable)


class ThreadConnections(Generic[C]):
    """The connections of one sink, one per thread that uses it.

    Args:
        connect: opens a new connection (raising ``TelemetryError`` if it cannot).
        url: the sink's URL (password masked), for messages.
        is_usable: whether a thread's connection can still be used; a broken one is
            replaced on the thread's next call.
    """

    def __init__(
        self,
        connect: Callable[[], C],
        url: str,
        is_usable: Callable[[C], bool] = lambda connection: True,
    ) -> None:
        self._connect = connect
        self._url = url
        self._is_usable = is_usable
        self._local = threading.local()
        self._open: list[C] = []
        self._lock = threading.Lock()  # guards _open and closed
        self.closed = False

    def get(self) -> C:
        """This thread's connection, opened on first use.

        Raises:
            TelemetryError: the sink is closed, or a new connection cannot be opened.
        """
        self._check_open()
        connection: C | None = getattr(self._local, "connection", None)
        if connection is not None and self._is_usable(connection):
            return connection
        with self._lock:
            self._check_open()  # close_all may have run meanwhile
            connection = self._connect()
            self._open.append(connection)
        self._local.connection = connection
        return connection

    def _check_open(self) -> None:
        if self.closed:
            raise TelemetryError(f"telemetry sink {self._url} is closed")

    def forget(self, connection: C) -> None:
        """Drop a broken connection: the thread opens a new one next time."""
        with self._lock:
            if connection in self._open:
                self._open.remove(connection)
        self._local.connection = None
        connection.close()

    def close_all(self) -> None:
        """Close every thread's connection (idempotent); the sink is unusable afterwards."""
        with self._lock:
            self.closed = True
            connections, self._open = self._open, []
        for connection in connections:
            connection.close()
