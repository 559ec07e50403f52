"""The offline store: checked, all-or-nothing ingest, and typed, filtered reads."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from roost.errors import ConfigError, FeatureError
from roost.features.entities import Entity, Events
from roost.features.offline import OfflineStore

T0 = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z
S = 1_000_000

card = Entity("card", keys={"card_id": "int64"})
payments = Events(
    "payments",
    entity=card,
    columns={"amount": "float64", "items": "int64", "online": "bool", "shop": "string"},
)
COLUMNS = ["_key", "_time_us", "card_id", "amount", "items", "online", "shop"]
account = Entity("account", keys={"bank": "string", "number": "int64"})
transfers = Events("transfers", entity=account, columns={"amount": "float64"}, timestamp="at")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[OfflineStore]:
    with OfflineStore(tmp_path / "features" / "offline.db") as opened:
        yield opened


def _payments(**changes: list[Any]) -> pd.DataFrame:
    data: dict[str, list[Any]] = {
        "card_id": [1, 2, 1],
        "ts": ["2024-01-01T00:00:02Z", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"],
        "amount": [2.5, 10.0, 0.1 + 0.2],
        "items": [1, 2, 3],
        "online": [True, False, True],
        "shop": ["a", "b", "c"],
    }
    data.update(changes)
    return pd.DataFrame(data)


# ------------------------------------------------------------------- ingest


def test_ingest_valid_frame_returns_rows_written_and_creates_the_file(tmp_path: Path) -> None:
    path = tmp_path / "new" / "offline.db"
    with OfflineStore(path) as store:
        assert store.ingest(payments, _payments()) == 3
        assert store.count(payments) == 3
    assert path.is_file()


def test_ingest_ignores_extra_columns(store: OfflineStore) -> None:
    store.ingest(payments, _payments(note=["x", "y", "z"]))
    assert "note" not in store.read(payments).columns


def test_ingest_missing_columns_names_them_and_the_events(store: OfflineStore) -> None:
    frame = _payments().drop(columns=["ts", "shop"])
    with pytest.raises(FeatureError, match=r"events 'payments'.*missing columns \['ts', 'shop'\]"):
        store.ingest(payments, frame)


def test_ingest_not_a_frame_is_refused(store: OfflineStore) -> None:
    with pytest.raises(FeatureError, match="expected a pandas DataFrame, got dict"):
        store.ingest(payments, {"card_id": [1]})  # type: ignore[arg-type]


# fmt: off
BAD_VALUE_IDS = [
    "float-str", "float-bool", "int-fraction", "int-str", "int-overflow", "bool-int",
    "string-int", "key-null", "key-str", "key-overflow", "time-null", "time-text", "time-number",
]
# fmt: on


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("amount", [1.0, "abc", 2.0], "column 'amount' expected float64 values, got 'abc' (row 1)"),
        ("amount", [1.0, 2.0, True], "column 'amount' expected float64 values, got True (row 2)"),
        ("items", [1, 2.5, 3], "column 'items' expected int64 values, got 2.5 (row 1)"),
        ("items", [1, 2, "3"], "column 'items' expected int64 values, got '3' (row 2)"),
        ("items", [1, 2**63, 3], f"column 'items' expected int64 values, got {2**63} (row 1)"),
        ("online", [True, 1, False], "column 'online' expected bool values, got 1 (row 1)"),
        ("shop", ["a", 7, "c"], "column 'shop' expected string values, got 7 (row 1)"),
        ("card_id", [1, None, 3], "key 'card_id' is null (row 1)"),
        ("card_id", [1, 2, "x"], "key 'card_id' expected a whole number, got 'x' (row 2)"),
        ("card_id", [1, 2**64, 3], f"key 'card_id' expected an int64 value, got {2**64} (row 1)"),
        ("ts", ["2024-01-01", None, "2024-01-02"], "'ts': expected a time, got nan (row 1)"),
        ("ts", ["2024-01-01", "2024-01-02", "later"], "got 'later' (row 2)"),
        ("ts", [1, 2, 3], "column 'ts': expected times, got int64 numbers"),
    ],
    ids=BAD_VALUE_IDS,
)
def test_ingest_bad_value_names_column_value_and_row(
    store: OfflineStore, column: str, values: list[Any], message: str
) -> None:
    frame = _payments(**{column: values})
    with pytest.raises(FeatureError, match=r"^events 'payments'") as caught:
        store.ingest(payments, frame)
    assert message in str(caught.value)
    assert store.count(payments) == 0


def test_ingest_bad_row_after_good_ones_writes_nothing(store: OfflineStore) -> None:
    store.ingest(payments, _payments())
    bad = pd.concat([_payments(), _payments(amount=[1.0, 2.0, "oops"])], ignore_index=True)
    with pytest.raises(FeatureError, match=r"got 'oops' \(row 5\)"):
        store.ingest(payments, bad)
    assert store.count(payments) == 3


def test_ingest_failing_insert_rolls_back_every_row(store: OfflineStore, tmp_path: Path) -> None:
    """A failure inside the transaction (here a trigger) leaves none of the frame's rows."""
    store.ingest(payments, _payments())
    with sqlite3.connect(store.path) as connection:
        connection.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON events_payments WHEN NEW.items = 99 "
            "BEGIN SELECT RAISE(ABORT, 'refused by trigger'); END"
        )
    connection.close()
    with pytest.raises(FeatureError, match="refused by trigger"):
        store.ingest(payments, _payments(items=[5, 6, 99]))
    assert store.count(payments) == 3


