"""The online store: each entity's latest aggregate values, ready for serving.

Materialization computes an aggregate view's values for every entity and writes them
here; a server reads them back by entity key while answering a request. Two backends
share one contract (``OnlineStore``): a SQLite file for one machine (the default) and
Redis for several.

**Newer always wins.** A record carries the time of the newest event it reflects
(``event_time_us``). ``write`` never replaces a stored record with an older one, so a
slow materialization job finishing late, or two jobs racing, cannot roll values back;
a record as new as the stored one replaces it (recomputing the same data is harmless).

**The store keeps, the caller judges.** The store never decides whether a value is
still valid: ``read`` returns what is stored and the caller applies the view's TTL with
``view.status_at(record.event_time_us, now_us)``. Expired records therefore stay
readable, so an answer can say *expired* rather than *missing*: in SQLite until
``delete_expired`` removes them, in Redis until Redis's own expiry, set at
``event_time_us + 2 * ttl`` (a grace period of one TTL).

Values are stored as JSON; NaN becomes null, and floats round-trip exactly.

Example:
    >>> store = open_online_store(None, default_path=Path("online.db"))  # doctest: +SKIP
    >>> store.write(view, [OnlineRecord("[42]", {"spend": 12.5}, t_us, now_us)])  # doctest: +SKIP
    1
    >>> store.read(view, ["[42]", "[7]"])  # doctest: +SKIP
    [OnlineRecord(key='[42]', values={'spend': 12.5}, ...), None]
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from roost.config import mask_password
from roost.errors import ConfigError, FeatureError
from roost.features.aggregates import AggregateView
from roost.types import JSONValue

__all__ = ["OnlineRecord", "OnlineStore", "open_online_store"]

_ACCEPTED = "sqlite:///PATH, redis://HOST:PORT/DB or rediss://HOST:PORT/DB"


@dataclass(frozen=True, slots=True)
class OnlineRecord:
    """One entity's values of one aggregate view, as the online store holds them.

    Attributes:
        key: the canonical entity key (``Entity.key_of``, e.g. ``'[42]'``).
        values: each view output's value; None where unknown.
        event_time_us: the newest event the values reflect (UTC µs).
        written_at_us: when the values were materialized or computed (UTC µs).

    Raises:
        FeatureError: a field has the wrong type.
    """

    key: str
    values: dict[str, JSONValue]
    event_time_us: int
    written_at_us: int

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key:
            raise FeatureError(f"online record: key expected a non-empty string, got {self.key!r}")
        if not isinstance(self.values, dict):
            raise FeatureError(
                f"online record {self.key}: values expected a dict, "
                f"got {type(self.values).__name__}"
            )
        for label in ("event_time_us", "written_at_us"):
            value = getattr(self, label)
            if isinstance(value, bool) or not isinstance(value, int):
                raise FeatureError(
                    f"online record {self.key}: {label} expected an int (UTC µs), got {value!r}"
                )


class OnlineStore(Protocol):
    """Where an aggregate view's latest values live, keyed by entity (module docstring).

    Implementations are safe to share between threads; a server's worker threads call
    ``read`` concurrently.
    """

    #: where the store is, for messages (any password hidden)
    url: str

    def write(self, view: AggregateView, records: Sequence[OnlineRecord]) -> int:
        """Store records, keeping any stored record whose event time is newer.

        Returns:
            How many records were written (those not kept out by a newer one).

        Raises:
            FeatureError: a record does not match the view's outputs, or the store failed.
        """
        ...

    def read(self, view: AggregateView, keys: Sequence[str]) -> list[OnlineRecord | None]:
        """The stored records of ``keys``, in the same order; None where nothing is stored.

        Raises:
            FeatureError: the store failed.
        """
        ...

    def delete_expired(self, view: AggregateView, now_us: int) -> int:
        """Remove the records whose TTL ended before ``now_us``; returns how many."""
        ...

    def count(self, view: AggregateView) -> int:
        """How many records the view has in the store."""
        ...

    def close(self) -> None:
        """Release connections; the store cannot be used afterwards."""
        ...


def open_online_store(url: str | None, *, default_path: Path) -> OnlineStore:
    """Open (and create if needed) the online store a URL names.

    Args:
        url: the value of ``ROOST_FEATURES_URL``: ``None`` for a SQLite file at
            ``default_path``; ``sqlite:///PATH`` (the path is what follows ``sqlite:///``,
            so ``f"sqlite:///{path}"`` works for relative and absolute paths alike);
            ``redis://…`` or ``rediss://…`` (needs ``pip install 'roost[redis]'``), with an
            optional ``?prefix=NAME`` for the keys (``roost:features`` by default).
        default_path: the SQLite file used when ``url`` is None (folders are created).

    Returns:
        The store; close it when done.

    Raises:
        ConfigError: the URL names no store roost knows.
        FeatureError: the store cannot be opened (server unreachable, folder unwritable,
            the redis package missing).

    Example:
        >>> store = open_online_store("redis://localhost:6379/0", default_path=p)  # doctest: +SKIP
        >>> store.url  # doctest: +SKIP
        'redis://localhost:6379/0'
    """
    # imported here: the backends import this module, and redis is an optional extra
    if url is None:
        from roost.features._sqlite_online import SqliteOnlineStore

        return SqliteOnlineStore(default_path)
    if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        from roost.features._sqlite_online import SqliteOnlineStore

        return SqliteOnlineStore(Path(url.removeprefix("sqlite:///")))
    if url.startswith(("redis://", "rediss://")):
        from roost.features._redis_online import RedisOnlineStore

        # ?prefix=… lets several deployments share one Redis (the rest is redis-py's)
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        prefixes = [value for name, value in query if name == "prefix"]
        rest = urlencode([(name, value) for name, value in query if name != "prefix"])
        plain = urlunsplit(parts._replace(query=rest))
        return RedisOnlineStore(plain, prefix=prefixes[-1]) if prefixes else RedisOnlineStore(plain)
    raise ConfigError(
        f"ROOST_FEATURES_URL: expected {_ACCEPTED} (or unset, for a SQLite file at "
        f"{default_path}), got {mask_password(url)!r}"
    )


# ------------------------------------------------------------ what the backends share


def check_records(view: AggregateView, records: Sequence[OnlineRecord]) -> None:
    """Raise FeatureError unless every record holds exactly the view's outputs."""
    expected = [name for name, _ in view.outputs]
    for record in records:
        if not isinstance(record, OnlineRecord):
            raise FeatureError(
                f"online store, view {view.ref}: expected OnlineRecord objects, "
                f"got {type(record).__name__}"
            )
        if set(record.values) != set(expected):
            raise FeatureError(
                f"online store, view {view.ref}, key {record.key}: expected values for "
                f"{expected}, got {sorted(record.values)}"
            )


