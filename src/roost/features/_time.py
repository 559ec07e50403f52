"""Times inside the feature room: UTC epoch microseconds as plain ints.

Event tables, training rows, the online store and the clock all speak different time
dialects (naive datetimes, tz-aware Timestamps, ISO strings, float seconds). Everything
is turned into one integer here, at the edge, so that the point-in-time comparisons
(``event_time_us <= t_us``) are exact integer comparisons everywhere else.

The rules:

- a naive datetime (or an ISO string without an offset) is UTC; an aware one is
  converted to UTC;
- precision finer than a microsecond is floored (``…00.000001999`` → ``…00.000001``);
- plain numbers are refused: epoch seconds, milliseconds and nanoseconds all look
  alike, and guessing the unit wrong shifts every event silently.

Example:
    >>> time_us("1970-01-01T00:00:01Z")
    1000000
    >>> iso_of(1_000_001)
    '1970-01-01T00:00:01.000001Z'
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from roost.errors import FeatureError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from numpy.typing import NDArray

    from roost.clock import Clock

__all__ = ["from_time_us", "iso_of", "now_us", "time_us", "to_time_us"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_HINT = (
    "plain numbers are ambiguous (seconds? milliseconds?): convert them first, "
    "e.g. pandas.to_datetime(values, unit='s')"
)


def time_us(value: Any, where: str = "time") -> int:
    """One time as UTC epoch microseconds.

    Args:
        value: a ``datetime`` (naive means UTC), a pandas ``Timestamp``, a numpy
            ``datetime64``, a ``date`` (midnight UTC) or an ISO 8601 string.
        where: what the value is, for the error message (``"request field 'ts'"``).

    Returns:
        Microseconds since 1970-01-01T00:00:00Z (sub-microsecond precision floored).

    Raises:
        FeatureError: the value is null, a plain number, or not a time.

    Example:
        >>> time_us(datetime(1970, 1, 1, 0, 0, 2))
        2000000
    """
    return _time_us(value, where, None)


def to_time_us(values: Any, where: str = "times") -> NDArray[np.int64]:
    """Many times as a numpy array of UTC epoch microseconds (one per value, in order).

    Args:
        values: a pandas Series/Index/array, a numpy array or a list of datetimes
            (naive means UTC), Timestamps, ``datetime64`` values or ISO 8601 strings.
        where: what the values are, for error messages (``"events 'payments' column 'ts'"``).

    Returns:
        An int64 array of microseconds since the epoch.

    Raises:
        FeatureError: a value is null, a plain number or not a time, naming ``where``,
            the first bad value and its row (position, from 0).

    Example:
        >>> to_time_us(["1970-01-01T00:00:01Z", datetime(1970, 1, 1)]).tolist()
        [1000000, 0]
    """
    import numpy as np
    import pandas as pd

    if isinstance(values, str | bytes) or not hasattr(values, "__len__"):
        raise FeatureError(f"{where}: expected a sequence of times, got {values!r}")
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    dtype = getattr(values, "dtype", None)
    if dtype is None:
        values = np.asarray(list(values), dtype=object)
        dtype = values.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or (isinstance(dtype, np.dtype) and dtype.kind == "M"):
        index = pd.DatetimeIndex(values)
    elif (isinstance(dtype, np.dtype) and dtype.kind in "biuf") or (
        not isinstance(dtype, np.dtype) and pd.api.types.is_numeric_dtype(dtype)
    ):
        raise FeatureError(f"{where}: expected times, got {dtype} numbers; {_HINT}")
    else:
        parsed = _parse_objects(np.asarray(values, dtype=object), where)
        if not isinstance(parsed, pd.DatetimeIndex):
            return parsed
        index = parsed
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    nulls = np.flatnonzero(index.isna())
    if nulls.size:
        row = int(nulls[0])
        raise FeatureError(f"{where}: expected a time, got {_item(values, row)!r} (row {row})")
    # numpy floors when it casts to a coarser unit, as time_us does
    return index.to_numpy().astype("datetime64[us]").astype(np.int64)


def iso_of(t_us: int) -> str:
    """UTC epoch microseconds as an ISO 8601 string ending in ``Z``.

    Microseconds are written only when non-zero; ``time_us(iso_of(t)) == t``.

    Raises:
        FeatureError: ``t_us`` is not a whole number of microseconds within years 1-9999.

    Example:
        >>> iso_of(0)
        '1970-01-01T00:00:00Z'
    """
    moment = from_time_us(t_us)
    return moment.replace(tzinfo=None).isoformat() + "Z"


def from_time_us(t_us: int) -> datetime:
    """UTC epoch microseconds as an aware UTC ``datetime``; ``time_us`` of it gives ``t_us``.

    Raises:
        FeatureError: ``t_us`` is not a whole number of microseconds within years 1-9999.

    Example:
        >>> from_time_us(1_000_000)
        datetime.datetime(1970, 1, 1, 0, 0, 1, tzinfo=datetime.timezone.utc)
    """
    if isinstance(t_us, bool) or not isinstance(t_us, int):
        import numpy as np

        if not isinstance(t_us, np.integer):
            raise FeatureError(f"time: expected whole microseconds (an int), got {t_us!r}")
        t_us = int(t_us)
    try:
        return _EPOCH + timedelta(microseconds=t_us)
    except OverflowError:
        raise FeatureError(f"time: {t_us} µs since the epoch is outside the years 1-9999") from None


def now_us(clock: Clock) -> int:
    """The clock's current time (``clock.time()`` seconds) in epoch microseconds.

    Rounded, not truncated: ``1.000001`` seconds is ``1000000.9999999999`` as a float
    product, and must still read ``1000001``.
    """
    return round(clock.time() * 1_000_000)


def _is_null(value: Any) -> bool:
    import numpy as np
    import pandas as pd

    if value is None or value is pd.NaT or value is pd.NA:
        return True
    if isinstance(value, np.datetime64):
        return bool(np.isnat(value))
    return isinstance(value, float | np.floating) and math.isnan(value)


def _is_number(value: Any) -> bool:
    import numpy as np

    return isinstance(value, bool | int | float | np.bool_ | np.number)


def _time_us(value: Any, where: str, row: int | None) -> int:
    """``time_us``, naming the row (when given) right after the value in messages."""
    import numpy as np
    import pandas as pd

    at = "" if row is None else f" (row {row})"
    if _is_null(value):
        raise FeatureError(f"{where}: expected a time, got {value!r}{at}")
    if _is_number(value):
        raise FeatureError(f"{where}: expected a time, got the number {value!r}{at}; {_HINT}")
    if isinstance(value, np.datetime64):
        return int(np.array([value]).astype("datetime64[us]").astype(np.int64)[0])
    if isinstance(value, str):
        value = _parse_iso(value, where, at)
    if isinstance(value, pd.Timestamp):
        # to_pydatetime drops the nanoseconds, which (always 0-999) is a floor
        value = value.to_pydatetime(warn=False)
    if isinstance(value, datetime):
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return (aware - _EPOCH) // _ONE_US
    if isinstance(value, date):
        return (datetime(value.year, value.month, value.day, tzinfo=UTC) - _EPOCH) // _ONE_US
    raise FeatureError(
        f"{where}: expected a datetime, Timestamp or ISO 8601 string, "
        f"got {type(value).__name__} {value!r}{at}"
    )


def _parse_iso(text: str, where: str, at: str) -> Any:
    import pandas as pd

    try:
        parsed = pd.to_datetime(text, utc=True, format="ISO8601")
    except (ValueError, TypeError, OverflowError):
        parsed = None
    if isinstance(parsed, pd.Timestamp):
        return parsed
    if text.strip():
        try:
            # pandas refuses a few forms Python reads, such as offsets with seconds (+02:06:28)
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    raise FeatureError(
        f"{where}: expected an ISO 8601 time (like 2024-05-01T12:00:00Z), got {text!r}{at}"
    )


def _parse_objects(values: NDArray[Any], where: str) -> pd.DatetimeIndex | NDArray[np.int64]:
    """Strings, datetimes and Timestamps (mixed, any zone): a UTC DatetimeIndex, or µs ints."""
    import numpy as np
    import pandas as pd

    for row, value in enumerate(values):
        # pandas would read numbers as epoch nanoseconds and Nones as NaT: refuse both here
        if _is_null(value) or _is_number(value):
            _time_us(value, where, row)
    try:
        index: pd.DatetimeIndex = pd.to_datetime(
            pd.Index(values, dtype=object), utc=True, format="ISO8601"
        )
        return index
    except (ValueError, TypeError, OverflowError):
        # one by one: slower, but reads what time_us reads, and names the first bad row
        return np.array(
            [_time_us(value, where, row) for row, value in enumerate(values)], dtype=np.int64
        )


def _item(values: Any, row: int) -> Any:
    import pandas as pd

    if isinstance(values, pd.Series):
        return values.iloc[row]
    return values[row]
