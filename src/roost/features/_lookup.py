"""The serving path's read of one aggregate view: cache, then online store, then compute.

``lookup`` answers each entity's value of a view at ``now``:

1. the in-process cache, which holds every answer, absent ones included, for the cache's
   max age: an entity without recent events must not cost a store read (or a
   computation) on every request;
2. the online store, in one round trip for all the keys the cache did not answer;
3. for a view declared ``compute_on_miss``, when the store has no present value (or a
   cached one went stale since it was cached): the offline events, through the very
   ``as_of`` of training frames; the result is written back and cached.

Statuses are judged at each read from the record's event time, so a cached value
expires on time. The TTL is enforced here, on read, whatever the store.
"""

from __future__ import annotations

import logging

from roost.features._frames import view_values
from roost.features.aggregates import AggregateView, ViewValue
from roost.features.cache import FeatureCache
from roost.features.offline import OfflineStore
from roost.features.online import OnlineRecord, OnlineStore

__all__ = ["lookup"]

log = logging.getLogger(__name__)

#: the event time of a cached "nothing stored, nothing to compute" answer
_ABSENT = -1
#: cache entries are bounded by the cache's max age, not by their own validity
_FOREVER = 2**62

#: one entity's answer: its value, and where it came from (cache, store or computed)
Answer = tuple[ViewValue, str]


def lookup(
    view: AggregateView,
    keys: list[str],
    now: int,
    cache: FeatureCache,
    online: OnlineStore,
    offline: OfflineStore,
) -> dict[str, Answer]:
    """Each key's value of ``view`` at ``now`` (UTC µs), with its origin (module docstring)."""
    found: dict[str, Answer] = {}
    pending = []
    for key in keys:
        record = cache.get(view.ref, key, now)
        if record is None:
            pending.append(key)
        elif record.event_time_us == _ABSENT:
            found[key] = (_missing(view), "cache")
        elif view.compute_on_miss and _went_stale(view, record, now):
            pending.append(key)  # present when cached, expired now: compute afresh
        else:
            found[key] = (_stored(view, record, now), "cache")
    to_compute = []
    records = online.read(view, pending) if pending else []
    for key, record in zip(pending, records, strict=True):
        usable = record is not None and view.status_at(record.event_time_us, now) == "present"
        if not usable and view.compute_on_miss:
            to_compute.append(key)
            continue
        cache.put(view.ref, key, record or _absent(key, now), now, _FOREVER)
        found[key] = (_missing(view) if record is None else _stored(view, record, now), "store")
    if to_compute:
        found.update(_compute_on_miss(view, to_compute, now, cache, online, offline))
    return found


def _compute_on_miss(
    view: AggregateView,
    keys: list[str],
    now: int,
    cache: FeatureCache,
    online: OnlineStore,
    offline: OfflineStore,
) -> dict[str, Answer]:
    """Compute values from the offline events, write them back, cache and return them."""
    events = offline.read(view.events, keys=keys, until_us=now)
    raws = view_values(view, events, keys, [now] * len(keys), raw=True)
    records = {
        key: OnlineRecord(key, raw.values, raw.event_time_us, now)
        for key, raw in zip(keys, raws, strict=True)
        if raw.event_time_us is not None
    }
    if records:
        online.write(view, list(records.values()))
    for key in keys:
        cache.put(view.ref, key, records.get(key) or _absent(key, now), now, _FOREVER)
    log.debug("computed %s on miss for %d entities", view.ref, len(keys))
    return {key: (view.finish(raw), "computed") for key, raw in zip(keys, raws, strict=True)}


def _missing(view: AggregateView) -> ViewValue:
    return view.finish(ViewValue({name: None for name, _ in view.outputs}, "missing", None))


def _stored(view: AggregateView, record: OnlineRecord, now: int) -> ViewValue:
    """A stored record as the view's value at ``now`` (TTL enforced on read)."""
    status = view.status_at(record.event_time_us, now)
    values = {name: record.values.get(name) for name, _ in view.outputs}
    return view.finish(ViewValue(values, status, record.event_time_us))


def _went_stale(view: AggregateView, record: OnlineRecord, now: int) -> bool:
    """Whether a record that was present when written has expired since."""
    return view.status_at(record.event_time_us, record.written_at_us) == "present" and (
        view.status_at(record.event_time_us, now) != "present"
    )


def _absent(key: str, now: int) -> OnlineRecord:
    return OnlineRecord(key, {}, _ABSENT, now)
