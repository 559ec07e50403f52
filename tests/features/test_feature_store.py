"""FeatureStore end to end in one process: training frames, materialization, online reads.

The feature code lives in a module written into tmp_path and imported by a unique name,
as a user's would (services must be importable). Times are driven by a FakeClock whose
epoch is 2024-01-01T00:00:00Z; every store file sits under tmp_path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest

from roost.errors import FeatureError, FeatureVersionError
from roost.features import FeatureCache, FeatureRow, FeatureStore, OnlineRecord
from roost.testing import FakeClock

T0_S = 1_704_067_200  # 2024-01-01T00:00:00Z: the fake clock's "now"
S = 1_000_000
T = T0_S * S
MINUTE = 60 * S
HOUR = 60 * MINUTE
TTL = HOUR  # every view below: window 2 h, ttl 1 h

FEATURES = '''
"""Feature code for test_feature_store (written into tmp_path by the test)."""

from __future__ import annotations

from datetime import timedelta

from roost.features import (
    Aggregate, AggregateView, Entity, Events, FeatureService, Request, StandardScaler,
    Vocabulary, transform,
)

FEE = 0.25
SPEND_WINDOW = timedelta(hours=2)

customer = Entity("customer", keys={"customer_id": "int64"})
orders = Events("orders", entity=customer, columns={"amount": "float64", "channel": "string"})

spend = AggregateView(
    "spend", version=1, events=orders, window=SPEND_WINDOW, ttl=timedelta(hours=1),
    aggregates=[Aggregate("amount", "sum", name="spend_2h"),
                Aggregate("amount", "count", name="orders_2h")],
)
spend_or_zero = AggregateView(
    "spend_or_zero", version=1, events=orders, window=timedelta(hours=2),
    ttl=timedelta(hours=1),
    aggregates=[Aggregate("amount", "sum", name="total_2h"),
                Aggregate("amount", "mean", name="avg_2h")],
    defaults={"total_2h": 0.0, "avg_2h": -1.0},
)
recent = AggregateView(
    "recent", version=1, events=orders, window=timedelta(hours=2), ttl=timedelta(hours=1),
    aggregates=[Aggregate("amount", "max", name="max_2h")], compute_on_miss=True,
)


@transform(version=1, inputs={"amount": "float64"}, outputs={"with_fee": "float64"})
def with_fee(amount):
    return amount * (1.0 + FEE)


@transform(version=1, inputs={"with_fee": "float64", "spend_2h": "float64"},
           outputs={"share": "float64"})
def share(with_fee, spend_2h):
    return with_fee / ((spend_2h or 0.0) + 1.0)


shop = FeatureService(
    "shop", entity=customer, features=[spend, with_fee, share, Request("channel", "string")]
)
shop_model = FeatureService(
    "shop_model", entity=customer,
    features=[spend_or_zero, with_fee, Request("channel", "string")],
    encoders=[StandardScaler("with_fee"), Vocabulary("channel")],
)
shop_live = FeatureService("shop_live", entity=customer, features=[recent, with_fee])
'''


def at(t_us: int) -> pd.Timestamp:
    """A UTC timestamp from epoch microseconds, exactly."""
    return pd.Timestamp(t_us, unit="us", tz="UTC")


def orders_frame(*rows: tuple[int, int, float, str]) -> pd.DataFrame:
    """(customer_id, time_us, amount, channel) rows as an orders events frame."""
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "ts": [at(r[1]) for r in rows],
            "amount": [r[2] for r in rows],
            "channel": [r[3] for r in rows],
        }
    )


def entity_frame(*rows: tuple[int, int, float, str], **extra: list[Any]) -> pd.DataFrame:
    """(customer_id, time_us, amount, channel) training rows, plus extra columns."""
    frame = orders_frame(*rows)
    for name, values in extra.items():
        frame[name] = values
    return frame


def requests_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The raw requests (keys and request fields) of a training frame's rows."""
    return [
        {"customer_id": int(r["customer_id"]), "amount": r["amount"], "channel": r["channel"]}
        for r in frame.to_dict(orient="records")
    ]


