"""The SQLite online store, and open_online_store's URL forms (unit tests, tmp_path files)."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

from roost.config import mask_password
from roost.errors import ConfigError, FeatureError
from roost.features._sqlite_online import SqliteOnlineStore
from roost.features.aggregates import Aggregate, AggregateView
from roost.features.entities import Entity, Events
from roost.features.online import OnlineRecord, open_online_store

DAY_US = 86_400 * 1_000_000
T0 = 1_700_000_000 * 1_000_000  # 2023-11-14, UTC µs

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
def store(tmp_path: Path) -> Iterator[SqliteOnlineStore]:
    online = SqliteOnlineStore(tmp_path / "online.db")
    yield online
    online.close()


def test_read_after_write_returns_records_in_key_order(store: SqliteOnlineStore) -> None:
    written = store.write(VIEW, [record("[1]", 1.5, T0), record("[2]", 2.5, T0 + 1)])

    found = store.read(VIEW, ["[2]", "[3]", "[1]", "[2]"])

    assert written == 2
    assert found == [
        record("[2]", 2.5, T0 + 1),
        None,
        record("[1]", 1.5, T0),
        record("[2]", 2.5, T0 + 1),
    ]


def test_read_no_keys_returns_empty_list(store: SqliteOnlineStore) -> None:
    assert store.read(VIEW, []) == []


def test_read_many_keys_chunks_and_keeps_order(store: SqliteOnlineStore) -> None:
    """More keys than one IN (...) takes (500) are read in chunks, order kept."""
    store.write(VIEW, [record(f"[{i}]", float(i), T0) for i in range(0, 1200, 2)])
    keys = [f"[{i}]" for i in reversed(range(1200))]

    found = store.read(VIEW, keys)

    assert [r.values["spend"] if r else None for r in found] == [
        float(i) if i % 2 == 0 else None for i in reversed(range(1200))
    ]


def test_write_older_record_never_overwrites_newer(store: SqliteOnlineStore) -> None:
    store.write(VIEW, [record("[1]", 10.0, T0 + 100)])

    written = store.write(VIEW, [record("[1]", 1.0, T0 + 99)])

    assert written == 0
    assert store.read(VIEW, ["[1]"]) == [record("[1]", 10.0, T0 + 100)]


def test_write_equal_event_time_overwrites(store: SqliteOnlineStore) -> None:
    store.write(VIEW, [record("[1]", 10.0, T0)])

    written = store.write(VIEW, [record("[1]", 11.0, T0)])

    assert written == 1
    assert store.read(VIEW, ["[1]"]) == [record("[1]", 11.0, T0)]


def test_write_newer_record_overwrites_and_counts_only_written(store: SqliteOnlineStore) -> None:
    store.write(VIEW, [record("[1]", 10.0, T0), record("[2]", 20.0, T0)])

    written = store.write(VIEW, [record("[1]", 12.0, T0 + 1), record("[2]", 0.0, T0 - 1)])

    assert written == 1
    assert store.read(VIEW, ["[1]", "[2]"]) == [
        record("[1]", 12.0, T0 + 1),
        record("[2]", 20.0, T0),
    ]


def test_write_same_key_twice_in_one_call_keeps_newest(store: SqliteOnlineStore) -> None:
    written = store.write(VIEW, [record("[1]", 2.0, T0 + 2), record("[1]", 1.0, T0 + 1)])

    assert written == 1
    assert store.read(VIEW, ["[1]"]) == [record("[1]", 2.0, T0 + 2)]


def test_write_values_round_trip_none_nan_and_exact_floats(store: SqliteOnlineStore) -> None:
    awkward = [0.1 + 0.2, 1e-300, -0.0, 2.0**53 + 2, 123456.789012345678]
    records = [record(f"[{i}]", value, T0, n=2**62) for i, value in enumerate(awkward)]
    records += [record("[none]", None, T0, n=None), record("[nan]", float("nan"), T0)]
    store.write(VIEW, records)

    found = store.read(VIEW, [r.key for r in records])

    assert [r.values["spend"] if r else "absent" for r in found] == [*awkward, None, None]
    assert found[0] is not None
    assert found[0].values["n"] == 2**62
    assert found[-2] is not None
    assert found[-2].values == {"spend": None, "n": None}


def test_write_infinite_value_raises_naming_output(store: SqliteOnlineStore) -> None:
    with pytest.raises(FeatureError, match=r"spend@1, key \[1\]: output 'spend' expected a finite"):
        store.write(VIEW, [record("[1]", float("inf"), T0)])
    assert store.count(VIEW) == 0


def test_write_values_not_matching_outputs_raises_naming_both(store: SqliteOnlineStore) -> None:
    bad = OnlineRecord("[1]", {"spend": 1.0, "other": 2}, T0, T0)

    with pytest.raises(
        FeatureError, match=r"expected values for \['spend', 'n'\], got \['other', 'spend'\]"
    ):
        store.write(VIEW, [record("[0]", 1.0, T0), bad])
    assert store.count(VIEW) == 0  # nothing of the call was written


def test_read_non_string_key_raises(store: SqliteOnlineStore) -> None:
    with pytest.raises(FeatureError, match=r"got 42 \(position 1\)"):
        store.read(VIEW, ["[1]", 42])  # type: ignore[list-item]


def test_versions_keep_separate_tables(store: SqliteOnlineStore) -> None:
    store.write(VIEW, [record("[1]", 1.0, T0)])

    assert store.read(make_view(version=2), ["[1]"]) == [None]
    assert store.count(make_view(version=2)) == 0


def test_delete_expired_removes_only_records_past_ttl(store: SqliteOnlineStore) -> None:
    view = make_view(ttl=timedelta(days=1))
    now = T0 + 10 * DAY_US
    store.write(
        view,
        [
            record("[old]", 1.0, now - DAY_US - 1),  # TTL ended 1 µs ago
            record("[edge]", 2.0, now - DAY_US),  # TTL ends exactly now: still valid
            record("[new]", 3.0, now),
        ],
    )
    assert store.read(view, ["[old]"])[0] is not None  # expired, yet readable until deleted

    deleted = store.delete_expired(view, now)

    assert deleted == 1
    assert [r is not None for r in store.read(view, ["[old]", "[edge]", "[new]"])] == [
        False,
        True,
        True,
    ]
    assert store.count(view) == 2


def test_delete_expired_bad_time_raises(store: SqliteOnlineStore) -> None:
    with pytest.raises(FeatureError, match="now_us expected an int"):
        store.delete_expired(VIEW, 1.5)  # type: ignore[arg-type]


def test_count_counts_records_of_the_view(store: SqliteOnlineStore) -> None:
    assert store.count(VIEW) == 0
    store.write(VIEW, [record(f"[{i}]", 1.0, T0) for i in range(7)])
    store.write(VIEW, [record("[0]", 2.0, T0 + 1)])

    assert store.count(VIEW) == 7


def test_two_stores_on_one_file_see_each_others_writes(tmp_path: Path) -> None:
    first = SqliteOnlineStore(tmp_path / "online.db")
    second = SqliteOnlineStore(tmp_path / "online.db")
    try:
        first.write(VIEW, [record("[1]", 1.0, T0)])
        assert second.read(VIEW, ["[1]"]) == [record("[1]", 1.0, T0)]
        assert second.write(VIEW, [record("[1]", 0.5, T0 - 1)]) == 0
        second.write(VIEW, [record("[2]", 2.0, T0)])
        assert first.count(VIEW) == 2
        (mode,) = sqlite3_pragma(tmp_path / "online.db", "journal_mode")
        assert mode == "wal"
    finally:
        first.close()
        second.close()


def sqlite3_pragma(path: Path, name: str) -> tuple[str]:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(f"PRAGMA {name}").fetchone()  # type: ignore[no-any-return]
    finally:
        connection.close()


def test_concurrent_writers_keep_newest_record(tmp_path: Path) -> None:
    """Two stores (as two processes would) racing on the same keys: the newest time wins."""
    stores = [SqliteOnlineStore(tmp_path / "online.db") for _ in range(2)]
    times = list(range(200))

    def write(index: int) -> None:
        mine = times[index::2]
        for t in reversed(mine) if index else mine:
            stores[index].write(VIEW, [record(f"[{k}]", float(t), T0 + t) for k in range(5)])

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(write, [0, 1]))
        found = stores[0].read(VIEW, [f"[{k}]" for k in range(5)])
    finally:
        for online in stores:
            online.close()
    assert all(
        r is not None and r.event_time_us == T0 + 199 and r.values["spend"] == 199.0 for r in found
    )


def test_threads_share_one_store_for_reads(store: SqliteOnlineStore) -> None:
    store.write(VIEW, [record(f"[{i}]", float(i), T0) for i in range(50)])

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: store.read(VIEW, [f"[{i}]"])[0], range(50)))

    assert [r.values["spend"] if r else None for r in results] == [float(i) for i in range(50)]


def test_closed_store_raises(tmp_path: Path) -> None:
    online = SqliteOnlineStore(tmp_path / "online.db")
    online.close()
    online.close()  # idempotent

    with pytest.raises(FeatureError, match=r"online\.db is closed"):
        online.read(VIEW, ["[1]"])


def test_store_on_non_database_file_raises_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("not a database, just some notes " * 100)

    with pytest.raises(FeatureError, match=r"online store sqlite:///.*notes\.db: cannot open"):
        SqliteOnlineStore(path)


def test_online_record_bad_fields_raise() -> None:
    with pytest.raises(FeatureError, match="key expected a non-empty string"):
        OnlineRecord("", {}, T0, T0)
    with pytest.raises(FeatureError, match=r"event_time_us expected an int \(UTC µs\), got 1.5"):
        OnlineRecord("[1]", {}, 1.5, T0)  # type: ignore[arg-type]
    with pytest.raises(FeatureError, match="written_at_us expected an int"):
        OnlineRecord("[1]", {}, T0, True)
    with pytest.raises(FeatureError, match="values expected a dict, got list"):
        OnlineRecord("[1]", [], T0, T0)  # type: ignore[arg-type]


# ------------------------------------------------------------------ open_online_store


def test_open_online_store_none_uses_default_path_creating_folders(tmp_path: Path) -> None:
    default = tmp_path / "home" / "features" / "online.db"

    online = open_online_store(None, default_path=default)
    try:
        online.write(VIEW, [record("[1]", 1.0, T0)])
        assert online.url == f"sqlite:///{default}"
    finally:
        online.close()
    assert default.is_file()


def test_open_online_store_sqlite_url_opens_that_file(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.db"

    online = open_online_store(f"sqlite:///{path}", default_path=tmp_path / "unused.db")
    try:
        assert isinstance(online, SqliteOnlineStore)
        assert online.path == path
    finally:
        online.close()
    assert path.is_file()
    assert not (tmp_path / "unused.db").exists()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://roost:s3cret@db/features",
        "memcached://cache:11211",
        "online.db",
        "sqlite:///",
        "",
    ],
    ids=["postgres", "memcached", "bare-path", "empty-sqlite", "empty"],
)
def test_open_online_store_unknown_url_raises_config_error(tmp_path: Path, url: str) -> None:
    with pytest.raises(
        ConfigError, match="ROOST_FEATURES_URL: expected sqlite:///PATH, redis://"
    ) as info:
        open_online_store(url, default_path=tmp_path / "online.db")
    assert "s3cret" not in str(info.value)


def test_open_online_store_redis_without_package_hints_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # import redis -> ImportError

    with pytest.raises(FeatureError, match=r"pip install 'roost\[redis\]'") as info:
        open_online_store("redis://user:s3cret@localhost:6379/0", default_path=tmp_path / "x.db")
    assert "redis://user:***@localhost:6379/0" in str(info.value)
    assert "s3cret" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://roost:s3cret@cache:6379/0", "redis://roost:***@cache:6379/0"),
        ("rediss://:s3cret@cache:6380/1", "rediss://:***@cache:6380/1"),
        ("redis://cache:6379/0?password=s3cret", "redis://cache:6379/0?password=***"),
        ("redis://cache:6379/0", "redis://cache:6379/0"),
        ("sqlite:////var/lib/a:b@c.db", "sqlite:////var/lib/a:b@c.db"),
    ],
    ids=["user-password", "password-only", "query", "none", "sqlite-path"],
)
def test_mask_password_masks_redis_passwords_only(url: str, shown: str) -> None:
    assert mask_password(url) == shown
