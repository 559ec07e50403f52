"""The feature catalog: the record of every definition ever applied, ``name@version → hash``.

A model trained on ``spend_30d@1`` must get exactly the code that computed its training
features when it is served. The catalog makes ``name@version`` mean one piece of code for
good: applying a definition records its hash the first time, and applying the same
``name@version`` with other code later is refused (``FeatureVersionError``) with the next
free version to use instead. A name also keeps its kind (a transform stays a transform).

The catalog is one SQLite file (write-ahead logging, so readers never wait on a writer).
``apply`` checks and records a whole set of definitions in one write transaction taken
up front (``BEGIN IMMEDIATE``): several processes applying at once take turns, so two
processes applying the same new definition both succeed with one row recorded, and of
two applying different code under one ``name@version`` the first wins and the other gets
``FeatureVersionError``. The file is created, with its folder, on first use.

Example:
    >>> catalog = FeatureCatalog(tmp / "catalog.sqlite3")  # doctest: +SKIP
    >>> catalog.apply([amount_eur, spend_30d], now_us=now)  # doctest: +SKIP
    ['amount_eur@1', 'spend_30d@1']
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from roost._sqlite import connect, enable_wal, transaction
from roost.errors import ConfigError, FeatureError, FeatureVersionError
from roost.types import JSONDict

__all__ = ["CatalogEntry", "Definition", "FeatureCatalog"]

log = logging.getLogger(__name__)

#: how long a writer waits for another process's transaction before giving up
_BUSY_TIMEOUT_S = 10.0

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS feature_catalog (name TEXT NOT NULL, version INTEGER NOT NULL, "
    "kind TEXT NOT NULL, source_hash TEXT NOT NULL, spec TEXT NOT NULL, source TEXT NOT NULL, "
    "module TEXT, file TEXT, applied_at_us INTEGER NOT NULL, PRIMARY KEY (name, version))"
)
_COLUMNS = "name, version, kind, source_hash, spec, source, module, file, applied_at_us"


class Definition(Protocol):
    """What the catalog records: a transform, a request field, an aggregate view, a service."""

    @property
    def name(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def ref(self) -> str: ...
    @property
    def source_hash(self) -> str: ...
    @property
    def source(self) -> str: ...
    def to_spec(self) -> JSONDict: ...


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One applied definition, as the catalog recorded it.

    Attributes:
        name: the definition's name.
        version: its version.
        kind: ``transform``, ``request``, ``aggregate``, … (fixed for a name).
        source_hash: the ``sha256:`` hash of its code or spec when first applied.
        spec: its JSON spec (``to_spec()``).
        source: its source text, for people reading the catalog.
        module: the module it was last applied from, if known.
        file: the file it was last applied from, if known.
        applied_at_us: when it was first applied (UTC µs).
    """

    name: str
    version: int
    kind: str
    source_hash: str
    spec: JSONDict = field(hash=False)
    source: str
    module: str | None
    file: str | None
    applied_at_us: int

    def __post_init__(self) -> None:
        texts = {"name": self.name, "kind": self.kind, "source_hash": self.source_hash}
        for label, value in texts.items():
            if not isinstance(value, str) or not value:
                raise ConfigError(
                    f"feature {self.name!r}: {label} must be non-empty text, got {value!r}"
                )
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise ConfigError(
                f"feature {self.name!r}: version must be an int >= 1, got {self.version!r}"
            )
        if not isinstance(self.source, str) or not isinstance(self.spec, dict):
            raise ConfigError(
                f"feature {self.ref!r}: expected a str source and a dict spec, got "
                f"{type(self.source).__name__} and {type(self.spec).__name__}"
            )

    @property
    def ref(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}"