def plain(value: Any) -> Any:
    """A frame cell as the online path gives it (NaN is None, numpy scalars unwrapped)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)
    return bool(a == b)


# ------------------------------------------------------------------ fixtures


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(epoch=T0_S)


@pytest.fixture
def shop(load_features: Callable[[str], ModuleType]) -> ModuleType:
    return load_features(FEATURES)


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[FeatureStore]:
    with FeatureStore(tmp_path / "roost-home" / "features", clock=clock) as opened:
        yield opened


# ------------------------------------------------------------------ training frames


@pytest.mark.parametrize(
    ("offset_us", "expected"),
    [(-1, 1.0), (0, 3.0), (1, 103.0)],
    ids=["row-1us-before", "row-at-event", "row-1us-after"],
)
def test_training_frame_counts_events_up_to_and_including_row_time(
    store: FeatureStore, shop: ModuleType, offset_us: int, expected: float
) -> None:
    """An event at the row's time counts; one 1 µs after the row never does."""
    store.ingest(
        shop.orders,
        orders_frame(
            (1, T - 10 * MINUTE, 1.0, "web"), (1, T, 2.0, "web"), (1, T + 1, 100.0, "web")
        ),
    )
    frame = store.training_frame(shop.shop, entity_frame((1, T + offset_us, 5.0, "web")))
    assert frame.loc[0, "spend_2h"] == expected


def test_training_frame_statuses_adds_one_status_column_per_feature(
    store: FeatureStore, shop: ModuleType
) -> None:
    store.ingest(shop.orders, orders_frame((1, T - MINUTE, 4.0, "web")))
    rows = entity_frame((1, T, 1.0, "web"), (2, T, 1.0, "app"))
    frame = store.training_frame(shop.shop, rows, statuses=True)
    status_columns = [c for c in frame.columns if c.endswith("__status")]
    assert status_columns == [f"{n}__status" for n in shop.shop.column_names]
    assert frame["spend_2h__status"].tolist() == ["present", "missing"]
    assert frame["orders_2h__status"].tolist() == ["present", "missing"]
    assert frame["with_fee__status"].tolist() == ["present", "present"]
    assert frame["channel__status"].tolist() == ["present", "present"]
    assert "spend_2h__status" not in store.training_frame(shop.shop, rows).columns


def test_training_frame_ttl_boundary_turns_present_into_expired(
    store: FeatureStore, shop: ModuleType
) -> None:
    """Newest event ttl before the row: expired (window values kept); 1 µs less: present."""
    store.ingest(shop.orders, orders_frame((1, T, 4.0, "web")))
    rows = entity_frame((1, T + TTL - 1, 1.0, "web"), (1, T + TTL, 1.0, "web"))
    frame = store.training_frame(shop.shop, rows, statuses=True)
    assert frame["spend_2h__status"].tolist() == ["present", "expired"]
    assert frame["spend_2h"].tolist() == [4.0, 4.0]  # still inside the 2 h window


def test_training_frame_defaults_stand_in_for_expired_and_missing(
    store: FeatureStore, shop: ModuleType
) -> None:
    store.ingest(shop.orders, orders_frame((1, T, 4.0, "web")))
    rows = entity_frame((1, T + TTL - 1, 1.0, "web"), (1, T + TTL, 1.0, "web"), (9, T, 1.0, "web"))
    frame = store.training_frame(shop.shop_model, rows, statuses=True)
    assert frame["total_2h__status"].tolist() == ["present", "defaulted", "defaulted"]
    assert frame["total_2h"].tolist() == [4.0, 0.0, 0.0]
    assert frame["avg_2h"].tolist() == [4.0, -1.0, -1.0]


