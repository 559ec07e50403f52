"""The Redis online store against the machine's real Redis (ROOST_TEST_REDIS_URL).

Redis expires each record at ``event_time_us + 2 * ttl`` by its own (wall) clock, so the
event times here are near the real present; every key starts ``roost-test-``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from roost.errors import ConfigError, FeatureError
from roost.features._redis_online import RedisOnlineStore
from roost.features.aggregates import Aggregate, AggregateView
from roost.features.entities import Entity, Events
from roost.features.online import OnlineRecord, open_online_store

if TYPE_CHECKING:
    from redis import Redis  # an optional extra: imported by the fixtures, lazily

DAY_US = 86_400 * 1_000_000

card = Entity("card", keys={"card_id": "int64"})
payments = Events("payments", entity=card, columns={"amount": "float64"})


def make_view(version: int = 1, ttl: timedelta | None = None) -> AggregateView:
    return AggregateView(
        "spend",
        version=version,
        events=payments,
        window=timedelta(days=30),
        ttl=ttl,
        aggregates=(
            Aggregate("amount", "sum", name="spend"),
            Aggregate("amount", "count", name="n"),
        ),
    )


VIEW = make_view()


def record(key: str, spend: float | None, t_us: int, n: int | None = 1) -> OnlineRecord:
    return OnlineRecord(key, {"spend": spend, "n": n}, event_time_us=t_us, written_at_us=t_us + 5)


@pytest.fixture
def now() -> int:
    """The real present in UTC µs, less an hour (Redis expires by its own clock)."""
    return time.time_ns() // 1000 - 3600 * 1_000_000


@pytest.fixture
def prefix() -> str:
    return f"roost-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def store(redis_url: str, prefix: str) -> Iterator[RedisOnlineStore]:
    online = RedisOnlineStore(redis_url, prefix=prefix)
    yield online
    online.close()


@pytest.fixture
def client(redis_url: str) -> Iterator[Redis]:
    import redis

    raw = redis.Redis.from_url(redis_url)
    yield raw
    raw.close()


@pytest.mark.integration
def test_redis_read_after_write_returns_records_in_key_order(
    store: RedisOnlineStore, now: int
) -> None:
    written = store.write(VIEW, [record("[1]", 1.5, now), record("[2]", 2.5, now + 1)])

    found = store.read(VIEW, ["[2]", "[3]", "[1]"])

    assert written == 2
    assert found == [record("[2]", 2.5, now + 1), None, record("[1]", 1.5, now)]
    assert store.read(VIEW, []) == []


@pytest.mark.integration
def test_redis_write_older_record_never_overwrites_newer(store: RedisOnlineStore, now: int) -> None:
    store.write(VIEW, [record("[1]", 10.0, now + 100)])

    written = store.write(VIEW, [record("[1]", 1.0, now + 99)])

    assert written == 0
    assert store.read(VIEW, ["[1]"]) == [record("[1]", 10.0, now + 100)]


@pytest.mark.integration
def test_redis_write_equal_event_time_overwrites(store: RedisOnlineStore, now: int) -> None:
    store.write(VIEW, [record("[1]", 10.0, now)])

    written = store.write(VIEW, [record("[1]", 11.0, now)])

    assert written == 1
    assert store.read(VIEW, ["[1]"]) == [record("[1]", 11.0, now)]


@pytest.mark.integration
def test_redis_write_counts_only_records_written(store: RedisOnlineStore, now: int) -> None:
    store.write(VIEW, [record("[1]", 10.0, now), record("[2]", 20.0, now)])

    written = store.write(VIEW, [record("[1]", 12.0, now + 1), record("[2]", 0.0, now - 1)])

    assert written == 1
    assert store.read(VIEW, ["[1]", "[2]"]) == [
        record("[1]", 12.0, now + 1),
        record("[2]", 20.0, now),
    ]


@pytest.mark.integration
def test_redis_values_round_trip_none_nan_and_exact_floats(
    store: RedisOnlineStore, now: int
) -> None:
    awkward = [0.1 + 0.2, 1e-300, -0.0, 2.0**53 + 2, 123456.789012345678]
    records = [record(f"[{i}]", value, now, n=2**62) for i, value in enumerate(awkward)]
    records += [record("[none]", None, now, n=None), record("[nan]", float("nan"), now)]
    store.write(VIEW, records)

    found = store.read(VIEW, [r.key for r in records])

    assert [r.values["spend"] if r else "absent" for r in found] == [*awkward, None, None]
    assert found[0] == records[0]
    assert found[-2] == records[-2]


@pytest.mark.integration
def test_redis_write_sets_expiry_one_ttl_after_the_values_ttl(
    store: RedisOnlineStore, client: Redis, prefix: str, now: int
) -> None:
    view = make_view(ttl=timedelta(days=1))
    store.write(view, [record("[1]", 1.0, now)])

    key = f"{prefix}:spend:v1:[1]"
    pttl_ms = client.pttl(key)
    expires_at_ms = client.pexpiretime(key)

    assert 0 < pttl_ms <= 2 * DAY_US // 1000
    assert expires_at_ms == -(-(now + 2 * DAY_US) // 1000)
    assert client.hgetall(key)[b"event_time_us"] == str(now).encode()


@pytest.mark.integration
def test_redis_record_past_its_grace_period_is_gone(store: RedisOnlineStore, now: int) -> None:
    view = make_view(ttl=timedelta(days=1))

    store.write(
        view,
        [record("[old]", 1.0, now - 2 * DAY_US - 1), record("[expired]", 2.0, now - DAY_US - 1)],
    )

    old, expired = store.read(view, ["[old]", "[expired]"])
    assert old is None  # Redis dropped it at once
    assert expired == record("[expired]", 2.0, now - DAY_US - 1)  # expired, still readable


@pytest.mark.integration
def test_redis_delete_expired_removes_only_records_past_ttl(
    store: RedisOnlineStore, now: int
) -> None:
    view = make_view(ttl=timedelta(days=1))
    store.write(
        view,
        [
            record("[old]", 1.0, now - DAY_US - 1),
            record("[edge]", 2.0, now - DAY_US),
            record("[new]", 3.0, now),
        ],
    )

    deleted = store.delete_expired(view, now)

    assert deleted == 1
    assert [r is not None for r in store.read(view, ["[old]", "[edge]", "[new]"])] == [
        False,
        True,
        True,
    ]
    assert store.count(view) == 2


@pytest.mark.integration
def test_redis_count_counts_only_this_view_version_and_prefix(
    store: RedisOnlineStore, redis_url: str, prefix: str, now: int
) -> None:
    store.write(VIEW, [record(f"[{i}]", 1.0, now) for i in range(2500)])
    store.write(make_view(version=2), [record("[1]", 1.0, now)])
    other = RedisOnlineStore(redis_url, prefix=prefix + "-other")
    try:
        other.write(VIEW, [record("[1]", 1.0, now)])
        assert store.count(VIEW) == 2500
        assert store.count(make_view(version=2)) == 1
        assert other.count(VIEW) == 1
        assert store.read(make_view(version=2), ["[2]"]) == [None]
    finally:
        other.close()


@pytest.mark.integration
def test_redis_concurrent_writers_never_overwrite_newer(
    redis_url: str, prefix: str, now: int
) -> None:
    """Four stores racing on the same keys, newest-first and oldest-first: the newest wins."""
    stores = [RedisOnlineStore(redis_url, prefix=prefix) for _ in range(4)]
    keys = [f"[{k}]" for k in range(20)]

    def write(index: int) -> None:
        mine = list(range(index, 400, 4))
        for t in reversed(mine) if index % 2 else mine:
            stores[index].write(VIEW, [record(key, float(t), now + t) for key in keys])

    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(write, range(4)))
        found = stores[0].read(VIEW, keys)
    finally:
        for online in stores:
            online.close()
    assert [(r.event_time_us, r.values["spend"]) if r else None for r in found] == [
        (now + 399, 399.0)
    ] * 20


@pytest.mark.integration
def test_redis_malformed_entry_raises_naming_key(
    store: RedisOnlineStore, client: Redis, prefix: str
) -> None:
    client.hset(
        f"{prefix}:spend:v1:[1]",
        mapping={"values": "[1, 2]", "event_time_us": 1, "written_at_us": 1},
    )

    with pytest.raises(FeatureError, match=r"spend@1, key \[1\]: expected a JSON object of values"):
        store.read(VIEW, ["[1]"])


@pytest.mark.integration
def test_open_online_store_redis_url_opens_redis_hiding_password(
    redis_url: str, tmp_path: Path
) -> None:
    online = open_online_store(redis_url, default_path=tmp_path / "unused.db")
    try:
        assert isinstance(online, RedisOnlineStore)
        assert online.prefix == "roost:features"
        assert online.url.startswith("redis")
    finally:
        online.close()
    assert not (tmp_path / "unused.db").exists()


@pytest.mark.integration
def test_redis_unreachable_server_raises_naming_url_without_password(tmp_path: Path) -> None:
    pytest.importorskip("redis")
    url = "redis://roost:s3cret@127.0.0.1:1/0"  # nothing listens on port 1

    with pytest.raises(
        FeatureError, match=r"redis://roost:\*\*\*@127\.0\.0\.1:1/0: cannot connect"
    ) as info:
        open_online_store(url, default_path=tmp_path / "unused.db")
    assert "s3cret" not in str(info.value)


@pytest.mark.integration
def test_redis_closed_store_raises(store: RedisOnlineStore) -> None:
    store.close()
    store.close()  # idempotent

    with pytest.raises(FeatureError, match="is closed"):
        store.read(VIEW, ["[1]"])
    with pytest.raises(FeatureError, match="is closed"):
        store.count(VIEW)


@pytest.mark.parametrize("prefix", ["", "has space", None], ids=["empty", "space", "none"])
def test_redis_store_bad_prefix_raises_config_error(prefix: object) -> None:
    with pytest.raises(ConfigError, match="prefix expected a non-empty string"):
        RedisOnlineStore("redis://127.0.0.1:1/0", prefix=prefix)  # type: ignore[arg-type]


def test_redis_store_malformed_url_raises_config_error() -> None:
    pytest.importorskip("redis")
    with pytest.raises(ConfigError, match=r"online store URL 'redis://:\*\*\*@cache:port/0'"):
        RedisOnlineStore("redis://:s3cret@cache:port/0")
