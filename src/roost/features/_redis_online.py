"""The Redis online store: entity values shared by every server of a deployment.

One hash per view version and entity, ``<prefix>:<name>:v<version>:<key>`` (for example
``roost:features:spend_30d:v1:[42]``), with the fields ``values`` (JSON),
``event_time_us`` and ``written_at_us``.

**Newer always wins, atomically.** A Lua script compares the stored event time with the
incoming one and writes only if the incoming record is as new or newer, so two
materialization jobs racing on one key can never roll it back. (Event times are compared
as Lua numbers, exact for any time before the year 2255.)

**Expiry with a grace period.** The script also sets the hash to expire (PEXPIREAT) one
TTL *after* the value's own TTL ends, at ``event_time_us + 2 * ttl``: until then a read
still finds the record and the caller can answer *expired* rather than *missing*. A
record written already past that point is removed by Redis at once. ``delete_expired``
removes expired records sooner, when asked.

The ``redis`` package is an optional extra (``pip install 'roost[redis]'``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from roost.config import mask_password
from roost.errors import ConfigError, FeatureError, FeatureUnavailable
from roost.features.aggregates import AggregateView
from roost.features.online import (
    OnlineRecord,
    check_records,
    dump_values,
    load_values,
)

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

__all__ = ["RedisOnlineStore"]

log = logging.getLogger(__name__)

#: commands per pipeline: one round trip each, without building huge replies
_CHUNK = 1000
_CONNECT_TIMEOUT_S = 5.0
_SOCKET_TIMEOUT_S = 10.0

# KEYS[1]: the record's hash. ARGV: values, event_time_us, written_at_us, expire_at_ms.
# Returns 1 when written, 0 when the stored record is newer (and is left as it was).
_WRITE_IF_NOT_OLDER = """
local stored = redis.call('HGET', KEYS[1], 'event_time_us')
if stored and tonumber(stored) > tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], 'values', ARGV[1], 'event_time_us', ARGV[2],
           'written_at_us', ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
return 1
"""

# KEYS[1]: the record's hash. ARGV[1]: records with an event time before it are expired.
# Checked and deleted in one step, so a newer record written meanwhile is never deleted.
_DELETE_IF_EXPIRED = """
local stored = redis.call('HGET', KEYS[1], 'event_time_us')
if stored and tonumber(stored) < tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""