def test_training_frame_keeps_extra_columns_and_row_order(
    store: FeatureStore, shop: ModuleType
) -> None:
    """Labels stay, rows stay in the given (unsorted) order, features follow the columns."""
    store.ingest(
        shop.orders,
        orders_frame((1, T - HOUR, 1.0, "web"), (1, T, 2.0, "web"), (2, T - MINUTE, 7.0, "app")),
    )
    rows = entity_frame(
        (1, T, 1.0, "web"),
        (2, T - 30 * MINUTE, 1.0, "app"),
        (1, T - 30 * MINUTE, 1.0, "web"),
        (2, T, 1.0, "app"),
        label=[1, 0, 1, 0],
        note=["a", "b", "c", "d"],
    )
    rows.index = [10, 3, 7, 1]  # a filtered frame's index
    frame = store.training_frame(shop.shop, rows)
    kept = ["customer_id", "ts", "amount", "label", "note"]
    assert list(frame.columns) == [*kept, "spend_2h", "orders_2h", "with_fee", "share", "channel"]
    assert frame["label"].tolist() == [1, 0, 1, 0]
    assert frame["note"].tolist() == ["a", "b", "c", "d"]
    assert frame["customer_id"].tolist() == [1, 2, 1, 2]
    # customer 2's only event comes after its first row: missing there
    assert [plain(v) for v in frame["spend_2h"]] == [3.0, None, 1.0, 7.0]
    assert frame["ts"].tolist() == rows["ts"].tolist()


def test_training_frame_duplicate_timestamps_give_identical_rows(
    store: FeatureStore, shop: ModuleType
) -> None:
    store.ingest(
        shop.orders, orders_frame((1, T - MINUTE, 2.0, "web"), (2, T - MINUTE, 5.0, "web"))
    )
    rows = entity_frame((1, T, 1.0, "web"), (2, T, 1.0, "web"), (1, T, 1.0, "web"))
    frame = store.training_frame(shop.shop, rows)
    assert frame["spend_2h"].tolist() == [2.0, 5.0, 2.0]
    assert frame.iloc[0].tolist() == frame.iloc[2].tolist()


def test_training_frame_custom_timestamp_column_is_used(
    store: FeatureStore, shop: ModuleType
) -> None:
    store.ingest(shop.orders, orders_frame((1, T, 2.0, "web")))
    rows = entity_frame((1, T, 1.0, "web")).rename(columns={"ts": "decided_at"})
    rows["decided_at"] = [at(T - 1)]
    frame = store.training_frame(shop.shop, rows, timestamp="decided_at", statuses=True)
    assert frame.loc[0, "spend_2h__status"] == "missing"


def test_training_frame_empty_entity_df_gives_empty_frame_with_features(
    store: FeatureStore, shop: ModuleType
) -> None:
    rows = entity_frame((1, T, 1.0, "web")).iloc[0:0]
    frame = store.training_frame(shop.shop, rows)
    assert len(frame) == 0
    assert set(shop.shop.column_names) <= set(frame.columns)


@pytest.mark.parametrize("column", ["amount", "customer_id", "ts"])
def test_training_frame_missing_needed_column_raises_naming_it(
    store: FeatureStore, shop: ModuleType, column: str
) -> None:
    rows = entity_frame((1, T, 1.0, "web")).drop(columns=[column])
    with pytest.raises(FeatureError, match=rf"lacks columns \['{column}'\]"):
        store.training_frame(shop.shop, rows)


def test_training_frame_existing_feature_column_raises(
    store: FeatureStore, shop: ModuleType
) -> None:
    rows = entity_frame((1, T, 1.0, "web"), spend_2h=[3.0])
    with pytest.raises(FeatureError, match=r"already has feature columns \['spend_2h'\]"):
        store.training_frame(shop.shop, rows)


def test_training_frame_bad_timestamp_raises_naming_column(
    store: FeatureStore, shop: ModuleType
) -> None:
    rows = entity_frame((1, T, 1.0, "web"))
    rows["ts"] = ["not a time"]
    with pytest.raises(FeatureError, match="'ts'"):
        store.training_frame(shop.shop, rows)


# ------------------------------------------------------------------ apply / versions


def test_apply_records_new_refs_once(store: FeatureStore, shop: ModuleType) -> None:
    first = store.apply(shop.shop)
    assert set(first) == {"spend@1", "with_fee@1", "share@1", "channel@1", "shop@1"}
    assert store.apply(shop.shop) == []
    entry = store.catalog.get("shop", 1)
    assert entry.module == shop.__name__
    assert entry.file is not None
    assert Path(entry.file).resolve() == Path(str(shop.__file__)).resolve()