def test_ingest_nulls_in_value_columns_are_stored_as_null(store: OfflineStore) -> None:
    frame = _payments(
        amount=[np.nan, None, 1.5],
        items=[None, 2, 3],
        online=[None, True, False],
        shop=[None, "b", pd.NA],
    )
    store.ingest(payments, frame)
    read = store.read(payments)  # sorted by key and time: the rows 2, 0, 1 of the frame
    assert read["amount"].tolist()[0] == 1.5
    assert read["amount"].isna().tolist() == [False, True, True]
    assert read["items"].dtype == np.float64  # an int column holding a null
    assert read["items"].tolist()[::2] == [3.0, 2.0]
    assert np.isnan(read["items"].tolist()[1])
    assert read["online"].dtype == object  # a bool column holding a null
    assert read["online"].tolist() == [False, None, True]
    assert read["shop"].tolist() == [None, None, "b"]


def test_ingest_numeric_and_nullable_columns_are_accepted(store: OfflineStore) -> None:
    frame = _payments(
        card_id=pd.Series([1, 2, 1], dtype="Int64").tolist(),
        items=pd.Series([1.0, 2.0, 3.0]).tolist(),
    )
    frame["shop"] = frame["shop"].astype("string")
    frame["online"] = frame["online"].astype("boolean")
    assert store.ingest(payments, frame) == 3
    read = store.read(payments)
    assert read["items"].tolist() == [3, 1, 2]


def test_ingest_same_key_in_any_form_gives_one_canonical_key(store: OfflineStore) -> None:
    store.ingest(payments, _payments(card_id=[7, 7.0, "7"]))
    assert store.keys(payments) == ["[7]"]
    assert store.read(payments)["card_id"].tolist() == [7, 7, 7]


def test_ingest_changed_definition_is_refused(store: OfflineStore) -> None:
    store.ingest(payments, _payments())
    changed = Events(
        "payments",
        entity=card,
        columns={"amount": "float64", "items": "bool", "online": "bool", "shop": "string"},
    )
    frame = _payments(items=[True, False, True])
    with pytest.raises(
        FeatureError, match=r"events 'payments' were ingested with columns .*new name"
    ):
        store.ingest(changed, frame)
    with pytest.raises(FeatureError, match="the Events definition changed"):
        store.read(changed)
    assert store.count(payments) == 3


