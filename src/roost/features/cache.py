"""A small in-process cache of online records, in front of the online store.

A busy server asks for the same entities again and again (one card's payments arrive in
bursts); answering those from memory saves a round trip to Redis or SQLite per request.
An entry is served only while it is fresh on two counts: it is younger than
``max_age_s`` (values materialized since then are picked up soon enough) and the
caller's ``valid_until_us`` has not passed (typically the end of the value's TTL, so a
cached value never outlives its validity). The least recently used entry makes room
for a new one when the cache is full.

Times are passed in (``now_us``), never read from a clock here, so the cache is tested
without sleeping.

Example:
    >>> cache = FeatureCache(max_entries=2, max_age_s=60.0)
    >>> record = OnlineRecord("[42]", {"spend": 12.5}, event_time_us=0, written_at_us=0)
    >>> cache.put("spend@1", "[42]", record, now_us=0, valid_until_us=10_000_000)
    >>> cache.get("spend@1", "[42]", now_us=5_000_000) is record
    True
    >>> cache.get("spend@1", "[42]", now_us=20_000_000) is None  # past valid_until_us
    True
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

from roost.errors import ConfigError
from roost.features.online import OnlineRecord

__all__ = ["FeatureCache"]

_US = 1_000_000


@dataclass(frozen=True, slots=True)
class _Entry:
    record: OnlineRecord
    #: the last time (UTC µs, inclusive) the entry may be served
    expires_at_us: int


class FeatureCache:
    """A thread-safe LRU cache of online records, keyed by view ref and entity key.

    Args:
        max_entries: the most records held; 0 disables the cache (every get misses).
        max_age_s: how long after ``put`` an entry may be served.

    Attributes:
        hits: gets answered from the cache.
        misses: gets that found nothing fresh.
        evictions: entries dropped to make room (not those that merely aged out).

    Raises:
        ConfigError: a setting is negative or not a number.
    """

    def __init__(self, max_entries: int = 10_000, max_age_s: float = 60.0) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 0:
            raise ConfigError(
                f"feature cache: max_entries expected a whole number >= 0, got {max_entries!r}"
            )
        if (
            isinstance(max_age_s, bool)
            or not isinstance(max_age_s, int | float)
            or not math.isfinite(max_age_s)
            or max_age_s < 0
        ):
            raise ConfigError(
                f"feature cache: max_age_s expected a finite number of seconds >= 0, "
                f"got {max_age_s!r}"
            )
        self.max_entries = max_entries
        self.max_age_s = max_age_s
        self._max_age_us = int(max_age_s * _US)
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def get(self, view_ref: str, key: str, now_us: int) -> OnlineRecord | None:
        """The cached record of ``key`` in ``view_ref``, if still fresh at ``now_us``.

        Args:
            view_ref: the view's ``name@version``.
            key: the canonical entity key.
            now_us: the current time (UTC µs).

        Returns:
            The record, or None (a miss) when absent or no longer fresh; a stale entry
            is dropped.
        """
        with self._lock:
            entry = self._entries.get((view_ref, key))
            if entry is None:
                self.misses += 1
                return None
            if now_us > entry.expires_at_us:
                del self._entries[(view_ref, key)]
                self.misses += 1
                return None
            self._entries.move_to_end((view_ref, key))
            self.hits += 1
            return entry.record

    def put(
        self, view_ref: str, key: str, record: OnlineRecord, now_us: int, valid_until_us: int
    ) -> None:
        """Cache a record until ``min(now_us + max_age, valid_until_us)`` (inclusive).

        Args:
            view_ref: the view's ``name@version``.
            key: the canonical entity key.
            record: what the online store returned (or what was just computed).
            now_us: the current time (UTC µs).
            valid_until_us: the last time the record may be served, whatever its age
                (e.g. ``record.event_time_us + view.ttl_us``). A time already past
                drops any cached entry of the key instead.
        """
        if self.max_entries == 0:
            return
        expires_at_us = min(now_us + self._max_age_us, valid_until_us)
        with self._lock:
            if now_us > expires_at_us:
                self._entries.pop((view_ref, key), None)
                return
            self._entries[(view_ref, key)] = _Entry(record, expires_at_us)
            self._entries.move_to_end((view_ref, key))
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
                self.evictions += 1

    def invalidate(self, view_ref: str, key: str) -> None:
        """Forget the cached record of one key (after it was written, say)."""
        with self._lock:
            self._entries.pop((view_ref, key), None)

    def clear(self) -> None:
        """Forget every cached record (the counters keep counting)."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
