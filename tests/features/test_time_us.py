"""Times in the feature room: everything becomes UTC epoch microseconds, exactly."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from roost.errors import FeatureError
from roost.features._time import from_time_us, iso_of, now_us, time_us, to_time_us
from roost.testing import FakeClock

T0 = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z
PARIS = timezone(timedelta(hours=1))


# ------------------------------------------------------------------ time_us


@pytest.mark.parametrize(
    "value",
    [
        datetime(2024, 1, 1),
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 1, 1, 1, tzinfo=PARIS),
        pd.Timestamp("2024-01-01"),
        pd.Timestamp("2024-01-01T01:00", tz="Europe/Paris"),
        np.datetime64("2024-01-01T00:00:00"),
        date(2024, 1, 1),
        "2024-01-01",
        "2024-01-01T00:00:00Z",
        "2024-01-01T00:00:00",
        "2024-01-01 01:00:00+01:00",
        "2023-12-31T19:00:00-05:00",
    ],
    ids=[
        "naive-datetime",
        "utc-datetime",
        "offset-datetime",
        "naive-timestamp",
        "paris-timestamp",
        "datetime64",
        "date",
        "iso-date",
        "iso-z",
        "iso-naive",
        "iso-plus-offset",
        "iso-minus-offset",
    ],
)
def test_time_us_every_form_of_one_instant_gives_the_same_int(value: Any) -> None:
    assert time_us(value) == T0


def test_time_us_keeps_microseconds_and_floors_nanoseconds() -> None:
    assert time_us("2024-01-01T00:00:00.000001Z") == T0 + 1
    assert time_us(pd.Timestamp("2024-01-01T00:00:00.000001999")) == T0 + 1
    assert time_us(np.datetime64("2024-01-01T00:00:00.000001999")) == T0 + 1
    assert time_us("2024-01-01T00:00:00.000001999") == T0 + 1


def test_time_us_before_the_epoch_is_negative_and_floored() -> None:
    assert time_us("1969-12-31T23:59:59.999999Z") == -1
    assert time_us(pd.Timestamp("1969-12-31T23:59:59.9999995")) == -1
    assert time_us(np.datetime64("1969-12-31T23:59:59.999999500")) == -1


@pytest.mark.parametrize("value", [1_700_000_000, 1.7e9, True, np.int64(5), np.float64(2.5)])
def test_time_us_number_is_refused_as_ambiguous(value: Any) -> None:
    with pytest.raises(FeatureError, match=r"request field 'ts': .*number.*ambiguous"):
        time_us(value, "request field 'ts'")


@pytest.mark.parametrize("value", [None, float("nan"), pd.NaT, np.datetime64("NaT"), pd.NA])
def test_time_us_null_is_refused(value: Any) -> None:
    with pytest.raises(FeatureError, match=r"^row time: expected a time, got "):
        time_us(value, "row time")


@pytest.mark.parametrize("text", ["", "yesterday", "Jan 3 2024", "2024-13-01", "2024-01-01T25:00"])
def test_time_us_non_iso_string_is_refused_naming_it(text: str) -> None:
    with pytest.raises(FeatureError, match="expected an ISO 8601 time") as caught:
        time_us(text)
    assert repr(text) in str(caught.value)


def test_time_us_other_object_is_refused_naming_its_type() -> None:
    with pytest.raises(FeatureError, match="got list"):
        time_us([2024, 1, 1])


# --------------------------------------------------------------- to_time_us


def test_to_time_us_naive_series_is_utc() -> None:
    series = pd.Series(pd.to_datetime(["2024-01-01T00:00:00", "2024-01-01T00:00:01"]))
    result = to_time_us(series)
    assert result.dtype == np.int64
    assert result.tolist() == [T0, T0 + 1_000_000]


def test_to_time_us_aware_series_is_converted_to_utc() -> None:
    series = pd.Series(pd.to_datetime(["2024-01-01T01:00:00"])).dt.tz_localize("Europe/Paris")
    assert to_time_us(series).tolist() == [T0]


def test_to_time_us_mixed_list_agrees_with_time_us() -> None:
    values = [
        "2024-01-01T00:00:00Z",
        datetime(2024, 1, 1, 0, 0, 1),
        pd.Timestamp("2024-01-01T01:00:02", tz="Europe/Paris"),
        datetime(2024, 1, 1, 1, 0, 3, tzinfo=PARIS),
        date(2024, 1, 2),
    ]
    assert to_time_us(values).tolist() == [time_us(v) for v in values]
    assert to_time_us(values).tolist()[:4] == [T0, T0 + 1_000_000, T0 + 2_000_000, T0 + 3_000_000]


def test_to_time_us_string_series_with_offsets_is_converted() -> None:
    series = pd.Series(["2024-01-01T00:00:00Z", "2024-01-01T02:00:00+02:00", "2024-01-01"])
    assert to_time_us(series).tolist() == [T0, T0, T0]


def test_to_time_us_floors_nanoseconds_like_time_us() -> None:
    series = pd.Series(
        pd.to_datetime(["2024-01-01T00:00:00.000001999", "1969-12-31T23:59:59.9999995"])
    )
    assert to_time_us(series).tolist() == [T0 + 1, -1]


def test_to_time_us_datetime64_array_is_read() -> None:
    array = np.array(["2024-01-01T00:00:00", "2024-01-01T00:00:00.5"], dtype="datetime64[ms]")
    assert to_time_us(array).tolist() == [T0, T0 + 500_000]


@pytest.mark.parametrize("empty", [[], pd.Series([], dtype="float64"), np.array([], dtype=object)])
def test_to_time_us_empty_gives_empty_int64(empty: Any) -> None:
    result = to_time_us(empty)
    assert result.dtype == np.int64
    assert result.size == 0


@pytest.mark.parametrize(
    "values",
    [pd.Series([1_700_000_000, 1_700_000_001]), np.array([1.5]), pd.Series([1], dtype="Int64")],
)
def test_to_time_us_numeric_column_is_refused_as_ambiguous(values: Any) -> None:
    with pytest.raises(FeatureError, match=r"^events 'payments' column 'ts': .*ambiguous"):
        to_time_us(values, "events 'payments' column 'ts'")


@pytest.mark.parametrize(
    ("values", "bad"),
    [
        (["2024-01-01", "2024-01-02", 1_700_000_000], "1700000000 (row 2)"),
        (["2024-01-01", None], "None (row 1)"),
        (["2024-01-01", "2024-01-02", "soon"], "'soon' (row 2)"),
        (["2024-01-01", ""], "'' (row 1)"),
        (pd.Series(["2024-01-01", None, "x"]), "nan (row 1)"),
        (pd.Series(pd.to_datetime(["2024-01-01", None])), "NaT (row 1)"),
    ],
    ids=["number", "none", "not-iso", "empty-string", "str-series-null", "datetime-null"],
)
def test_to_time_us_bad_value_names_where_value_and_row(values: Any, bad: str) -> None:
    with pytest.raises(FeatureError, match=r"^events 'payments' column 'ts': ") as caught:
        to_time_us(values, "events 'payments' column 'ts'")
    assert bad in str(caught.value)


def test_to_time_us_single_string_is_refused() -> None:
    with pytest.raises(FeatureError, match="expected a sequence of times"):
        to_time_us("2024-01-01")


# ------------------------------------------------------------ iso_of, now_us


@pytest.mark.parametrize(
    ("t_us", "text"),
    [
        (0, "1970-01-01T00:00:00Z"),
        (T0, "2024-01-01T00:00:00Z"),
        (T0 + 1, "2024-01-01T00:00:00.000001Z"),
        (-1, "1969-12-31T23:59:59.999999Z"),
    ],
)
def test_iso_of_writes_utc_with_z(t_us: int, text: str) -> None:
    assert iso_of(t_us) == text


def test_iso_of_accepts_numpy_integers() -> None:
    assert iso_of(np.int64(T0)) == "2024-01-01T00:00:00Z"  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [1.5, True, "0", 10**20])
def test_iso_of_non_int_or_out_of_range_is_refused(value: Any) -> None:
    with pytest.raises(FeatureError, match="time: "):
        iso_of(value)


@given(st.integers(min_value=-62_135_596_800_000_000, max_value=253_402_300_799_999_999))
def test_iso_of_and_from_time_us_round_trip_through_time_us(t_us: int) -> None:
    assert time_us(iso_of(t_us)) == t_us
    assert time_us(from_time_us(t_us)) == t_us


def test_from_time_us_gives_an_aware_utc_datetime_pandas_reads_back() -> None:
    moment = from_time_us(T0 + 1)
    assert moment == datetime(2024, 1, 1, 0, 0, 0, 1, tzinfo=UTC)
    frame = pd.DataFrame({"ts": [from_time_us(T0), moment]})
    assert to_time_us(frame["ts"]).tolist() == [T0, T0 + 1]


@pytest.mark.parametrize("value", [1.5, True, 10**20])
def test_from_time_us_non_int_or_out_of_range_is_refused(value: Any) -> None:
    with pytest.raises(FeatureError, match="time: "):
        from_time_us(value)


@given(
    st.datetimes(
        min_value=datetime(1700, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=st.none() | st.timezones(),
    )
)
def test_to_time_us_agrees_with_time_us_on_any_datetime(moment: datetime) -> None:
    expected = time_us(moment)
    assert to_time_us([moment]).tolist() == [expected]
    assert time_us(pd.Timestamp(moment)) == expected
    assert time_us(moment.isoformat()) == expected


def test_now_us_reads_the_clock_in_microseconds() -> None:
    clock = FakeClock(epoch=1.0)
    assert now_us(clock) == 1_000_000
    clock.advance(0.000001)
    assert now_us(clock) == 1_000_001


def test_to_time_us_form_pandas_refuses_is_read_one_by_one() -> None:
    """pandas cannot parse an offset with seconds; the values are then read like time_us."""
    values = ["2024-01-01T00:00:00Z", "1930-01-01T00:00:00+02:06:28"]
    assert to_time_us(values).tolist() == [T0, time_us(values[1])]
    assert time_us(values[1]) == time_us(datetime(1929, 12, 31, 21, 53, 32))