def test_apply_same_code_from_another_module_is_accepted(
    store: FeatureStore, load_features: Callable[..., ModuleType]
) -> None:
    store.apply(load_features(FEATURES).shop)
    assert store.apply(load_features(FEATURES).shop) == []


def test_apply_changed_constant_under_same_version_raises(
    store: FeatureStore, load_features: Callable[..., ModuleType]
) -> None:
    store.apply(load_features(FEATURES).shop)
    changed = load_features(FEATURES.replace("FEE = 0.25", "FEE = 0.3"))
    with pytest.raises(FeatureVersionError, match=r"with_fee@1.*version 2"):
        store.apply(changed.shop)


@pytest.mark.parametrize("call", ["training_frame", "materialize"])
def test_store_paths_apply_and_refuse_changed_definitions(
    store: FeatureStore, load_features: Callable[..., ModuleType], call: str
) -> None:
    """training_frame and materialize apply the service first: changed code is refused."""
    original = load_features(FEATURES)
    store.ingest(original.orders, orders_frame((1, T, 2.0, "web")))
    store.training_frame(original.shop, entity_frame((1, T, 1.0, "web")))
    changed = load_features(FEATURES.replace("hours=2)\n", "hours=3)\n", 1))
    assert changed.spend.window_us == 3 * HOUR
    rows = entity_frame((1, T, 1.0, "web"))
    paths: dict[str, Callable[[], object]] = {
        "training_frame": lambda: store.training_frame(changed.shop, rows),
        "materialize": lambda: store.materialize(changed.shop),
    }
    with pytest.raises(FeatureVersionError, match="spend@1"):
        paths[call]()


# ------------------------------------------------------------------ materialize


def test_materialize_writes_only_entities_with_events_by_then(
    store: FeatureStore, shop: ModuleType
) -> None:
    store.ingest(
        shop.orders,
        orders_frame(
            (1, T - 10 * MINUTE, 3.0, "web"),
            (2, T - 90 * MINUTE, 4.0, "app"),
            (3, T + 1, 5.0, "web"),  # after the materialization time
        ),
    )
    [report] = store.materialize(shop.shop)
    assert (report.view, report.entities, report.written, report.at_us) == ("spend@1", 2, 2, T)
    assert report.seconds >= 0
    one, two, three = store.online.read(shop.spend, ["[1]", "[2]", "[3]"])
    assert three is None
    assert one is not None
    assert two is not None
    assert (one.values, one.event_time_us, one.written_at_us) == (
        {"spend_2h": 3.0, "orders_2h": 1},
        T - 10 * MINUTE,
        T,
    )
    assert two.values == {"spend_2h": 4.0, "orders_2h": 1}
    assert store.online.count(shop.spend) == 2


def test_materialize_one_report_per_view(store: FeatureStore, shop: ModuleType) -> None:
    store.ingest(shop.orders, orders_frame((1, T - MINUTE, 3.0, "web")))
    assert [r.view for r in store.materialize(shop.shop_model)] == ["spend_or_zero@1"]
    assert store.materialize(shop.shop_live, at_us=T - HOUR)[0].entities == 0


def test_materialize_earlier_time_never_overwrites_newer_record(
    store: FeatureStore, shop: ModuleType
) -> None:
    store.ingest(
        shop.orders,
        orders_frame((1, T - 30 * MINUTE, 5.0, "web"), (1, T + 30 * MINUTE, 7.0, "web")),
    )
    [later] = store.materialize(shop.shop, at_us=T + HOUR)
    [earlier] = store.materialize(shop.shop, at_us=T)
    assert (later.written, earlier.written) == (1, 0)
    [record] = store.online.read(shop.spend, ["[1]"])
    assert record == OnlineRecord(
        "[1]", {"spend_2h": 12.0, "orders_2h": 2}, T + 30 * MINUTE, T + HOUR
    )