def test_ingest_changed_definition_is_refused_by_another_store_instance(tmp_path: Path) -> None:
    path = tmp_path / "offline.db"
    with OfflineStore(path) as first:
        first.ingest(payments, _payments())
    fewer = Events("payments", entity=card, columns={"amount": "float64"})
    with OfflineStore(path) as second, pytest.raises(FeatureError, match="definition changed"):
        second.count(fewer)


def test_ingest_same_layout_under_two_names_keeps_them_apart(store: OfflineStore) -> None:
    refunds = Events("refunds", entity=card, columns=dict(payments.columns))
    store.ingest(payments, _payments())
    store.ingest(refunds, _payments().iloc[:1])
    assert (store.count(payments), store.count(refunds)) == (3, 1)


def test_changed_definition_is_refused_even_if_another_table_has_its_layout(
    tmp_path: Path,
) -> None:
    path = tmp_path / "offline.db"
    with OfflineStore(path) as other:
        other.ingest(Events("refunds", entity=card, columns={"amount": "float64"}), _payments())
    new_refunds = Events("refunds", entity=card, columns=dict(payments.columns))
    with OfflineStore(path) as store:
        store.ingest(payments, _payments())  # the same layout as new_refunds, seen to match
        with pytest.raises(FeatureError, match="events 'refunds' were ingested with columns"):
            store.count(new_refunds)


def test_events_name_differing_only_in_case_is_refused(store: OfflineStore) -> None:
    """SQLite table names ignore case: 'Payments' must not read or write 'payments'."""
    shouting = Events("Payments", entity=card, columns=dict(payments.columns))
    store.ingest(payments, _payments())
    with pytest.raises(FeatureError, match="events 'Payments' clashes with events 'payments'"):
        store.ingest(shouting, _payments())
    with pytest.raises(FeatureError, match="clashes"):
        store.read(shouting)
    assert store.count(payments) == 3


def test_ingest_empty_frame_writes_nothing(store: OfflineStore) -> None:
    assert store.ingest(payments, _payments().iloc[:0]) == 0
    assert store.count(payments) == 0
    assert store.time_range(payments) is None


# --------------------------------------------------------------------- read


def test_read_round_trips_values_and_dtypes(store: OfflineStore) -> None:
    store.ingest(payments, _payments())
    read = store.read(payments)
    assert list(read.columns) == COLUMNS
    dtypes = [str(dtype) for dtype in read.dtypes]
    assert dtypes == ["object", "int64", "int64", "float64", "int64", "bool", "object"]
    assert read["_key"].tolist() == ["[1]", "[1]", "[2]"]
    assert read["_time_us"].tolist() == [T0, T0 + 2 * S, T0]
    assert read["amount"].tolist() == [0.1 + 0.2, 2.5, 10.0]
    assert read["shop"].tolist() == ["c", "a", "b"]
    assert all(type(v) is str for v in read["shop"])


def test_read_equal_times_keep_ingest_order(store: OfflineStore) -> None:
    same = ["2024-01-01T00:00:00Z"] * 3
    store.ingest(payments, _payments(card_id=[1, 1, 1], ts=same, items=[30, 10, 20]))
    store.ingest(payments, _payments(card_id=[1, 1, 1], ts=same, items=[5, 4, 3]))
    assert store.read(payments)["items"].tolist() == [30, 10, 20, 5, 4, 3]


def test_read_filters_by_keys_and_until(store: OfflineStore) -> None:
    store.ingest(payments, _payments(card_id=[1, 2, 3]))
    assert store.read(payments, keys=["[1]", "[3]", "[404]"])["_key"].tolist() == ["[1]", "[3]"]
    assert store.read(payments, until_us=T0)["_key"].tolist() == ["[2]", "[3]"]
    assert store.read(payments, keys=["[1]"], until_us=T0 + 2 * S - 1).empty
    assert store.read(payments, keys=["[1]"], until_us=T0 + 2 * S)["items"].tolist() == [1]
    assert store.read(payments, keys=[]).empty
    assert store.read(payments, keys=pd.Series(["[3]", "[3]"]))["_key"].tolist() == ["[3]"]


