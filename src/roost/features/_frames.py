"""Event frames: pandas in and out of the offline store, and the point-in-time join.

Three conversions between a pandas frame of events and what the room computes with:

- ``rows_of`` checks a frame about to be ingested, value by value, and gives plain
  rows: the canonical key (``Entity.key_of``), the time in UTC epoch µs, the key
  values and the declared values (None for a null);
- ``frame_of`` turns stored rows back into a typed frame (``event_columns`` order);
- ``view_values`` is the point-in-time join. A training row at time ``t`` must see the
  features the model would have been served at ``t``: computed from events at or before
  ``t`` and nothing later, or the model learns from the future and disappoints in
  production. ``view_values`` computes nothing itself: for each (key, time) pair it
  calls ``AggregateView.as_of``, the very function materialization and compute-on-miss
  call, with that key's events. Grouping by key happens once; the window and the TTL
  are ``as_of``'s business.

Example:
    >>> events = offline.read(payments, keys=keys)                # doctest: +SKIP
    >>> view_values(spend_30d, events, ["[42]", "[7]"], [t1_us, t2_us])  # doctest: +SKIP
    [ViewValue(values={'spend_30d': 12.5}, status='present', ...), ...]
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from roost.errors import FeatureError
from roost.features._time import to_time_us
from roost.features.aggregates import AggregateView, ViewValue
from roost.features.entities import Events
from roost.features.transforms import coerce

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["event_columns", "frame_of", "rows_of", "view_values"]

_INT64 = (-(2**63), 2**63 - 1)


def event_columns(events: Events) -> list[tuple[str, str]]:
    """The stored columns of an events table and their dtypes, in order.

    ``_key`` (the canonical entity key, ``string``), ``_time_us`` (``int64``), then the
    entity's key columns and the declared value columns.
    """
    return [("_key", "string"), ("_time_us", "int64"), *events.entity.keys, *events.columns]


def rows_of(events: Events, frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    """Check a frame of events and give its rows as plain values, in ``event_columns`` order.

    Columns other than the entity keys, the timestamp and the declared value columns are
    ignored. Value columns may hold nulls (None in the rows); keys and times may not.

    Args:
        events: the table the frame's rows belong to.
        frame: one row per event.

    Returns:
        One tuple per row: canonical key, time (epoch µs), key values, declared values.

    Raises:
        FeatureError: not a frame; a column missing (naming them all) or doubled; a key
            null or of the wrong type; a time null or not a time; a value that does not
            fit its column's dtype (naming the column, the value and its row).
    """
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise FeatureError(
            f"events {events.name!r}: expected a pandas DataFrame, got {type(frame).__name__}"
        )
    names = [*events.entity.key_names, events.timestamp, *events.column_names]
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise FeatureError(
            f"events {events.name!r}: the frame is missing columns {missing} "
            f"(it has: {[str(c) for c in frame.columns]})"
        )
    doubled = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]} & {*names})
    if doubled:
        raise FeatureError(f"events {events.name!r}: the frame has columns {doubled} twice")
    keys, key_values = _keys(events, frame)
    where = f"events {events.name!r} column {events.timestamp!r}"
    times = to_time_us(frame[events.timestamp], where).tolist()
    values = [_values(events, name, dtype, frame[name]) for name, dtype in events.columns]
    return list(zip(keys, times, *key_values, *values, strict=True))


def frame_of(events: Events, rows: Sequence[tuple[Any, ...]]) -> pd.DataFrame:
    """Stored rows (``event_columns`` order) as a typed frame.

    ``int64``, ``float64``, ``bool`` and ``object`` (Python ``str``) columns; a null is NaN
    in a float column and None in a string column, but an ``int64`` column holding a null
    comes back as ``float64`` (NaN) and a ``bool`` one as ``object`` (True/False/None).

    Args:
        events: the table the rows belong to.
        rows: tuples as ``rows_of`` gives them (or as the offline store keeps them).

    Returns:
        A frame with the ``event_columns`` (empty, but typed, when there are no rows).
    """
    import pandas as pd

    columns = event_columns(events)
    values = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    data = {
        name: _column(list(column), dtype)
        for (name, dtype), column in zip(columns, values, strict=True)
    }
    return pd.DataFrame(data)


def view_values(
    view: AggregateView,
    events: pd.DataFrame,
    keys: Sequence[str],
    times_us: Sequence[int] | Any,
    *,
    raw: bool = False,
) -> list[ViewValue]:
    """The view's value for each ``(keys[i], times_us[i])`` pair, in order.

    Args:
        view: the aggregate view.
        events: its events table as ``OfflineStore.read`` returns it: the columns
            ``_key``, ``_time_us`` and (at least) the columns the view aggregates. Rows
            need not be sorted; rows of one key with equal times keep their order.
        keys: each row's canonical entity key (``Entity.key_of``).
        times_us: each row's time (UTC epoch µs); only events at or before it count.
        raw: call ``view.raw_as_of`` (values before defaults, as materialization stores
            them) instead of ``view.as_of``.

    Returns:
        One ``ViewValue`` per row: ``view.as_of`` of that key's events at that time.
        A key without events gets ``as_of`` of no events (missing, or defaulted).

    Raises:
        FeatureError: ``keys`` and ``times_us`` differ in length, a time is not a whole
            number, or ``events`` lacks a column the view needs.

    Example:
        >>> view_values(spend_30d, events, ["[42]"], [1_714_564_800_000_000])  # doctest: +SKIP
    """
    import numpy as np

    times = _times(view, keys, times_us)
    columns = sorted({aggregate.column for aggregate in view.aggregates})
    missing = [name for name in ("_key", "_time_us", *columns) if name not in events.columns]
    if missing:
        raise FeatureError(
            f"aggregate view {view.ref}: the events frame lacks columns {missing} "
            f"(it has: {[str(c) for c in events.columns]})"
        )
    event_times = np.asarray(events["_time_us"].to_numpy(), dtype=np.int64)
    arrays = {name: _array(events[name]) for name in columns}
    groups: dict[Any, Any] = dict(events.groupby("_key", sort=False).indices)
    no_events = (np.zeros(0, dtype=np.int64), {name: arrays[name][:0] for name in columns})
    cache: dict[str, tuple[Any, dict[str, Any]]] = {}
    compute = view.raw_as_of if raw else view.as_of
    results: list[ViewValue] = []
    for key, t_us in zip(keys, times, strict=True):
        entry = cache.get(key)
        if entry is None:
            positions = groups.get(key)
            if positions is None:
                entry = no_events
            else:
                # as_of reads sorted times; a stable sort keeps equal times in ingest order
                positions = positions[np.argsort(event_times[positions], kind="stable")]
                entry = (
                    event_times[positions],
                    {name: arrays[name][positions] for name in columns},
                )
            cache[key] = entry
        results.append(compute(entry[0], entry[1], t_us))
    return results


def _times(view: AggregateView, keys: Sequence[str], times_us: Sequence[int] | Any) -> list[int]:
    """The row times as Python ints, checked against the keys."""
    import numpy as np

    if isinstance(keys, str):
        raise FeatureError(f"aggregate view {view.ref}: expected a list of keys, got {keys!r}")
    if len(keys) != len(times_us):
        raise FeatureError(
            f"aggregate view {view.ref}: expected one time per key, got "
            f"{len(keys)} keys and {len(times_us)} times"
        )
    times: list[int] = []
    for row, value in enumerate(times_us):
        if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
            raise FeatureError(
                f"aggregate view {view.ref}: expected each time as whole epoch µs (an int), "
                f"got {value!r} (row {row})"
            )
        times.append(int(value))
    return times


def _array(series: pd.Series) -> Any:
    """A column as the numpy array ``as_of`` expects: floats with NaN, or objects with None.

    Nullable pandas columns (``Int64``, ``boolean``, ``string``) hold ``pd.NA``, which
    numpy cannot sum and ``count`` would take for a value.
    """
    import numpy as np
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in ("b", "i", "u", "f"):
        return series.to_numpy()
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    values = series.to_numpy(dtype=object, copy=True)  # pandas may hand out a read-only view
    values[pd.isna(values)] = None
    return values


def _is_null(value: Any) -> bool:
    import pandas as pd

    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _keys(events: Events, frame: pd.DataFrame) -> tuple[list[str], list[list[int | str]]]:
    """Each row's canonical key, and each key column's values (as the key holds them)."""
    entity = events.entity
    columns = {name: frame[name].tolist() for name in entity.key_names}
    keys: list[str] = []
    values: list[list[int | str]] = [[] for _ in entity.keys]
    for row in range(len(frame)):
        named = {name: None if _is_null(v[row]) else v[row] for name, v in columns.items()}
        try:
            key = entity.key_of(named)
        except FeatureError as exc:
            raise FeatureError(f"events {events.name!r}: {exc} (row {row})") from None
        parts = json.loads(key)
        for column, ((name, dtype), part) in enumerate(zip(entity.keys, parts, strict=True)):
            if dtype == "int64" and not _INT64[0] <= part <= _INT64[1]:
                raise FeatureError(
                    f"events {events.name!r}: key {name!r} expected an int64 value, "
                    f"got {named[name]!r} (row {row})"
                )
            values[column].append(part)
        keys.append(key)
    return keys, values


def _values(events: Events, name: str, dtype: str, series: pd.Series) -> list[Any]:
    """A value column's values as plain Python values, None for a null; checked one by one."""
    import numpy as np

    raw = series.tolist()
    kind = series.dtype.kind if isinstance(series.dtype, np.dtype) else ""
    # fast paths: numpy columns whose dtype already guarantees the values fit
    if dtype == "float64" and kind in ("f", "i", "u"):
        return [None if v != v else float(v) for v in raw]  # v != v: NaN
    if (dtype == "int64" and kind == "i") or (dtype == "bool" and kind == "b"):
        return raw
    checked: list[Any] = []
    for row, value in enumerate(raw):
        if _is_null(value):
            checked.append(None)
            continue
        try:
            plain = coerce(value, dtype, f"events {events.name!r} column {name!r}")
            if isinstance(plain, int) and not _INT64[0] <= plain <= _INT64[1]:
                raise FeatureError("outside the int64 range")
        except FeatureError:
            raise FeatureError(
                f"events {events.name!r}: column {name!r} expected {dtype} values, "
                f"got {value!r} (row {row})"
            ) from None
        checked.append(plain)
    return checked


def _column(values: list[Any], dtype: str) -> pd.Series:
    import numpy as np
    import pandas as pd

    has_null = any(v is None for v in values)
    if dtype == "float64" or (dtype == "int64" and has_null):
        return pd.Series(np.array(values, dtype=np.float64), dtype=np.float64)
    if dtype == "int64":
        return pd.Series(np.array(values, dtype=np.int64), dtype=np.int64)
    if dtype == "bool":
        if has_null:
            return pd.Series([None if v is None else bool(v) for v in values], dtype=object)
        return pd.Series(np.array(values, dtype=np.bool_), dtype=np.bool_)
    # object, not pandas' "str" dtype: the room hands plain Python strings to as_of and coerce
    return pd.Series(values, dtype=object)