def test_materialize_progress_reports_totals(store: FeatureStore, shop: ModuleType) -> None:
    store.ingest(
        shop.orders,
        orders_frame((1, T - MINUTE, 1.0, "web"), (2, T - MINUTE, 1.0, "web"), (3, T, 1.0, "web")),
    )
    calls: list[tuple[str, int, int]] = []
    store.materialize(shop.shop, progress=lambda ref, done, total: calls.append((ref, done, total)))
    assert calls == [("spend@1", 0, 3), ("spend@1", 3, 3)]


def test_materialize_keys_writes_only_those(store: FeatureStore, shop: ModuleType) -> None:
    store.ingest(
        shop.orders, orders_frame((1, T - MINUTE, 1.0, "web"), (2, T - MINUTE, 2.0, "web"))
    )
    [report] = store.materialize(shop.shop, keys=["[2]"])
    assert report.written == 1
    assert store.online.read(shop.spend, ["[1]"]) == [None]


def test_materialize_keys_without_events_are_not_counted_as_entities(
    store: FeatureStore, shop: ModuleType
) -> None:
    store.ingest(shop.orders, orders_frame((1, T - MINUTE, 1.0, "web")))
    [report] = store.materialize(shop.shop, keys=["[1]", "[99]"])
    assert (report.entities, report.written) == (1, 1)


# ------------------------------------------------------------------ online reads


def _one(store: FeatureStore, service: Any, **row: Any) -> FeatureRow:
    [found] = store.online_features(service, [row])
    return found


def test_online_features_present_after_materialize_from_store(
    store: FeatureStore, shop: ModuleType
) -> None:
    store.ingest(shop.orders, orders_frame((1, T - MINUTE, 3.0, "web")))
    store.materialize(shop.shop)
    row = _one(store, shop.shop, customer_id=1, amount=2.0, channel="app")
    assert row.values == {
        "spend_2h": 3.0,
        "orders_2h": 1,
        "with_fee": 2.5,
        "share": 2.5 / 4.0,
        "channel": "app",
    }
    assert set(row.statuses.values()) == {"present"}
    assert row.origins == {"spend": "store"}


def test_online_features_never_materialized_is_missing(
    store: FeatureStore, shop: ModuleType
) -> None:
    store.ingest(shop.orders, orders_frame((1, T - MINUTE, 3.0, "web")))
    row = _one(store, shop.shop, customer_id=1, amount=2.0, channel="app")
    assert (row.values["spend_2h"], row.values["orders_2h"]) == (None, None)
    assert row.statuses["spend_2h"] == "missing"
    assert row.values["share"] == 2.5  # the transform saw spend_2h as None
    assert row.origins == {"spend": "store"}


def test_online_features_expired_after_clock_passes_ttl(
    store: FeatureStore, shop: ModuleType, clock: FakeClock
) -> None:
    store.ingest(shop.orders, orders_frame((1, T, 3.0, "web")))
    store.materialize(shop.shop)
    before = _one(store, shop.shop, customer_id=1, amount=1.0, channel="w")
    assert before.statuses["spend_2h"] == "present"
    clock.advance(TTL / S)
    row = _one(store, shop.shop, customer_id=1, amount=1.0, channel="w")
    assert row.statuses["spend_2h"] == "expired"
    assert row.values["spend_2h"] == 3.0


def test_online_features_defaults_for_missing_and_expired(
    store: FeatureStore, shop: ModuleType, clock: FakeClock
) -> None:
    store.ingest(shop.orders, orders_frame((1, T, 3.0, "web")))
    store.materialize(shop.shop_model)
    rows = [
        {"customer_id": 1, "amount": 1.0, "channel": "web"},
        {"customer_id": 2, "amount": 1.0, "channel": "web"},
    ]
    fresh, never = store.online_features(shop.shop_model, rows)
    assert (fresh.values["total_2h"], fresh.statuses["total_2h"]) == (3.0, "present")
    assert (never.values["total_2h"], never.values["avg_2h"]) == (0.0, -1.0)
    assert never.statuses["avg_2h"] == "defaulted"
    clock.advance(TTL / S + 1)
    stale, _ = store.online_features(shop.shop_model, rows)
    assert (stale.values["total_2h"], stale.statuses["total_2h"]) == (0.0, "defaulted")


