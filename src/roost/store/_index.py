"""The registry index: versions, aliases and an audit log, in SQLite or PostgreSQL.

One code path serves both databases; only placeholders and row locks differ.

How two processes registering at once never lose or duplicate a version: a
version is *claimed* by inserting its row (status ``pending``) in its own short
transaction; the primary key ``(name, version)`` makes a second claim of the same
number fail, and the loser simply claims the next number. Files are moved into
place only after the claim, and the row becomes ``ready`` last. Deleted versions
keep their row (status ``deleted``) so their number is never handed out again.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from roost._sqlite import switch_to_wal, transaction
from roost.errors import ConfigError, ModelNotFound, StoreError, VersionConflict

__all__ = ["Index", "VersionRow", "open_index"]

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS roost_versions (
        name TEXT NOT NULL, version INTEGER NOT NULL, status TEXT NOT NULL,
        digest TEXT, flavor TEXT, created_at TEXT NOT NULL,
        PRIMARY KEY (name, version))""",
    """CREATE TABLE IF NOT EXISTS roost_aliases (
        name TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL, set_at TEXT NOT NULL,
        PRIMARY KEY (name, alias))""",
    """CREATE TABLE IF NOT EXISTS roost_events (
        ts TEXT NOT NULL, action TEXT NOT NULL, name TEXT NOT NULL, version INTEGER,
        detail TEXT)""",
)
_MAX_CLAIM_ATTEMPTS = 100

log = logging.getLogger(__name__)
# any fixed number: the key of the PostgreSQL advisory lock held while creating the tables
_SCHEMA_LOCK = 0x726F6F7374


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class VersionRow:
    """One registered version as the index knows it."""

    name: str
    version: int
    digest: str
    flavor: str
    created_at: str


class _Cursor(Protocol):
    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]: ...


class _SqliteCursor:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self._connection.execute(sql.replace(" FOR UPDATE", ""), params).fetchall()


class _PostgresCursor:
    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        cursor = self._connection.execute(sql.replace("?", "%s"), params)
        return list(cursor.fetchall()) if cursor.description else []


