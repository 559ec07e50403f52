"""The point-in-time join: each row sees exactly the events at or before its own time.

Adversarial timestamps, one microsecond either side of every boundary: the row's time,
the window's start and the TTL.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from roost.errors import FeatureError
from roost.features._frames import view_values
from roost.features.aggregates import Aggregate, AggregateView, ViewValue
from roost.features.entities import Entity, Events
from roost.features.offline import OfflineStore

T0 = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z
S = 1_000_000
HOUR = 3600 * S
TTL = 10 * 60 * S

card = Entity("card", keys={"card_id": "int64"})
payments = Events("payments", entity=card, columns={"amount": "float64", "note": "string"})
OUTPUTS = (
    Aggregate("amount", "sum", name="spend"),
    Aggregate("amount", "count", name="n"),
    Aggregate("amount", "mean", name="avg"),
    Aggregate("amount", "min", name="low"),
    Aggregate("amount", "max", name="high"),
    Aggregate("note", "count", name="notes"),
)


def _view(**changes: Any) -> AggregateView:
    settings: dict[str, Any] = {
        "window": timedelta(hours=1),
        "ttl": timedelta(minutes=10),
        "aggregates": OUTPUTS,
    }
    settings.update(changes)
    return AggregateView("spend_1h", version=1, events=payments, **settings)


view = _view()
defaulted_view = _view(defaults={"spend": 0.0, "n": 0})


def _events(*events: tuple[int, int, float | None]) -> pd.DataFrame:
    """(card_id, time_us, amount) triples as a frame shaped like OfflineStore.read's."""
    return pd.DataFrame(
        {
            "_key": pd.Series([f"[{c}]" for c, _, _ in events], dtype=object),
            "_time_us": pd.Series([t for _, t, _ in events], dtype=np.int64),
            "card_id": pd.Series([c for c, _, _ in events], dtype=np.int64),
            "amount": pd.Series([np.nan if a is None else a for _, _, a in events], dtype=float),
            "note": pd.Series(["x" for _ in events], dtype=object),
        }
    )


def _one(v: AggregateView, events: pd.DataFrame, key: str, t_us: int) -> ViewValue:
    [value] = view_values(v, events, [key], [t_us])
    return value


# ------------------------------------------------------------ the row's time


def test_event_one_microsecond_after_the_row_never_counts() -> None:
    events = _events((1, T0, 5.0), (1, T0 + 1, 100.0))
    value = _one(view, events, "[1]", T0)
    assert value.values["spend"] == 5.0
    assert value.values["n"] == 1
    assert value.event_time_us == T0


def test_only_event_one_microsecond_after_the_row_leaves_it_missing() -> None:
    events = _events((1, T0 + 1, 100.0))
    assert _one(view, events, "[1]", T0) == ViewValue(
        dict.fromkeys(["spend", "n", "avg", "low", "high", "notes"]), "missing", None
    )
    assert _one(defaulted_view, events, "[1]", T0).status == "defaulted"


def test_event_exactly_at_the_row_time_counts() -> None:
    events = _events((1, T0 - S, 1.0), (1, T0, 2.0))
    value = _one(view, events, "[1]", T0)
    assert value.values == {"spend": 3.0, "n": 2, "avg": 1.5, "low": 1.0, "high": 2.0, "notes": 2}
    assert value.status == "present"
    assert value.event_time_us == T0


# ---------------------------------------------------------- the window's start


def test_event_exactly_one_window_before_drops_out() -> None:
    """The window is (t - window, t]: its start is excluded, one µs later is included."""
    events = _events((1, T0 - HOUR, 7.0), (1, T0 - HOUR + 1, 3.0), (1, T0, 1.0))
    value = _one(view, events, "[1]", T0)
    assert value.values["spend"] == 4.0
    assert value.values["n"] == 2
    assert value.values["high"] == 3.0


def test_window_start_moves_with_each_row() -> None:
    events = _events((1, T0, 7.0))
    rows = [T0 + HOUR - 1, T0 + HOUR]
    first, second = view_values(_view(ttl=None), events, ["[1]", "[1]"], rows)
    assert (first.values["spend"], first.values["n"]) == (7.0, 1)
    assert (second.values["spend"], second.values["n"]) == (0.0, 0)  # an empty window
    assert second.values["avg"] is None


# ------------------------------------------------------------------------ ttl


def test_newest_event_ttl_old_is_expired_one_microsecond_earlier_present() -> None:
    """A value is present while t - event_time < ttl: expired from ttl on."""
    events = _events((1, T0, 5.0))
    at_ttl, past_ttl = view_values(view, events, ["[1]", "[1]"], [T0 + TTL - 1, T0 + TTL])
    assert at_ttl.status == "present"
    assert past_ttl.status == "expired"
    assert past_ttl.values["spend"] == 5.0  # still in the hour's window
    assert past_ttl.event_time_us == T0