def test_online_features_second_read_hits_the_cache(store: FeatureStore, shop: ModuleType) -> None:
    store.ingest(shop.orders, orders_frame((1, T - MINUTE, 3.0, "web")))
    store.materialize(shop.shop)
    first = _one(store, shop.shop, customer_id=1, amount=1.0, channel="web")
    hits = store.cache.hits
    second = _one(store, shop.shop, customer_id=1, amount=1.0, channel="web")
    assert (first.origins, second.origins) == ({"spend": "store"}, {"spend": "cache"})
    assert store.cache.hits == hits + 1
    assert second.values == first.values
    assert second.statuses == first.statuses


def test_online_features_disabled_cache_always_reads_store(
    tmp_path: Path, clock: FakeClock, shop: ModuleType
) -> None:
    with FeatureStore(tmp_path / "f", cache=FeatureCache(max_entries=0), clock=clock) as store:
        store.ingest(shop.orders, orders_frame((1, T - MINUTE, 3.0, "web")))
        store.materialize(shop.shop)
        origins = [
            _one(store, shop.shop, customer_id=1, amount=1.0, channel="w").origins for _ in range(3)
        ]
        assert origins == [{"spend": "store"}] * 3
        assert len(store.cache) == 0


def test_online_features_materialize_invalidates_cached_value(
    store: FeatureStore, shop: ModuleType, clock: FakeClock
) -> None:
    store.ingest(shop.orders, orders_frame((1, T - MINUTE, 3.0, "web")))
    store.materialize(shop.shop)
    _one(store, shop.shop, customer_id=1, amount=1.0, channel="w")
    store.ingest(shop.orders, orders_frame((1, T, 4.0, "web")))
    store.materialize(shop.shop)
    row = _one(store, shop.shop, customer_id=1, amount=1.0, channel="w")
    assert (row.values["spend_2h"], row.origins) == (7.0, {"spend": "store"})


def test_online_features_compute_on_miss_computes_and_writes_back(
    store: FeatureStore, shop: ModuleType
) -> None:
    store.ingest(
        shop.orders, orders_frame((1, T - 90 * MINUTE, 9.0, "web"), (1, T - MINUTE, 3.0, "web"))
    )
    assert store.online.read(shop.recent, ["[1]"]) == [None]
    reads = [_one(store, shop.shop_live, customer_id=1, amount=2.0) for _ in range(3)]
    assert reads[0].origins["recent"] == "computed"
    assert {r.origins["recent"] for r in reads[1:]} <= {"store", "cache"}
    assert all(r.values == {"max_2h": 9.0, "with_fee": 2.5} for r in reads)
    assert all(r.statuses["max_2h"] == "present" for r in reads)
    [record] = store.online.read(shop.recent, ["[1]"])
    assert record == OnlineRecord("[1]", {"max_2h": 9.0}, T - MINUTE, T)


def test_online_features_compute_on_miss_then_store_without_cache(
    tmp_path: Path, clock: FakeClock, shop: ModuleType
) -> None:
    """With the cache off, the written-back value is what the next read finds."""
    with FeatureStore(tmp_path / "f", cache=FeatureCache(max_entries=0), clock=clock) as store:
        store.ingest(shop.orders, orders_frame((1, T - MINUTE, 3.0, "web")))
        reads = [_one(store, shop.shop_live, customer_id=1, amount=2.0) for _ in range(2)]
        assert [r.origins["recent"] for r in reads] == ["computed", "store"]
        assert reads[0].values == reads[1].values == {"max_2h": 3.0, "with_fee": 2.5}


def test_online_features_compute_on_miss_without_events_is_missing(
    store: FeatureStore, shop: ModuleType
) -> None:
    store.ingest(shop.orders, orders_frame((1, T - MINUTE, 3.0, "web")))
    row = _one(store, shop.shop_live, customer_id=5, amount=2.0)
    assert (row.values["max_2h"], row.statuses["max_2h"]) == (None, "missing")
    assert row.origins == {"recent": "computed"}
    assert store.online.read(shop.recent, ["[5]"]) == [None]


