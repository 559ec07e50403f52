"""Aggregate view definitions: validation, defaults, TTL status, finish() and source text.

The point-in-time computation itself is covered by test_point_in_time.py.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from roost.errors import ConfigError, Error
from roost.features.aggregates import FUNCTIONS, Aggregate, AggregateView, ViewValue
from roost.features.entities import Entity, Events

S = 1_000_000
DAY = 86_400 * S
T0 = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z

CARD = Entity("card", keys={"card_id": "int64"})
PAYMENTS = Events(
    "payments", entity=CARD, columns={"amount": "float64", "qty": "int64", "note": "string"}
)
SPEND = Aggregate("amount", "sum", name="spend")
COUNT = Aggregate("amount", "count", name="n")


def view(**changes: Any) -> AggregateView:
    settings: dict[str, Any] = {
        "version": 1,
        "events": PAYMENTS,
        "window": timedelta(days=30),
        "aggregates": (SPEND, COUNT),
    }
    settings.update(changes)
    return AggregateView("spend_30d", **settings)


# ------------------------------------------------------------------ Aggregate


def test_aggregate_default_name_is_column_and_function() -> None:
    assert Aggregate("amount", "mean").name == "amount_mean"


@pytest.mark.parametrize(("function", "dtype"), sorted(FUNCTIONS.items()))
def test_aggregate_dtype_follows_the_function(function: str, dtype: str) -> None:
    assert Aggregate("amount", function).dtype == dtype


def test_aggregate_unknown_function_raises_config_error_naming_column_and_function() -> None:
    with pytest.raises(ConfigError) as caught:
        Aggregate("amount", "median")
    message = str(caught.value)
    assert "aggregate of 'amount'" in message
    assert "'median'" in message
    assert "sum, mean, min, max, count" in message


def test_aggregate_bad_name_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="aggregate name"):
        Aggregate("amount", "sum", name="total spend")


# ------------------------------------------------------------------ AggregateView validation


def test_view_identity_inputs_and_outputs() -> None:
    v = view(aggregates=[SPEND, COUNT])
    assert v.ref == "spend_30d@1"
    assert v.kind == "aggregate"
    assert v.entity is CARD
    assert v.inputs == (("card_id", "int64"),)
    assert v.outputs == (("spend", "float64"), ("n", "int64"))
    assert v.aggregates == (SPEND, COUNT)  # a list given becomes a tuple


@pytest.mark.parametrize("version", [0, -3, True, "1", None])
def test_view_bad_version_raises_config_error(version: Any) -> None:
    with pytest.raises(ConfigError, match="'spend_30d': version must be a whole number >= 1"):
        view(version=version)


def test_view_bad_name_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="aggregate view name"):
        AggregateView("spend 30d", 1, PAYMENTS, (SPEND,), timedelta(days=1))


def test_view_events_not_an_events_table_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="'spend_30d': events must be an Events table"):
        view(events="payments")


@pytest.mark.parametrize("aggregates", [(), [], ("amount",), (SPEND, "n")])
def test_view_without_aggregates_raises_config_error(aggregates: Any) -> None:
    with pytest.raises(ConfigError, match="'spend_30d': expected at least one Aggregate"):
        view(aggregates=aggregates)


def test_view_aggregate_of_unknown_column_raises_config_error_listing_columns() -> None:
    with pytest.raises(ConfigError) as caught:
        view(aggregates=(Aggregate("amt", "sum"),))
    assert "events 'payments' has no column 'amt'" in str(caught.value)
    assert "amount, qty, note" in str(caught.value)


@pytest.mark.parametrize("function", ["sum", "mean", "min", "max"])
def test_view_numeric_function_of_string_column_raises_config_error(function: str) -> None:
    with pytest.raises(ConfigError) as caught:
        view(aggregates=(Aggregate("note", function),))
    assert f"{function} of 'note' needs a numeric column, it is string" in str(caught.value)


def test_view_count_of_string_column_and_sum_of_int_column_are_accepted() -> None:
    v = view(aggregates=(Aggregate("note", "count"), Aggregate("qty", "sum")))
    assert v.outputs == (("note_count", "int64"), ("qty_sum", "float64"))


def test_view_duplicate_output_names_raise_config_error() -> None:
    with pytest.raises(ConfigError, match=r"duplicate output names \['spend', 'spend'\]"):
        view(aggregates=(SPEND, Aggregate("qty", "sum", name="spend")))


@pytest.mark.parametrize(
    "window", [timedelta(0), timedelta(seconds=-1), 3600, 3600.0, "30d"], ids=repr
)
def test_view_bad_window_raises_config_error(window: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        view(window=window)
    assert "'spend_30d': window must be a positive timedelta" in str(caught.value)
    assert repr(window) in str(caught.value)


def test_view_window_none_raises_config_error() -> None:
    with pytest.raises(ConfigError):
        view(window=None)


@pytest.mark.parametrize("ttl", [timedelta(0), timedelta(days=-1), 60], ids=repr)
def test_view_bad_ttl_raises_config_error(ttl: Any) -> None:
    with pytest.raises(ConfigError, match="'spend_30d': ttl must be a positive timedelta"):
        view(ttl=ttl)


def test_view_ttl_longer_than_window_raises_config_error_naming_both() -> None:
    with pytest.raises(ConfigError) as caught:
        view(window=timedelta(days=1), ttl=timedelta(days=1, microseconds=1))
    message = str(caught.value)
    assert "'spend_30d': ttl (1 day, 0:00:00.000001) must not exceed the window" in message
    assert "(1 day, 0:00:00)" in message


def test_view_ttl_equal_to_window_is_accepted() -> None:
    assert view(window=timedelta(days=1), ttl=timedelta(days=1)).ttl_us == DAY


def test_view_defaults_for_unknown_outputs_raise_config_error_listing_outputs() -> None:
    with pytest.raises(ConfigError) as caught:
        view(defaults={"spend": 0.0, "total": 0.0})
    message = str(caught.value)
    assert "defaults for unknown outputs ['total']" in message
    assert "(outputs: ['spend', 'n'])" in message


def test_view_defaults_are_coerced_to_the_output_dtype() -> None:
    v = view(defaults={"spend": 0, "n": 0.0})
    assert v.defaults == {"spend": 0.0, "n": 0}
    assert type(v.defaults["spend"]) is float
    assert type(v.defaults["n"]) is int


def test_view_defaults_keep_only_declared_outputs_in_output_order() -> None:
    v = view(defaults={"n": np.int64(0), "spend": np.float64(1.5)})
    assert list(v.defaults or {}) == ["spend", "n"]
    assert v.defaults == {"spend": 1.5, "n": 0}


def test_view_no_defaults_gives_empty_mapping() -> None:
    assert view().defaults == {}


@pytest.mark.parametrize(
    ("defaults", "shown"), [({"n": 0.5}, "0.5"), ({"spend": "zero"}, "'zero'")]
)
def test_view_default_of_wrong_type_is_refused_naming_view_and_output(
    defaults: dict[str, Any], shown: str
) -> None:
    with pytest.raises(Error) as caught:
        view(defaults=defaults)
    name = next(iter(defaults))
    assert f"aggregate view 'spend_30d' default '{name}'" in str(caught.value)
    assert shown in str(caught.value)


def test_view_default_of_wrong_type_raises_config_error() -> None:
    with pytest.raises(ConfigError):
        view(defaults={"n": 0.5})


# ------------------------------------------------------------------ spans and status


def test_view_ttl_us_defaults_to_the_window_exactly() -> None:
    v = view(window=timedelta(days=30))
    assert v.window_us == v.ttl_us == 30 * DAY


def test_view_spans_in_microseconds_are_exact() -> None:
    v = view(window=timedelta(days=3650, microseconds=1), ttl=timedelta(microseconds=7))
    assert v.window_us == 3650 * DAY + 1
    assert v.ttl_us == 7


def test_status_at_is_present_until_ttl_then_expired() -> None:
    v = view(window=timedelta(days=30), ttl=timedelta(hours=1))
    ttl_us = 3600 * S
    assert v.status_at(T0, T0) == "present"
    assert v.status_at(T0, T0 + ttl_us - 1) == "present"
    assert v.status_at(T0, T0 + ttl_us) == "expired"
    assert v.status_at(T0, T0 + 10 * DAY) == "expired"


def test_status_at_event_after_read_time_is_present() -> None:
    assert view().status_at(T0 + S, T0) == "present"


# ------------------------------------------------------------------ finish


def test_finish_present_value_is_returned_unchanged() -> None:
    value = ViewValue({"spend": 5.0, "n": 1}, "present", T0)
    assert view(defaults={"spend": 0.0, "n": 0}).finish(value) is value


@pytest.mark.parametrize("status", ["missing", "expired"])
def test_finish_without_defaults_keeps_the_status(status: str) -> None:
    value = ViewValue({"spend": None, "n": None}, status, None)
    assert view().finish(value) is value


def test_finish_missing_value_with_defaults_is_defaulted() -> None:
    value = ViewValue({"spend": None, "n": None}, "missing", None)
    finished = view(defaults={"spend": 0.0, "n": 0}).finish(value)
    assert finished == ViewValue({"spend": 0.0, "n": 0}, "defaulted", None)
    assert value.values == {"spend": None, "n": None}  # the input is not modified


def test_finish_expired_value_keeps_event_time_and_undefaulted_outputs() -> None:
    value = ViewValue({"spend": 12.5, "n": 3}, "expired", T0)
    finished = view(defaults={"spend": 0.0}).finish(value)
    assert finished == ViewValue({"spend": 0.0, "n": 3}, "defaulted", T0)


def test_as_of_applies_finish_and_raw_as_of_does_not() -> None:
    v = view(window=timedelta(days=1), ttl=timedelta(hours=1), defaults={"spend": -1.0})
    times = np.array([T0], dtype=np.int64)
    columns = {"amount": np.array([4.0])}
    late = T0 + 2 * 3600 * S
    assert v.raw_as_of(times, columns, late) == ViewValue({"spend": 4.0, "n": 1}, "expired", T0)
    assert v.as_of(times, columns, late) == ViewValue({"spend": -1.0, "n": 1}, "defaulted", T0)
    assert v.as_of(times, columns, T0) == ViewValue({"spend": 4.0, "n": 1}, "present", T0)


# ------------------------------------------------------------------ source text and hash


def test_view_source_text_names_every_part() -> None:
    v = view(ttl=timedelta(days=7), defaults={"spend": 0.0})
    assert v.source == (
        "AggregateView('spend_30d', version=1, events='payments',\n"
        "    spend = sum(amount) over 30 days, 0:00:00,\n"
        "    n = count(amount) over 30 days, 0:00:00,\n"
        "    ttl=7 days, 0:00:00, defaults={'spend': 0.0})"
    )


def test_view_source_text_shows_window_as_ttl_when_none_given() -> None:
    assert view().source.endswith("ttl=30 days, 0:00:00, defaults={})")


def test_view_spec_holds_the_whole_definition() -> None:
    spec = view(ttl=timedelta(hours=12), defaults={"n": 0}).to_spec()
    assert spec == {
        "kind": "aggregate",
        "name": "spend_30d",
        "version": 1,
        "events": PAYMENTS.to_spec(),
        "aggregates": [["spend", "sum", "amount"], ["n", "count", "amount"]],
        "window_s": 30 * 86_400.0,
        "ttl_s": 12 * 3600.0,
        "defaults": {"n": 0},
    }


def test_view_source_hash_same_definition_is_equal() -> None:
    assert view().source_hash == view().source_hash
    assert view().source_hash.startswith("sha256:")


def test_view_source_hash_ttl_none_equals_ttl_of_the_window() -> None:
    assert view().source_hash == view(ttl=timedelta(days=30)).source_hash


def test_view_source_hash_ignores_description_and_defaults_order() -> None:
    a = view(defaults={"spend": 0.0, "n": 0})
    b = view(defaults={"n": 0, "spend": 0.0}, description="money spent")
    assert a.source_hash == b.source_hash


@pytest.mark.parametrize(
    "changes",
    [
        {"version": 2},
        {"window": timedelta(days=29)},
        {"ttl": timedelta(days=7)},
        {"defaults": {"spend": 0.0}},
        {"aggregates": (SPEND,)},
        {"aggregates": (COUNT, SPEND)},
        {"aggregates": (Aggregate("amount", "mean", name="spend"), COUNT)},
        {"events": Events("payments", entity=CARD, columns={"amount": "float64"})},
    ],
    ids=["version", "window", "ttl", "defaults", "fewer", "order", "function", "events"],
)
def test_view_source_hash_changes_with_the_definition(changes: dict[str, Any]) -> None:
    assert view(**changes).source_hash != view().source_hash