class FeatureCatalog:
    """Every applied feature definition, ``name@version → hash``, in a SQLite file.

    Safe to share between threads (calls take turns on one connection) and between
    processes (see the module docstring). Nothing touches the file until the first call.

    Args:
        path: the catalog file; it and its folder are created on first use.

    Example:
        >>> with FeatureCatalog(home / "features" / "catalog.sqlite3") as catalog:  # doctest: +SKIP
        ...     catalog.apply([amount_eur], module="fraud.features", now_us=now)
        ['amount_eur@1']
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path).expanduser()
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._closed = False

    def __enter__(self) -> FeatureCatalog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writing

    def apply(
        self,
        definitions: Sequence[Definition],
        *,
        module: str | None = None,
        file: str | None = None,
        now_us: int,
    ) -> list[str]:
        """Record definitions, refusing code that changed without a version bump.

        In one transaction, for each definition: the same ``name@version`` with the same
        hash is left as it is (its ``module``/``file`` updated when given); the same
        ``name@version`` with another hash, or a name recorded with another kind, is an
        error; anything else is recorded. Either every definition passes or none is
        recorded.

        Args:
            definitions: transforms, request fields, aggregate views, services: anything
                with ``name``, ``version``, ``kind``, ``ref``, ``source_hash``, ``source``
                and ``to_spec()``.
            module: the module the definitions were imported from, for the record.
            file: the file they were read from, for the record.
            now_us: the time to record as when they were applied (UTC µs).

        Returns:
            The refs recorded by this call (new ones only), in the order given.

        Raises:
            FeatureVersionError: a definition's code differs from what was applied under
                its ``name@version`` (naming the next free version), or its name is
                recorded with another kind.
            ConfigError: an argument is not a definition, or ``now_us`` is not an int.
            FeatureError: the catalog file cannot be opened or written.
        """
        if isinstance(now_us, bool) or not isinstance(now_us, int):
            raise ConfigError(f"feature catalog: now_us must be an int (UTC µs), got {now_us!r}")
        checked = _unique([_check(definition, now_us) for definition in definitions])
        recorded: list[str] = []
        with self._transaction(write=True) as connection:
            for item in checked:
                rows = connection.execute(
                    "SELECT version, kind, source_hash FROM feature_catalog WHERE name = ?",
                    (item.name,),
                ).fetchall()
                _check_kind(item, rows)
                stored = {int(version): str(digest) for version, _, digest in rows}
                if item.version in stored:
                    if stored[item.version] != item.source_hash:
                        newest = max(
                            [*stored, *(c.version for c in checked if c.name == item.name)]
                        )
                        raise FeatureVersionError(
                            f"feature {item.ref!r} changed since it was applied "
                            f"({_short(stored[item.version])} → {_short(item.source_hash)}); "
                            f"give the new code version {newest + 1}"
                        )
                    # an unchanged definition may have moved to another module
                    connection.execute(
                        "UPDATE feature_catalog SET module = COALESCE(?, module), "
                        "file = COALESCE(?, file) WHERE name = ? AND version = ?",
                        (module, file, item.name, item.version),
                    )
                    continue
                spec = json.dumps(item.spec, sort_keys=True, separators=(",", ":"))
                row = (item.name, item.version, item.kind, item.source_hash, spec, item.source)
                connection.execute(
                    f"INSERT INTO feature_catalog ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*row, module, file, now_us),
                )
                recorded.append(item.ref)
        if recorded:
            log.info("feature catalog %s: recorded %s", self.path, ", ".join(recorded))
        return recorded

    # ------------------------------------------------------------------ reading

    def get(self, name: str, version: int | None = None) -> CatalogEntry:
        """One recorded definition: ``name@version``, or the name's latest version.

        Args:
            name: the definition's name.
            version: its version; the highest recorded one when None.

        Returns:
            The catalog's record of it.

        Raises:
            FeatureError: nothing is recorded under that name (or version), naming what is.

        Example:
            >>> catalog.get("spend_30d").ref  # doctest: +SKIP
            'spend_30d@2'
        """
        where = "name = ?" if version is None else "name = ? AND version = ?"
        with self._transaction(write=False) as connection:
            row = connection.execute(
                f"SELECT {_COLUMNS} FROM feature_catalog WHERE {where} "
                "ORDER BY version DESC LIMIT 1",
                (name,) if version is None else (name, version),
            ).fetchone()
            if row is not None:
                return _entry(row)
            rows = connection.execute(
                "SELECT name, version FROM feature_catalog ORDER BY name, version"
            ).fetchall()
        versions = [str(v) for n, v in rows if n == name]
        if versions:
            raise FeatureError(
                f"no feature '{name}@{version}' in the catalog (known versions: "
                f"{', '.join(versions)})"
            )
        names = sorted({str(n) for n, _ in rows})
        known = f"known: {', '.join(names)}" if names else "the catalog is empty"
        raise FeatureError(f"no feature {name!r} in the catalog ({known})")

    def entries(self) -> list[CatalogEntry]:
        """Every recorded definition, sorted by name then version."""
        with self._transaction(write=False) as connection:
            rows = connection.execute(
                f"SELECT {_COLUMNS} FROM feature_catalog ORDER BY name, version"
            ).fetchall()
        return [_entry(row) for row in rows]

    def close(self) -> None:
        """Close the connection (idempotent); later calls raise FeatureError."""
        with self._lock:
            self._closed = True
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    # ------------------------------------------------------------------ the file

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                connection = self._connect()
                # a write takes the lock up front: checking then inserting must see no
                # other process's insert in between
                with transaction(connection, write=write):
                    yield connection
            except (OSError, sqlite3.Error) as exc:  # unwritable, locked too long, corrupt
                raise FeatureError(f"feature catalog {self.path}: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        """The open connection; the first call creates the file (WAL) and its table."""
        if self._closed:
            raise FeatureError(f"feature catalog {self.path} is closed")
        if self._connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # calls from several threads take turns under self._lock
            connection = connect(self.path, timeout_s=_BUSY_TIMEOUT_S)
            try:
                enable_wal(connection, f"feature catalog {self.path}")
                # IF NOT EXISTS inside a write transaction: processes creating the file at
                # once take turns, and the later ones find the table
                with transaction(connection, write=True):
                    connection.execute(_SCHEMA)
            except BaseException:
                connection.close()
                raise
            self._connection = connection
        return self._connection


def _check(definition: Any, now_us: int) -> CatalogEntry:
    """A definition as the entry it would make, or ConfigError naming what is wrong."""
    try:
        name, version, kind = definition.name, definition.version, definition.kind
        source_hash, source, spec = definition.source_hash, definition.source, definition.to_spec()
    except AttributeError as exc:
        raise ConfigError(
            "feature catalog: expected a feature definition (name, version, kind, "
            f"source_hash, source, to_spec()), got {definition!r}"
        ) from exc
    if isinstance(spec, dict):  # default=str as in spec_hash, which hashed the same text
        spec = json.loads(json.dumps(spec, default=str))
    return CatalogEntry(name, version, kind, source_hash, spec, source, None, None, now_us)


def _unique(checked: list[CatalogEntry]) -> list[CatalogEntry]:
    """The definitions without repeats; one batch must not disagree with itself."""
    seen: dict[tuple[str, int], CatalogEntry] = {}
    kinds: dict[str, CatalogEntry] = {}
    for item in checked:
        first = kinds.setdefault(item.name, item)
        if first.kind != item.kind:
            raise FeatureVersionError(
                f"feature {item.name!r} is given both as a {first.kind} ({first.ref}) and as "
                f"a {item.kind} ({item.ref}); a name has one kind: rename one of them"
            )
        twin = seen.setdefault((item.name, item.version), item)
        if twin.source_hash != item.source_hash:
            raise FeatureVersionError(
                f"feature {item.ref!r} is given twice with different code "
                f"({_short(twin.source_hash)} and {_short(item.source_hash)}); "
                "give one of them another version"
            )
    return list(seen.values())


def _check_kind(item: CatalogEntry, rows: list[tuple[Any, ...]]) -> None:
    for version, kind, _ in rows:
        if kind != item.kind:
            raise FeatureVersionError(
                f"feature {item.name!r} is a {kind} in the catalog ({item.name}@{version}), "
                f"got a {item.kind} ({item.ref}); a name keeps its kind: choose another name"
            )


def _entry(row: tuple[Any, ...]) -> CatalogEntry:
    name, version, kind, source_hash, spec, *rest = row
    return CatalogEntry(name, version, kind, source_hash, json.loads(spec), *rest)


def _short(digest: str) -> str:
    """``sha256:1a2b3c4d…``: enough of a hash to tell two apart in a message."""
    algorithm, colon, hexdigest = digest.partition(":")
    head = f"{algorithm}:{hexdigest[:8]}" if colon else digest[:8]
    return f"{head}…" if len(head) < len(digest) else head