def test_expired_value_with_defaults_is_defaulted() -> None:
    events = _events((1, T0, 5.0))
    at_ttl, past_ttl = view_values(defaulted_view, events, ["[1]", "[1]"], [T0 + TTL - 1, T0 + TTL])
    assert at_ttl.status == "present"
    assert at_ttl.values["spend"] == 5.0
    assert past_ttl.status == "defaulted"
    assert (past_ttl.values["spend"], past_ttl.values["n"]) == (0.0, 0)


def test_raw_values_are_the_ones_before_defaults() -> None:
    """What materialization stores: expired and missing stay so, with their own values."""
    events = _events((1, T0, 5.0))
    rows = (["[1]", "[2]"], [T0 + TTL + 1, T0])
    expired, missing = view_values(defaulted_view, events, *rows, raw=True)
    assert (expired.status, expired.values["spend"], expired.event_time_us) == ("expired", 5.0, T0)
    assert (missing.status, missing.values["spend"]) == ("missing", None)
    assert view_values(defaulted_view, events, *rows) == [
        defaulted_view.finish(expired),
        defaulted_view.finish(missing),
    ]


# ------------------------------------------------------------- missing keys


def test_key_without_events_is_missing_or_defaulted() -> None:
    events = _events((1, T0, 5.0))
    missing = _one(view, events, "[2]", T0)
    assert missing.status == "missing"
    assert set(missing.values.values()) == {None}
    defaulted = _one(defaulted_view, events, "[2]", T0)
    assert defaulted.status == "defaulted"
    assert defaulted.values["spend"] == 0.0
    assert defaulted.values["avg"] is None  # no default declared for it
    assert defaulted.event_time_us is None


def test_no_events_at_all_gives_missing_for_every_row() -> None:
    values = view_values(view, _events(), ["[1]", "[2]"], [T0, T0])
    assert [v.status for v in values] == ["missing", "missing"]


# ---------------------------------------------- order and duplicate timestamps


def test_unsorted_rows_get_their_own_values_in_their_own_order() -> None:
    events = _events((1, T0, 1.0), (2, T0, 10.0), (1, T0 + S, 2.0), (2, T0 + 2 * S, 20.0))
    rows = [("[2]", T0 + 2 * S), ("[1]", T0), ("[2]", T0), ("[1]", T0 + 5 * S), ("[1]", T0)]
    values = view_values(view, events, [k for k, _ in rows], [t for _, t in rows])
    assert [v.values["spend"] for v in values] == [30.0, 1.0, 10.0, 3.0, 1.0]


def test_unsorted_events_are_sorted_by_time_per_key() -> None:
    events = _events((1, T0 + 2 * S, 4.0), (2, T0, 9.0), (1, T0, 1.0), (1, T0 + S, 2.0))
    values = view_values(view, events, ["[1]", "[1]", "[1]"], [T0, T0 + S, T0 + 2 * S])
    assert [v.values["spend"] for v in values] == [1.0, 3.0, 7.0]
    assert [v.event_time_us for v in values] == [T0, T0 + S, T0 + 2 * S]


def test_duplicate_event_timestamps_all_count() -> None:
    events = _events((1, T0, 1.0), (1, T0, 2.0), (1, T0, 4.0), (1, T0 + 1, 8.0))
    value = _one(view, events, "[1]", T0)
    assert (value.values["spend"], value.values["n"]) == (7.0, 3)


def test_null_amounts_are_not_counted() -> None:
    events = _events((1, T0, None), (1, T0, 2.0))
    value = _one(view, events, "[1]", T0)
    assert value.values == {"spend": 2.0, "n": 1, "avg": 2.0, "low": 2.0, "high": 2.0, "notes": 2}


def test_nullable_pandas_columns_are_read_like_numpy_ones() -> None:
    events = _events((1, T0, 1.0), (1, T0, 2.0))
    events["amount"] = pd.Series([pd.NA, 2], dtype="Int64")
    events["note"] = pd.Series([None, "x"], dtype="string")
    value = _one(view, events, "[1]", T0)
    assert value.values == {"spend": 2.0, "n": 1, "avg": 2.0, "low": 2.0, "high": 2.0, "notes": 1}


# ------------------------------------------------------ through the store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[OfflineStore]:
    with OfflineStore(tmp_path / "offline.db") as opened:
        yield opened


def test_events_read_from_the_store_join_point_in_time(store: OfflineStore) -> None:
    store.ingest(
        payments,
        pd.DataFrame(
            {
                "card_id": [1, 1, 1, 2],
                "ts": [
                    "2024-01-01T00:00:00.000001Z",  # 1 µs after the row: never counts
                    "2024-01-01T00:00:00Z",  # at the row: counts
                    "2023-12-31T23:00:00Z",  # exactly one window before: out
                    "2023-12-31T23:50:00.000001Z",  # card 2: 1 µs less than the ttl before
                ],
                "amount": [100.0, 5.0, 7.0, 3.0],
                "note": ["a", None, "c", "d"],
            }
        ),
    )
    events = store.read(payments, keys=["[1]", "[2]", "[3]"], until_us=T0 + S)
    one, two, three = view_values(defaulted_view, events, ["[1]", "[2]", "[3]"], [T0] * 3)
    assert (one.values["spend"], one.values["n"], one.values["notes"]) == (5.0, 1, 0)
    assert (one.status, one.event_time_us) == ("present", T0)
    assert (two.status, two.values["spend"]) == ("present", 3.0)
    assert three.status == "defaulted"
    [late] = view_values(defaulted_view, events, ["[2]"], [T0 + 1])  # exactly the ttl
    assert late.status == "defaulted"


