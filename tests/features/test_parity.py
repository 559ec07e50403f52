"""check_parity: the training path and the online path compared on a sample of entities.

A correct setup must report no difference at all; a value planted in the online store
(a record newer than anything materialization writes, so it is never replaced) must be
reported, column by column, with an example.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from roost.errors import FeatureError
from roost.features import FeatureStore, OnlineRecord
from roost.features.parity import ParityReport, check_parity
from roost.testing import FakeClock

T0_S = 1_704_067_200  # 2024-01-01T00:00:00Z: the fake clock's "now"
S = 1_000_000
T = T0_S * S
MINUTE = 60 * S

FEATURES = '''
"""Feature code for test_parity (written into tmp_path by the test)."""

from __future__ import annotations

from datetime import timedelta

from roost.features import (
    Aggregate, AggregateView, Entity, Events, FeatureService, Request, transform,
)

FEE = 0.25

customer = Entity("customer", keys={"customer_id": "int64"})
orders = Events("orders", entity=customer, columns={"amount": "float64", "channel": "string"})

spend = AggregateView(
    "spend", version=1, events=orders, window=timedelta(hours=2), ttl=timedelta(hours=1),
    aggregates=[Aggregate("amount", "sum", name="spend_2h"),
                Aggregate("amount", "count", name="orders_2h")],
)
spend_or_zero = AggregateView(
    "spend_or_zero", version=1, events=orders, window=timedelta(hours=2),
    ttl=timedelta(hours=1), aggregates=[Aggregate("amount", "mean", name="avg_2h")],
    defaults={"avg_2h": -1.0},
)


@transform(version=1, inputs={"amount": "float64"}, outputs={"with_fee": "float64"})
def with_fee(amount):
    return amount * (1.0 + FEE)


@transform(version=1, inputs={"with_fee": "float64", "spend_2h": "float64"},
           outputs={"share": "float64"})
def share(with_fee, spend_2h):
    return with_fee / ((spend_2h or 0.0) + 1.0)


@transform(version=1, inputs={"price": "float64"}, outputs={"price_fee": "float64"})
def price_fee(price):
    return price * (1.0 + FEE)


shop = FeatureService(
    "shop", entity=customer,
    features=[spend, spend_or_zero, with_fee, share, Request("channel", "string")],
)
shop_priced = FeatureService("shop_priced", entity=customer, features=[spend, price_fee])
'''

COLUMNS = ["spend_2h", "orders_2h", "avg_2h", "with_fee", "share", "channel"]


def at(t_us: int) -> pd.Timestamp:
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


EVENTS = orders_frame(
    (1, T - 100 * MINUTE, 10.0, "web"),
    (1, T - 5 * MINUTE, 20.0, "app"),
    (2, T - 90 * MINUTE, 5.0, "web"),  # expired at T (ttl 1 h), still in the window
    (3, T, 1.5, "app"),  # exactly at T: counts
    (3, T - 119 * MINUTE, 0.1, "app"),
    (4, T - 3 * MINUTE, 0.3, "web"),
    (6, T + 1, 99.0, "web"),  # after T: never sampled
)


@pytest.fixture
def shop(load_features: Callable[[str], ModuleType]) -> ModuleType:
    return load_features(FEATURES)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FeatureStore]:
    clock = FakeClock(epoch=T0_S)
    with FeatureStore(tmp_path / "roost-home" / "features", clock=clock) as opened:
        yield opened


def by_column(report: ParityReport) -> dict[str, tuple[int, int]]:
    return {c.column: (c.compared, c.mismatched) for c in report.columns}


# ------------------------------------------------------------------ a correct setup


def test_check_parity_correct_setup_reports_no_difference(
    store: FeatureStore, shop: ModuleType
) -> None:
    store.ingest(shop.orders, EVENTS)
    report = check_parity(store, shop.shop, at_us=T)
    assert report.ok
    assert (report.service, report.at, report.entities) == ("shop@1", "2024-01-01T00:00:00Z", 4)
    assert by_column(report) == {name: (4, 0) for name in COLUMNS}
    assert all(c.example is None and c.max_abs_diff == 0.0 for c in report.columns)
    # customer 2 is expired in spend (no defaults) and defaulted in spend_or_zero
    assert report.statuses == {"present": 4 * 6 - 3, "expired": 2, "defaulted": 1}


def test_check_parity_defaults_to_the_clock_and_materializes(
    store: FeatureStore, shop: ModuleType
) -> None:
    store.ingest(shop.orders, EVENTS)
    calls: list[tuple[str, int, int]] = []
    report = check_parity(store, shop.shop, progress=lambda *call: calls.append(call))
    assert report.ok
    assert report.at == "2024-01-01T00:00:00Z"
    assert calls[0] == ("spend@1", 0, 4)
    assert ("spend_or_zero@1", 4, 4) in calls
    assert store.online.count(shop.spend) == 4


def test_check_parity_sample_limits_entities_and_is_seeded(
    store: FeatureStore, shop: ModuleType
) -> None:
    store.ingest(shop.orders, EVENTS)
    first = check_parity(store, shop.shop, at_us=T, sample=2, seed=3)
    again = check_parity(store, shop.shop, at_us=T, sample=2, seed=3)
    assert first.entities == 2
    assert first == again
    assert first.ok


def test_check_parity_request_rows_from_a_dataframe(store: FeatureStore, shop: ModuleType) -> None:
    store.ingest(shop.orders, EVENTS)
    requests = pd.DataFrame(
        {
            "customer_id": [1, 2, 9],  # 9 has no events: missing on both paths
            "amount": [7.0, 0.5, 3.0],
            "channel": ["shop", "web", "app"],
        }
    )
    report = check_parity(store, shop.shop, at_us=T, requests=requests)
    assert report.ok
    assert report.entities == 3
    assert report.statuses["missing"] == 2  # customer 9's spend_2h and orders_2h
    assert by_column(report)["with_fee"] == (3, 0)


def test_check_parity_price_field_from_requests_works_without_events_column(
    store: FeatureStore, shop: ModuleType
) -> None:
    store.ingest(shop.orders, EVENTS)
    requests = pd.DataFrame({"customer_id": [1, 3], "price": [2.0, 4.0]})
    report = check_parity(store, shop.shop_priced, at_us=T, requests=requests)
    assert report.ok
    assert by_column(report)["price_fee"] == (2, 0)


# ------------------------------------------------------------------ a broken setup


def test_check_parity_planted_online_value_is_reported(
    store: FeatureStore, shop: ModuleType
) -> None:
    """A newer record with another sum survives materialization and is caught."""
    store.ingest(shop.orders, EVENTS)
    planted = OnlineRecord("[1]", {"spend_2h": 999.0, "orders_2h": 2}, T - 1, T)
    assert store.online.write(shop.spend, [planted]) == 1
    report = check_parity(store, shop.shop, at_us=T)
    assert not report.ok
    columns = {c.column: c for c in report.columns}
    spend = columns["spend_2h"]
    assert (spend.compared, spend.mismatched) == (4, 1)
    assert spend.max_abs_diff == pytest.approx(999.0 - 30.0)
    assert spend.example == "entity [1]: training 30.0 (present), online 999.0 (present)"
    assert columns["share"].mismatched == 1  # the transform reads spend_2h
    assert columns["orders_2h"].mismatched == 0
    assert columns["avg_2h"].mismatched == 0


def test_check_parity_status_difference_alone_is_a_mismatch(
    store: FeatureStore, shop: ModuleType
) -> None:
    """Same values, but a record that claims a newer event: present online, expired offline."""
    store.ingest(shop.orders, EVENTS)
    planted = OnlineRecord("[2]", {"spend_2h": 5.0, "orders_2h": 1}, T - MINUTE, T)
    store.online.write(shop.spend, [planted])
    report = check_parity(store, shop.shop, at_us=T)
    spend = {c.column: c for c in report.columns}["spend_2h"]
    assert spend.mismatched == 1
    assert spend.max_abs_diff == 0.0
    assert spend.example == "entity [2]: training 5.0 (expired), online 5.0 (present)"


# ------------------------------------------------------------------ errors


def test_check_parity_without_events_raises(store: FeatureStore, shop: ModuleType) -> None:
    with pytest.raises(FeatureError, match=r"no entity has events by 2024-01-01T00:00:00Z"):
        check_parity(store, shop.shop, at_us=T)


def test_check_parity_events_only_after_at_raises(store: FeatureStore, shop: ModuleType) -> None:
    store.ingest(shop.orders, orders_frame((1, T + 1, 1.0, "web")))
    with pytest.raises(FeatureError, match="no entity has events"):
        check_parity(store, shop.shop, at_us=T)


def test_check_parity_request_field_in_no_events_table_raises(
    store: FeatureStore, shop: ModuleType
) -> None:
    store.ingest(shop.orders, EVENTS)
    with pytest.raises(FeatureError, match=r"request fields \['price'\] are in no event table"):
        check_parity(store, shop.shop_priced, at_us=T)


def test_check_parity_sample_below_one_raises(store: FeatureStore, shop: ModuleType) -> None:
    with pytest.raises(FeatureError, match="expected at least 1 entity, got 0"):
        check_parity(store, shop.shop, sample=0)