def dump_values(values: Mapping[str, JSONValue], where: str) -> str:
    """The JSON text of a record's values (NaN stored as null).

    Raises:
        FeatureError: a value is infinite or not JSON (naming ``where`` and the output).
    """
    clean = {name: _without_nan(value) for name, value in values.items()}
    try:
        return json.dumps(clean, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        for name, value in clean.items():
            try:
                json.dumps(value, allow_nan=False)
            except (TypeError, ValueError):
                raise FeatureError(
                    f"{where}: output {name!r} expected a finite JSON value, got {value!r}"
                ) from None
        raise FeatureError(f"{where}: expected JSON values, got {clean!r} ({exc})") from exc


def load_values(text: str | bytes | None, where: str) -> dict[str, JSONValue]:
    """A record's values from their JSON text.

    Raises:
        FeatureError: the stored text is not a JSON object (a corrupt or foreign entry).
    """
    try:
        values = json.loads(text) if text is not None else None
    except ValueError:
        values = None
    if not isinstance(values, dict):
        shown = text[:80] if text is not None else None
        raise FeatureError(f"{where}: expected a JSON object of values, got {shown!r}")
    return values


def _without_nan(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, list):
        return [_without_nan(v) for v in value]
    if isinstance(value, dict):
        return {k: _without_nan(v) for k, v in value.items()}
    return value