# --------------------------------------------------------------------- errors


def test_keys_and_times_of_different_lengths_are_refused() -> None:
    with pytest.raises(FeatureError, match="spend_1h@1: expected one time per key, got 2 keys"):
        view_values(view, _events(), ["[1]", "[2]"], [T0])


def test_keys_as_one_string_are_refused() -> None:
    with pytest.raises(FeatureError, match="expected a list of keys, got '\\[1\\]'"):
        view_values(view, _events(), "[1]", [T0])  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [1.5, "2024-01-01", True, None])
def test_times_that_are_not_whole_microseconds_are_refused(bad: Any) -> None:
    with pytest.raises(FeatureError, match=r"whole epoch µs .*\(row 1\)"):
        view_values(view, _events(), ["[1]", "[1]"], [T0, bad])


def test_numpy_times_are_accepted() -> None:
    events = _events((1, T0, 5.0))
    [value] = view_values(view, events, np.array(["[1]"]).tolist(), np.array([T0]))
    assert value.values["spend"] == 5.0


def test_events_frame_without_the_aggregated_columns_is_refused() -> None:
    with pytest.raises(FeatureError, match=r"lacks columns \['amount'\]"):
        view_values(view, _events().drop(columns=["amount"]), [], [])


# -------------------------------------------------------- the property


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[AggregateView, list[tuple[int, int, float | None]], Any]:
    window_s = draw(st.integers(1, 5))
    ttl_s = draw(st.integers(1, window_s))
    defaults = draw(st.sampled_from([None, {"spend": 0.0}, {"spend": -1.0, "n": 0, "avg": 0.0}]))
    v = _view(window=timedelta(seconds=window_s), ttl=timedelta(seconds=ttl_s), defaults=defaults)
    # times on whole seconds, or one µs either side: every boundary gets hit
    moments = st.builds(
        lambda k, d: T0 + k * S + d, st.integers(0, 12), st.sampled_from([-1, 0, 0, 1])
    )
    amounts = st.none() | st.integers(-1000, 1000).map(float)  # sums stay exact
    events = draw(st.lists(st.tuples(st.integers(1, 3), moments, amounts), max_size=30))
    rows = draw(st.lists(st.tuples(st.integers(1, 4), moments), min_size=1, max_size=20))
    return v, events, rows


def _brute_force(
    v: AggregateView,
    events: list[tuple[int, int, float | None]],
    card_id: int,
    t_us: int,
    *,
    raw: bool = False,
) -> ViewValue:
    """The definition, spelled out: events of the card at or before t, window (t - w, t]."""
    window_us = v.window // timedelta(microseconds=1)
    ttl_us = (v.ttl or v.window) // timedelta(microseconds=1)
    seen = [(time, amount) for c, time, amount in events if c == card_id and time <= t_us]
    names = ["spend", "n", "avg", "low", "high", "notes"]
    if not seen:
        value = ViewValue(dict.fromkeys(names), "missing", None)
    else:
        inside = [amount for time, amount in seen if time > t_us - window_us]
        numbers = [a for a in inside if a is not None]
        newest = max(time for time, _ in seen)
        values: dict[str, Any] = {
            "spend": math.fsum(numbers),
            "n": len(numbers),
            "avg": math.fsum(numbers) / len(numbers) if numbers else None,
            "low": min(numbers) if numbers else None,
            "high": max(numbers) if numbers else None,
            "notes": len(inside),
        }
        status = "expired" if t_us - newest >= ttl_us else "present"
        value = ViewValue(values, status, newest)
    if value.status in ("missing", "expired") and v.defaults and not raw:
        return ViewValue({**value.values, **v.defaults}, "defaulted", value.event_time_us)
    return value


@given(scenarios(), st.randoms(use_true_random=False))
def test_every_value_equals_a_brute_force_recomputation(
    scenario: tuple[AggregateView, list[tuple[int, int, float | None]], Any], shuffle: random.Random
) -> None:
    v, events, rows = scenario
    shuffled = list(events)
    shuffle.shuffle(shuffled)
    frame = _events(*shuffled)
    keys = [f"[{c}]" for c, _ in rows]
    values = view_values(v, frame, keys, [t for _, t in rows])
    assert values == [_brute_force(v, events, c, t) for c, t in rows]
    raws = view_values(v, frame, keys, [t for _, t in rows], raw=True)
    assert raws == [_brute_force(v, events, c, t, raw=True) for c, t in rows]