def test_online_features_compute_on_miss_recomputes_expired_record(
    store: FeatureStore, shop: ModuleType, clock: FakeClock
) -> None:
    store.ingest(shop.orders, orders_frame((1, T - MINUTE, 3.0, "web")))
    store.materialize(shop.shop_live)
    store.ingest(shop.orders, orders_frame((1, T + 2 * HOUR, 8.0, "web")))
    clock.advance(2 * HOUR / S)
    row = _one(store, shop.shop_live, customer_id=1, amount=2.0)
    assert (row.values["max_2h"], row.origins) == (8.0, {"recent": "computed"})
    assert row.statuses["max_2h"] == "present"


@pytest.mark.parametrize(
    ("row", "named"),
    [
        ({"amount": 1.0, "channel": "w"}, "customer_id"),
        ({"customer_id": 1, "amount": 1.0}, "channel"),
    ],
    ids=["no-key", "no-request-field"],
)
def test_online_features_incomplete_row_raises_naming_the_field(
    store: FeatureStore, shop: ModuleType, row: dict[str, Any], named: str
) -> None:
    with pytest.raises(FeatureError, match=named):
        store.online_features(shop.shop, [row])


# ------------------------------------------------------------------ the parity property


PARITY_EVENTS = (
    (1, T - 100 * MINUTE, 10.0, "web"),  # leaves nothing behind: still in the 2 h window
    (1, T - 5 * MINUTE, 20.0, "app"),
    (2, T - 90 * MINUTE, 5.0, "web"),  # newest event older than the ttl: expired
    (3, T, 1.5, "app"),  # exactly at the read time: counts
    (3, T - 119 * MINUTE, 0.25, "app"),
    (4, T + 1, 99.0, "web"),  # 1 µs in the future: never counts (missing)
)


@pytest.mark.parametrize(
    ("service_name", "materialize"),
    [("shop", True), ("shop_model", True), ("shop_live", False)],
    ids=["materialized", "materialized-with-defaults", "computed-on-miss"],
)
def test_training_and_online_paths_agree_at_the_same_time(
    store: FeatureStore, shop: ModuleType, service_name: str, materialize: bool
) -> None:
    """The core property: same rows, same time, same values and statuses on both paths."""
    service = getattr(shop, service_name)
    store.ingest(shop.orders, orders_frame(*PARITY_EVENTS))
    if materialize:
        store.materialize(service)
    rows = entity_frame(
        (1, T, 4.0, "web"),
        (2, T, 6.0, "app"),
        (3, T, 0.5, "web"),
        (4, T, 1.0, "app"),
        (5, T, 2.0, "web"),
        (1, T, 8.0, "app"),
    )
    frame = store.training_frame(service, rows, statuses=True)
    online = store.online_features(service, requests_of(rows))
    first = service.column_names[0]
    assert len(set(frame[f"{first}__status"])) >= 2  # the rows exercise several statuses
    for i, served in enumerate(online):
        for name in service.column_names:
            offline = plain(frame.loc[i, name])
            assert same(offline, served.values[name]), (i, name, offline, served.values[name])
            assert frame.loc[i, f"{name}__status"] == served.statuses[name], (i, name)


def test_online_features_cache_never_serves_compute_on_miss_value_at_ttl(
    store: FeatureStore, shop: ModuleType
) -> None:
    store.ingest(shop.orders, orders_frame((1, T - 90 * MINUTE, 30.0, "web"), (1, T, 20.0, "web")))
    store.materialize(shop.shop_live, at_us=T)
    request = {"customer_id": 1, "amount": 1.0}
    [warm] = store.online_features(shop.shop_live, [request], at_us=T + TTL - 1)
    assert (warm.values["max_2h"], warm.origins["recent"]) == (30.0, "store")
    [served] = store.online_features(shop.shop_live, [request], at_us=T + TTL)
    frame = store.training_frame(
        shop.shop_live, entity_frame((1, T + TTL, 1.0, "web")), statuses=True
    )
    assert (frame.loc[0, "max_2h"], frame.loc[0, "max_2h__status"]) == (20.0, "expired")
    assert (served.values["max_2h"], served.statuses["max_2h"]) == (20.0, "expired")