class Index:
    """Versions, aliases and events of every model, in one database.

    Use ``open_index(url)``; each method runs in its own short transaction and
    opens its own connection, so an Index is safe to share between threads and
    to use from several processes at once.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._is_postgres = url.startswith(("postgresql://", "postgres://"))
        self._integrity_errors: tuple[type[BaseException], ...] = (sqlite3.IntegrityError,)
        if self._is_postgres:
            try:
                import psycopg
            except ImportError as exc:
                raise ConfigError(
                    "ROOST_REGISTRY_URL is a PostgreSQL URL but psycopg is not installed; "
                    "install it with: pip install 'roost[postgres]'"
                ) from exc
            self._integrity_errors = (psycopg.IntegrityError,)
        else:
            path = Path(url.removeprefix("sqlite:///"))
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                switch_to_wal(path, f"registry index {path}", timeout_s=60)
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"registry index {path}: {exc}") from exc
        with self._transaction() as cur:
            if self._is_postgres:
                # CREATE TABLE IF NOT EXISTS races with itself in PostgreSQL: two processes
                # opening a new index at once both pass the check and one fails on a
                # duplicate pg_type row. The lock makes them take turns.
                cur.execute("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK,))
            for statement in _SCHEMA:
                cur.execute(statement)

    @contextmanager
    def _transaction(self) -> Iterator[_Cursor]:
        if self._is_postgres:
            import psycopg

            try:
                connection = psycopg.connect(self.url)
            except psycopg.OperationalError as exc:
                raise StoreError(
                    f"registry index {self._safe_url}: cannot connect ({exc})"
                ) from exc
            with connection, connection.transaction():
                yield _PostgresCursor(connection)
            return
        path = self.url.removeprefix("sqlite:///")
        try:
            sqlite = sqlite3.connect(path, timeout=60, isolation_level=None)
            try:
                with transaction(sqlite, write=True):  # one writer at a time; readers go on
                    yield _SqliteCursor(sqlite)
            finally:
                sqlite.close()
        except sqlite3.IntegrityError:
            raise  # a taken key: claim() retries with the next number
        except sqlite3.DatabaseError as exc:  # locked past the timeout, corrupt, unwritable
            raise StoreError(f"registry index {path}: {exc}") from exc

    @property
    def _safe_url(self) -> str:
        scheme, _, rest = self.url.partition("://")
        return f"{scheme}://{rest.rsplit('@', 1)[-1]}"  # never print a password

    def _record(
        self, cur: _Cursor, action: str, name: str, version: int | None, detail: str = ""
    ) -> None:
        cur.execute(
            "INSERT INTO roost_events (ts, action, name, version, detail) VALUES (?, ?, ?, ?, ?)",
            (_now(), action, name, version, detail),
        )

    # ------------------------------------------------------------- versions

    def claim(self, name: str, version: int | None = None) -> int:
        """Reserve a version number (the next one, or ``version``) for a package being added.

        Raises:
            VersionConflict: ``version`` was given and is already taken.
        """
        for _ in range(_MAX_CLAIM_ATTEMPTS):
            try:
                with self._transaction() as cur:
                    number = version
                    if number is None:
                        (row,) = cur.execute(
                            "SELECT COALESCE(MAX(version), 0) + 1 FROM roost_versions "
                            "WHERE name = ?",
                            (name,),
                        )
                        number = int(row[0])
                    cur.execute(
                        "INSERT INTO roost_versions (name, version, status, created_at) "
                        "VALUES (?, ?, 'pending', ?)",
                        (name, number, _now()),
                    )
                    return number
            except self._integrity_errors as exc:
                if version is not None:
                    raise VersionConflict(
                        f"model {name!r} version {version} already exists"
                    ) from exc
        raise StoreError(
            f"model {name!r}: could not claim a version after {_MAX_CLAIM_ATTEMPTS} tries"
        )

    def publish(self, name: str, version: int, digest: str, flavor: str, created_at: str) -> None:
        """Mark a claimed version ready, once its files are in place.

        Args:
            created_at: the time recorded in the package's ``model.yaml``, so the index and
                the package tell the same story.
        """
        with self._transaction() as cur:
            cur.execute(
                "UPDATE roost_versions SET status = 'ready', digest = ?, flavor = ?, "
                "created_at = ? WHERE name = ? AND version = ?",
                (digest, flavor, created_at, name, version),
            )
            self._record(cur, "register", name, version, digest)

    def abandon(self, name: str, version: int) -> None:
        """Give back a claimed version whose package could not be put in place."""
        with self._transaction() as cur:
            cur.execute(
                "DELETE FROM roost_versions WHERE name = ? AND version = ? AND status = 'pending'",
                (name, version),
            )

    def status(self, name: str, version: int) -> str | None:
        """The state of a version number: ``pending``, ``ready``, ``deleted``, or ``None``."""
        with self._transaction() as cur:
            rows = cur.execute(
                "SELECT status FROM roost_versions WHERE name = ? AND version = ?",
                (name, version),
            )
        return str(rows[0][0]) if rows else None

    def names(self) -> list[str]:
        with self._transaction() as cur:
            rows = cur.execute(
                "SELECT DISTINCT name FROM roost_versions WHERE status = 'ready' ORDER BY name"
            )
        return [str(r[0]) for r in rows]

    def versions(self, name: str) -> list[VersionRow]:
        with self._transaction() as cur:
            rows = cur.execute(
                "SELECT name, version, digest, flavor, created_at FROM roost_versions "
                "WHERE name = ? AND status = 'ready' ORDER BY version",
                (name,),
            )
        return [VersionRow(str(r[0]), int(r[1]), str(r[2]), str(r[3]), str(r[4])) for r in rows]

    def delete(self, name: str, version: int) -> None:
        """Mark a version deleted; its number is never reused.

        Raises:
            VersionConflict: an alias still points to it.
            ModelNotFound: it does not exist.
        """
        with self._transaction() as cur:
            _lock_ready_version(cur, name, version)
            aliases = cur.execute(
                "SELECT alias FROM roost_aliases WHERE name = ? AND version = ? ORDER BY alias",
                (name, version),
            )
            if aliases:
                held = ", ".join(f"@{a[0]}" for a in aliases)
                raise VersionConflict(
                    f"model {name!r} version {version} is still pointed to by {held}; "
                    "move or remove the alias first"
                )
            cur.execute(
                "UPDATE roost_versions SET status = 'deleted' WHERE name = ? AND version = ?",
                (name, version),
            )
            self._record(cur, "delete", name, version)

    # -------------------------------------------------------------- aliases

    def aliases(self, name: str) -> dict[str, int]:
        with self._transaction() as cur:
            rows = cur.execute(
                "SELECT alias, version FROM roost_aliases WHERE name = ? ORDER BY alias", (name,)
            )
        return {str(r[0]): int(r[1]) for r in rows}

    def set_alias(self, name: str, alias: str, version: int) -> int | None:
        """Point ``alias`` at ``version``; return the version it pointed to before, if any.

        Raises:
            ModelNotFound: the version does not exist.
        """
        with self._transaction() as cur:
            _lock_ready_version(cur, name, version)
            previous = cur.execute(
                "SELECT version FROM roost_aliases WHERE name = ? AND alias = ?", (name, alias)
            )
            if previous:
                cur.execute(
                    "UPDATE roost_aliases SET version = ?, set_at = ? WHERE name = ? AND alias = ?",
                    (version, _now(), name, alias),
                )
            else:
                cur.execute(
                    "INSERT INTO roost_aliases (name, alias, version, set_at) VALUES (?, ?, ?, ?)",
                    (name, alias, version, _now()),
                )
            self._record(cur, "alias", name, version, alias)
        return int(previous[0][0]) if previous else None

    def remove_alias(self, name: str, alias: str) -> int:
        """Remove an alias; return the version it pointed to.

        Raises:
            ModelNotFound: there is no such alias.
        """
        with self._transaction() as cur:
            found = cur.execute(
                "SELECT version FROM roost_aliases WHERE name = ? AND alias = ?", (name, alias)
            )
            if not found:
                raise ModelNotFound(f"model {name!r} has no alias {alias!r}")
            cur.execute("DELETE FROM roost_aliases WHERE name = ? AND alias = ?", (name, alias))
            self._record(cur, "unalias", name, int(found[0][0]), alias)
        return int(found[0][0])

    def events(self, name: str) -> list[tuple[str, str, int | None, str]]:
        """The audit log of one model: (time, action, version, detail), oldest first."""
        with self._transaction() as cur:
            rows = cur.execute(
                "SELECT ts, action, version, detail FROM roost_events WHERE name = ? ORDER BY ts",
                (name,),
            )
        return [(str(r[0]), str(r[1]), r[2], str(r[3] or "")) for r in rows]


def _lock_ready_version(cur: _Cursor, name: str, version: int) -> None:
    """Lock a version's row for this transaction, so it cannot be deleted or aliased meanwhile.

    Raises:
        ModelNotFound: the version is not registered (or is deleted, or still pending).
    """
    found = cur.execute(
        "SELECT status FROM roost_versions WHERE name = ? AND version = ? FOR UPDATE",
        (name, version),
    )
    if not found or found[0][0] != "ready":
        raise ModelNotFound(f"model {name!r} version {version} not found")


def open_index(url: str) -> Index:
    """Open (and create if needed) the index at ``sqlite:///PATH`` or ``postgresql://…``."""
    return Index(url)