def test_read_many_keys_are_chunked_and_stay_sorted(store: OfflineStore) -> None:
    n = 1_234
    numbers = list(range(n))
    times = pd.to_datetime([T0 + i for i in numbers], unit="us")
    same = {"card_id": numbers, "amount": numbers, "items": numbers}
    store.ingest(payments, _payments(**same, ts=times, online=[True] * n, shop=["s"] * n))
    wanted = [f"[{i}]" for i in range(n - 1, -1, -2)]  # every other key, reversed
    read = store.read(payments, keys=wanted)
    assert read["_key"].tolist() == sorted(wanted)
    assert read["items"].tolist() == sorted(range(1, n, 2), key=lambda i: f"[{i}]")


def test_read_unknown_events_gives_an_empty_typed_frame(store: OfflineStore) -> None:
    read = store.read(payments)
    assert read.empty
    assert list(read.columns) == COLUMNS
    assert read["_time_us"].dtype == np.int64
    assert read["amount"].dtype == np.float64
    assert store.keys(payments) == []
    assert store.count(payments) == 0
    assert store.time_range(payments) is None


def test_read_composite_string_and_int_keys(store: OfflineStore) -> None:
    frame = pd.DataFrame(
        {
            "bank": ["zürich", "alpha", "zürich"],
            "number": [2, 1, 2],
            "at": ["2024-01-01T00:00:01Z", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"],
            "amount": [1.0, 2.0, 3.0],
        }
    )
    store.ingest(transfers, frame)
    key = account.key_of({"bank": "zürich", "number": 2})
    read = store.read(transfers, keys=[key])
    assert read["_key"].tolist() == [key, key]
    assert read["bank"].tolist() == ["zürich", "zürich"]
    assert read["amount"].tolist() == [3.0, 1.0]
    assert store.keys(transfers) == sorted([key, account.key_of({"bank": "alpha", "number": 1})])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"keys": "[1]"}, "keys must be a list"),
        ({"keys": [1]}, r"keys must be canonical key strings .*got 1"),
        ({"until_us": 1.5}, "until_us must be an int"),
    ],
    ids=["one-string", "int-key", "float-until"],
)
def test_read_bad_arguments_are_refused(
    store: OfflineStore, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        store.read(payments, **kwargs)


# -------------------------------------------------- keys, count, time_range


def test_keys_count_and_time_range_describe_the_events(store: OfflineStore) -> None:
    store.ingest(payments, _payments(card_id=[10, 9, 10]))
    assert store.keys(payments) == ["[10]", "[9]"]  # sorted as strings
    assert store.count(payments) == 3
    assert store.time_range(payments) == (T0, T0 + 2 * S)


# ----------------------------------------------------- files and lifecycle


def test_two_stores_on_one_file_see_each_others_rows(tmp_path: Path) -> None:
    path = tmp_path / "offline.db"
    with OfflineStore(path) as first, OfflineStore(path) as second:
        first.ingest(payments, _payments())
        assert second.count(payments) == 3
        second.ingest(payments, _payments())
        assert first.count(payments) == 6
        with sqlite3.connect(path) as raw:
            assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        raw.close()


def test_store_is_usable_from_several_threads(store: OfflineStore) -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                store.ingest(payments, _payments())
                store.read(payments, keys=["[1]"])
        except BaseException as exc:  # reported below: a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.count(payments) == 4 * 5 * 3


def test_closed_store_refuses_use_and_close_is_idempotent(tmp_path: Path) -> None:
    store = OfflineStore(tmp_path / "offline.db")
    store.ingest(payments, _payments())
    store.close()
    store.close()
    with pytest.raises(FeatureError, match="is closed"):
        store.count(payments)


def test_unusable_path_is_reported_naming_it(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    with OfflineStore(folder) as store, pytest.raises(FeatureError, match="a-folder"):
        store.count(payments)


def test_not_an_events_table_is_refused(store: OfflineStore) -> None:
    with pytest.raises(ConfigError, match="expected an Events table"):
        store.count("payments")  # type: ignore[arg-type]