class RedisOnlineStore:
    """Aggregate values in Redis (see the module docstring).

    Args:
        url: ``redis://[[user]:password@]host:port/db`` or ``rediss://…`` (TLS).
        prefix: the start of every key this store writes.

    Raises:
        ConfigError: the URL or the prefix is malformed.
        FeatureError: the redis package is missing, or the server cannot be reached.

    Example:
        >>> store = RedisOnlineStore("redis://localhost:6379/0")  # doctest: +SKIP
        >>> store.read(spend_30d, ["[42]"])  # doctest: +SKIP
        [OnlineRecord(key='[42]', values={'spend_30d': 12.5}, ...)]
    """

    def __init__(self, url: str, prefix: str = "roost:features") -> None:
        self.url = mask_password(url)
        if not isinstance(prefix, str) or not prefix or any(c.isspace() for c in prefix):
            raise ConfigError(
                f"online store {self.url}: prefix expected a non-empty string without "
                f"spaces, got {prefix!r}"
            )
        self.prefix = prefix
        try:
            import redis
        except ImportError as exc:
            raise FeatureError(
                f"online store {self.url}: the redis package is not installed; "
                "install it with: pip install 'roost[redis]'"
            ) from exc
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError,)
        try:
            client = redis.Redis.from_url(
                url, socket_connect_timeout=_CONNECT_TIMEOUT_S, socket_timeout=_SOCKET_TIMEOUT_S
            )
        except ValueError as exc:
            raise ConfigError(f"online store URL {self.url!r}: {exc}") from exc
        self._client: Redis = client
        self._closed = False
        try:
            client.ping()
        except redis.RedisError as exc:
            client.close()
            raise FeatureUnavailable(f"online store {self.url}: cannot connect ({exc})") from exc
        self._write_script = client.register_script(_WRITE_IF_NOT_OLDER)
        self._delete_script = client.register_script(_DELETE_IF_EXPIRED)

    # ------------------------------------------------------------------ the contract

    def write(self, view: AggregateView, records: Sequence[OnlineRecord]) -> int:
        """Store records, never replacing a newer stored one; one pipeline per 1000.

        Returns:
            How many records were written.

        Raises:
            FeatureError: a record does not match the view, or Redis failed.
        """
        check_records(view, records)
        written = 0
        for start in range(0, len(records), _CHUNK):
            with self._calls(view) as pipe:
                for record in records[start : start + _CHUNK]:
                    where = f"online store, view {view.ref}, key {record.key}"
                    expire_at_ms = -(-(record.event_time_us + 2 * view.ttl_us) // 1000)
                    self._write_script(
                        keys=[self._key(view, record.key)],
                        args=[
                            dump_values(record.values, where),
                            record.event_time_us,
                            record.written_at_us,
                            expire_at_ms,
                        ],
                        client=pipe,
                    )
                written += sum(int(result) for result in self._execute(view, pipe))
        log.debug(
            "online store %s: wrote %d of %d records of %s",
            self.url,
            written,
            len(records),
            view.ref,
        )
        return written

    def read(self, view: AggregateView, keys: Sequence[str]) -> list[OnlineRecord | None]:
        """The stored records of ``keys`` (one pipeline), None where absent.

        Raises:
            FeatureError: a key is not a string, a stored entry is malformed, or Redis
                failed.
        """
        for index, key in enumerate(keys):
            if not isinstance(key, str):
                raise FeatureError(
                    f"online store, view {view.ref}: keys expected canonical key strings "
                    f"(Entity.key_of), got {key!r} (position {index})"
                )
        if not keys:
            return []
        with self._calls(view) as pipe:
            for key in keys:
                pipe.hmget(self._key(view, key), ["values", "event_time_us", "written_at_us"])
            replies = self._execute(view, pipe)
        return [self._record(view, key, reply) for key, reply in zip(keys, replies, strict=True)]

    def delete_expired(self, view: AggregateView, now_us: int) -> int:
        """Remove records with ``event_time_us + view.ttl_us < now_us``; returns how many.

        Redis drops them by itself one TTL later; this scans the view's keys to do it now.
        """
        if isinstance(now_us, bool) or not isinstance(now_us, int):
            raise FeatureError(
                f"online store, view {view.ref}: now_us expected an int (UTC µs), got {now_us!r}"
            )
        cutoff = now_us - view.ttl_us
        deleted = 0
        for batch in self._scan(view):
            with self._calls(view) as pipe:
                for name in batch:
                    self._delete_script(keys=[name], args=[cutoff], client=pipe)
                deleted += sum(int(result) for result in self._execute(view, pipe))
        log.debug("online store %s: deleted %d expired records of %s", self.url, deleted, view.ref)
        return deleted

    def count(self, view: AggregateView) -> int:
        """How many records the view has (SCAN over its keys; expired ones included)."""
        # SCAN may return a key twice (when the keyspace is rehashed meanwhile)
        return len({name for batch in self._scan(view) for name in batch})

    def close(self) -> None:
        """Close the connections (idempotent); the store cannot be used afterwards."""
        if not self._closed:
            self._closed = True
            self._client.close()

    # ------------------------------------------------------------------ helpers

    def _key(self, view: AggregateView, key: str) -> str:
        return f"{self.prefix}:{view.name}:v{view.version}:{key}"

    def _calls(self, view: AggregateView) -> Pipeline:
        """A pipeline (no MULTI: each command or script is atomic on its own)."""
        if self._closed:
            raise FeatureError(f"online store {self.url} is closed")
        return self._client.pipeline(transaction=False)

    def _execute(self, view: AggregateView, pipe: Pipeline) -> list[Any]:
        try:
            return pipe.execute()
        except self._errors as exc:
            raise FeatureUnavailable(f"online store {self.url}, view {view.ref}: {exc}") from exc

    def _scan(self, view: AggregateView) -> Iterator[list[bytes]]:
        """The view's keys, in batches of at most ``_CHUNK``."""
        if self._closed:
            raise FeatureError(f"online store {self.url} is closed")
        pattern = _glob_escape(f"{self.prefix}:{view.name}:v{view.version}:") + "*"
        batch: list[bytes] = []
        try:
            for name in self._client.scan_iter(match=pattern, count=_CHUNK):
                batch.append(name)
                if len(batch) >= _CHUNK:
                    yield batch
                    batch = []
        except self._errors as exc:
            raise FeatureUnavailable(f"online store {self.url}, view {view.ref}: {exc}") from exc
        if batch:
            yield batch

    def _record(self, view: AggregateView, key: str, reply: list[Any]) -> OnlineRecord | None:
        text, event_time_us, written_at_us = reply
        if text is None:
            return None
        where = f"online store {self.url}, view {view.ref}, key {key}"
        try:
            return OnlineRecord(
                key, load_values(text, where), int(event_time_us), int(written_at_us)
            )
        except (TypeError, ValueError):
            raise FeatureError(
                f"{where}: expected integer event_time_us and written_at_us, got "
                f"{event_time_us!r} and {written_at_us!r}"
            ) from None


def _glob_escape(text: str) -> str:
    """``text`` matched literally by a Redis MATCH pattern."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)
