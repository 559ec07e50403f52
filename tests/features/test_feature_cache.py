"""FeatureCache: LRU order, freshness by age and by validity, counters, disabling."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from roost.errors import ConfigError
from roost.features.cache import FeatureCache
from roost.features.online import OnlineRecord

S = 1_000_000  # one second in µs
T0 = 1_700_000_000 * S
FAR = T0 + 10**6 * S  # a valid_until_us that never binds
REF = "spend@1"


def record(key: str, spend: float = 1.0) -> OnlineRecord:
    return OnlineRecord(key, {"spend": spend}, event_time_us=T0 - S, written_at_us=T0)


def test_cache_get_after_put_hits_same_record() -> None:
    cache = FeatureCache()
    stored = record("[1]")
    cache.put(REF, "[1]", stored, now_us=T0, valid_until_us=FAR)

    assert cache.get(REF, "[1]", now_us=T0 + S) is stored
    assert (cache.hits, cache.misses, len(cache)) == (1, 0, 1)


def test_cache_get_unknown_key_or_view_misses() -> None:
    cache = FeatureCache()
    cache.put(REF, "[1]", record("[1]"), now_us=T0, valid_until_us=FAR)

    assert cache.get(REF, "[2]", now_us=T0) is None
    assert cache.get("spend@2", "[1]", now_us=T0) is None
    assert (cache.hits, cache.misses) == (0, 2)


def test_cache_full_evicts_least_recently_used() -> None:
    cache = FeatureCache(max_entries=2)
    for key in ("[1]", "[2]"):
        cache.put(REF, key, record(key), now_us=T0, valid_until_us=FAR)
    cache.get(REF, "[1]", now_us=T0)  # [1] is now the most recently used

    cache.put(REF, "[3]", record("[3]"), now_us=T0, valid_until_us=FAR)

    assert cache.get(REF, "[2]", now_us=T0) is None
    assert cache.get(REF, "[1]", now_us=T0) is not None
    assert cache.get(REF, "[3]", now_us=T0) is not None
    assert (cache.evictions, len(cache)) == (1, 2)


def test_cache_put_existing_key_replaces_without_eviction() -> None:
    cache = FeatureCache(max_entries=2)
    cache.put(REF, "[1]", record("[1]", 1.0), now_us=T0, valid_until_us=FAR)
    cache.put(REF, "[2]", record("[2]"), now_us=T0, valid_until_us=FAR)

    cache.put(REF, "[1]", record("[1]", 9.0), now_us=T0, valid_until_us=FAR)

    hit = cache.get(REF, "[1]", now_us=T0)
    assert hit is not None
    assert hit.values == {"spend": 9.0}
    assert (cache.evictions, len(cache)) == (0, 2)


def test_cache_entry_older_than_max_age_misses_and_is_dropped() -> None:
    cache = FeatureCache(max_age_s=60.0)
    cache.put(REF, "[1]", record("[1]"), now_us=T0, valid_until_us=FAR)

    assert cache.get(REF, "[1]", now_us=T0 + 60 * S) is not None  # exactly max_age: still fresh
    assert cache.get(REF, "[1]", now_us=T0 + 60 * S + 1) is None
    assert len(cache) == 0
    assert (cache.hits, cache.misses, cache.evictions) == (1, 1, 0)


def test_cache_entry_past_valid_until_misses_before_max_age() -> None:
    cache = FeatureCache(max_age_s=60.0)
    cache.put(REF, "[1]", record("[1]"), now_us=T0, valid_until_us=T0 + 5 * S)

    assert cache.get(REF, "[1]", now_us=T0 + 5 * S) is not None
    assert cache.get(REF, "[1]", now_us=T0 + 5 * S + 1) is None


def test_cache_put_already_invalid_record_drops_cached_entry() -> None:
    cache = FeatureCache()
    cache.put(REF, "[1]", record("[1]"), now_us=T0, valid_until_us=FAR)

    cache.put(REF, "[1]", record("[1]", 2.0), now_us=T0, valid_until_us=T0 - 1)

    assert len(cache) == 0
    assert cache.get(REF, "[1]", now_us=T0) is None


def test_cache_invalidate_forgets_one_key() -> None:
    cache = FeatureCache()
    for key in ("[1]", "[2]"):
        cache.put(REF, key, record(key), now_us=T0, valid_until_us=FAR)

    cache.invalidate(REF, "[1]")
    cache.invalidate(REF, "[never]")  # absent: no error

    assert cache.get(REF, "[1]", now_us=T0) is None
    assert cache.get(REF, "[2]", now_us=T0) is not None


def test_cache_clear_forgets_all_and_keeps_counters() -> None:
    cache = FeatureCache()
    cache.put(REF, "[1]", record("[1]"), now_us=T0, valid_until_us=FAR)
    cache.get(REF, "[1]", now_us=T0)

    cache.clear()

    assert len(cache) == 0
    assert cache.get(REF, "[1]", now_us=T0) is None
    assert (cache.hits, cache.misses) == (1, 1)


def test_cache_zero_max_entries_disables_caching() -> None:
    cache = FeatureCache(max_entries=0)

    cache.put(REF, "[1]", record("[1]"), now_us=T0, valid_until_us=FAR)

    assert cache.get(REF, "[1]", now_us=T0) is None
    assert (len(cache), cache.misses, cache.evictions) == (0, 1, 0)


def test_cache_concurrent_use_keeps_counts_consistent() -> None:
    cache = FeatureCache(max_entries=50)

    def work(i: int) -> None:
        key = f"[{i % 100}]"
        cache.put(REF, key, record(key), now_us=T0, valid_until_us=FAR)
        cache.get(REF, key, now_us=T0)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(2000)))

    assert cache.hits + cache.misses == 2000
    assert len(cache) <= 50


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"max_entries": -1}, "max_entries expected a whole number >= 0, got -1"),
        ({"max_entries": 1.5}, "max_entries expected a whole number >= 0, got 1.5"),
        ({"max_entries": True}, "max_entries expected a whole number >= 0, got True"),
        ({"max_age_s": -0.5}, "max_age_s expected a finite number of seconds >= 0, got -0.5"),
        (
            {"max_age_s": float("inf")},
            "max_age_s expected a finite number of seconds >= 0, got inf",
        ),
        ({"max_age_s": "60"}, "max_age_s expected a finite number of seconds >= 0, got '60'"),
    ],
    ids=["negative-entries", "float-entries", "bool-entries", "negative-age", "inf-age", "str-age"],
)
def test_cache_bad_settings_raise_config_error(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        FeatureCache(**settings)  # type: ignore[arg-type]
