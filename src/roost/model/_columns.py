"""Validate rows against a column signature: one typed pandas column per input.

Every error names the column, the expected type and the received value, with the
row index, so a client can fix its request without reading code. Numeric columns
are checked vectorised; only a column of Python objects is read value by value to
find the first offender.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from roost.errors import SignatureError
from roost.model._batches import RowBlock, as_frame
from roost.model._values import describe, is_missing, out_of_range
from roost.types import Rows

if TYPE_CHECKING:
    import pandas as pd

    from roost.model._signature import ColumnSpec

__all__ = ["validate_columns"]


def _as_frame(specs: tuple[ColumnSpec, ...], rows: Rows) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    names = [spec.name for spec in specs]
    if isinstance(rows, pd.DataFrame):
        return rows
    if isinstance(rows, pd.Series):
        return rows.to_frame().T.reset_index(drop=True)
    if isinstance(rows, Mapping):
        return pd.DataFrame([dict(rows)])
    if isinstance(rows, np.ndarray):
        if rows.ndim == 1:
            rows = rows.reshape(1, -1)
        if rows.ndim != 2 or rows.shape[1] != len(names):
            raise SignatureError(
                f"input: expected rows of {len(names)} columns ({', '.join(names)}), "
                f"got an array of shape {rows.shape}"
            )
        return pd.DataFrame(rows, columns=names)
    if isinstance(rows, Sequence) and not isinstance(rows, str | bytes):
        if len(rows) == 0:
            return pd.DataFrame({name: [] for name in names})
        if all(isinstance(r, Mapping) for r in rows):
            return pd.DataFrame.from_records(list(rows))
        if all(isinstance(r, Sequence) and not isinstance(r, str | bytes) for r in rows):
            for i, r in enumerate(rows):
                if len(r) != len(names):
                    raise SignatureError(
                        f"row {i}: expected {len(names)} values ({', '.join(names)}), got {len(r)}",
                        row=i,
                    )
            return pd.DataFrame([list(r) for r in rows], columns=names)
        if len(rows) == len(names) and not any(isinstance(r, Mapping | list) for r in rows):
            return pd.DataFrame([list(rows)], columns=names)
        raise SignatureError(
            "input: expected a list of dicts (one per row) or a list of rows, "
            "got a list mixing other values"
        )
    raise SignatureError(
        "input: expected a DataFrame, a list of dicts, a numpy array or one dict, "
        f"got {type(rows).__name__}"
    )


def _first_bad(values: Any, ok: Any) -> tuple[int, Any] | None:
    for i, value in enumerate(values):
        if not ok(value):
            return i, value
    return None


def _column_error(spec: ColumnSpec, row: int, value: Any, why: str = "") -> SignatureError:
    detail = f" ({why})" if why else ""
    return SignatureError(
        f"column {spec.name!r}: expected {spec.dtype}, got {describe(value)} in row {row}{detail}",
        field=spec.name,
        row=row,
    )


def _check_missing(spec: ColumnSpec, column: pd.Series) -> None:
    if spec.allow_nan:
        return
    mask = column.isna().to_numpy()
    if mask.any():
        row = int(mask.argmax())
        value = column.iloc[row]
        raise SignatureError(
            f"column {spec.name!r}: expected {spec.dtype}, got {describe(value, typed=False)} "
            f"in row {row} (a missing value, and this column allows none)",
            field=spec.name,
            row=row,
        )


def _coerce_numeric(spec: ColumnSpec, column: pd.Series) -> pd.Series:
    import numpy as np
    import pandas as pd

    if isinstance(column.dtype, pd.CategoricalDtype):
        column = column.astype(object)  # categories of numbers are numbers; others fail below
    kind = column.dtype.kind
    if len(column) and (kind == "b" or kind not in "iufO"):
        raise _column_error(spec, 0, column.iloc[0])
    if kind == "O" or pd.api.types.is_extension_array_dtype(column.dtype):

        def ok(v: Any) -> bool:
            return is_missing(v) or (
                isinstance(v, int | float | np.integer | np.floating)
                and not isinstance(v, bool | np.bool_)
            )

        bad = _first_bad(column, ok)
        if bad is not None:
            raise _column_error(spec, *bad)
        column = pd.to_numeric(column.astype(object).where(column.notna(), np.nan))
    target = np.dtype(spec.dtype)
    unfit = out_of_range(column.to_numpy(), target)
    if unfit.any():
        row = int(unfit.argmax())
        raise _column_error(spec, row, column.iloc[row], f"out of range for {spec.dtype}")
    if spec.dtype == "int64" and column.dtype.kind in "iu":
        # straight to int64: through float64, ids above 2**53 would lose their last digits
        return pd.Series(column.to_numpy(dtype="int64"), name=spec.name)
    values = column.to_numpy(dtype="float64" if spec.dtype != "float32" else "float32")
    if spec.dtype == "int64":
        finite = values[~np.isnan(values)]
        fractional = finite != np.round(finite)
        if fractional.any():
            row = int(np.flatnonzero(~np.isnan(values))[int(fractional.argmax())])
            raise _column_error(spec, row, column.iloc[row], "not a whole number")
        if not np.isnan(values).any():
            return pd.Series(values.astype("int64"), name=spec.name)
    return pd.Series(values, name=spec.name)


def _coerce_string(spec: ColumnSpec, column: pd.Series) -> pd.Series:
    import pandas as pd

    if isinstance(column.dtype, pd.CategoricalDtype):
        column = column.astype(object)
    bad = _first_bad(column, lambda v: isinstance(v, str) or is_missing(v))
    if bad is not None:
        raise _column_error(spec, *bad)
    return column.astype(object).where(column.notna(), None).rename(spec.name)


def _coerce_bool(spec: ColumnSpec, column: pd.Series) -> pd.Series:
    import numpy as np

    if column.dtype.kind != "b":
        bad = _first_bad(column, lambda v: isinstance(v, bool | np.bool_) or is_missing(v))
        if bad is not None:
            raise _column_error(spec, *bad)
    return column.rename(spec.name) if spec.allow_nan else column.astype(bool).rename(spec.name)


def _coerce_datetime(spec: ColumnSpec, column: pd.Series) -> pd.Series:
    import numpy as np
    import pandas as pd

    if column.dtype.kind != "M":
        # Parsed value by value: pd.to_datetime on the column guesses one format from the
        # first value and fails on "2024-01-01" next to "2024-01-02 10:00"; numbers are
        # refused, as 5 would silently become 5 nanoseconds after 1970.
        stamps: list[Any] = []
        aware: bool | None = None
        for i, value in enumerate(column):
            if is_missing(value):
                stamps.append(pd.NaT)
                continue
            if isinstance(value, bool | int | float | np.number):
                raise _column_error(spec, i, value, "not a date or time")
            try:
                stamp = pd.Timestamp(value)
            except (TypeError, ValueError):
                raise _column_error(spec, i, value, "not a date or time") from None
            if pd.isna(stamp):  # "" and "NaT" parse as a missing time
                if not spec.allow_nan:
                    raise _column_error(
                        spec, i, value, "a missing value, and this column allows none"
                    )
                stamps.append(pd.NaT)
                continue
            if aware is None:
                aware = stamp.tzinfo is not None
            elif aware != (stamp.tzinfo is not None):
                raise _column_error(spec, i, value, "mixes times with and without a time zone")
            stamps.append(stamp)
        try:
            index = pd.DatetimeIndex(stamps)
        except ValueError:  # several UTC offsets: the same instants, expressed in UTC
            index = pd.to_datetime(stamps, utc=True)
        column = pd.Series(index, name=spec.name)
    return column.rename(spec.name)


_COERCE = {
    "int64": _coerce_numeric,
    "float32": _coerce_numeric,
    "float64": _coerce_numeric,
    "string": _coerce_string,
    "bool": _coerce_bool,
    "datetime": _coerce_datetime,
}


@functools.lru_cache(maxsize=256)
def _column_index(names: tuple[str, ...]) -> pd.Index:
    """The columns as a pandas Index, built once: from a list pandas spends ~20 us per frame."""
    import pandas as pd

    return pd.Index(names)


def float_row_block(specs: tuple[ColumnSpec, ...], rows: Rows) -> RowBlock | None:
    """The fast path for the commonest request: dicts of plain numbers for float64 columns.

    Serving validates every request on its own, so this runs once per request: building
    a DataFrame from dicts costs ~0.5 ms, checking the values and filling one numpy
    array ~5 us. Anything unusual (a missing column, a string, a bool, a NaN where none
    is allowed, a non-float column) returns None, and the general path finds it and
    words the error.
    """
    import numpy as np

    if isinstance(rows, dict):
        rows = [rows]
    if not isinstance(rows, list) or not rows:
        return None
    if not all(spec.dtype == "float64" for spec in specs):
        return None
    names = tuple(spec.name for spec in specs)
    try:
        matrix = [[row[name] for name in names] for row in rows]
    except (KeyError, TypeError):  # a missing column, or a row that is not a dict
        return None
    for values in matrix:
        for value in values:
            # exact types: bool is an int subclass, numpy scalars take the general path
            kind = type(value)
            if kind is not float and kind is not int:
                return None
    try:
        array = np.array(matrix, dtype=np.float64)
    except OverflowError:  # an int too large for a float: the general path says which
        return None
    if np.isnan(array).any() and not all(spec.allow_nan for spec in specs):
        return None
    return RowBlock(_column_index(names), array)


def _plain_numeric_records(specs: tuple[ColumnSpec, ...], rows: Rows) -> pd.DataFrame | None:
    """The fast path as a DataFrame, also for int64 columns (see ``float_row_block``)."""
    import numpy as np
    import pandas as pd

    block = float_row_block(specs, rows)
    if block is not None:
        return as_frame(block)  # type: ignore[no-any-return]
    if isinstance(rows, Mapping):
        rows = [rows]
    if not isinstance(rows, list) or not rows:
        return None
    if not all(spec.dtype in ("float64", "int64") for spec in specs):
        return None
    names = [spec.name for spec in specs]
    kinds = tuple(float if spec.dtype == "float64" else int for spec in specs)
    try:
        matrix = [[row[name] for name in names] for row in rows]
    except (KeyError, TypeError):
        return None
    for values in matrix:
        for value, kind in zip(values, kinds, strict=True):
            if type(value) is not kind and not (kind is float and type(value) is int):
                return None
    try:
        columns = {
            name: np.array([r[j] for r in matrix], dtype=np.float64 if k is float else np.int64)
            for j, (name, k) in enumerate(zip(names, kinds, strict=True))
        }
    except OverflowError:  # an int beyond int64: the general path says which
        return None
    if any(np.isnan(c).any() for c in columns.values() if c.dtype.kind == "f") and not all(
        spec.allow_nan for spec in specs
    ):
        return None
    return pd.DataFrame(columns)


_EXACT_DTYPES = ("bool", "int64", "float32", "float64")


def _ready_frame(specs: tuple[ColumnSpec, ...], rows: Rows) -> pd.DataFrame | None:
    """A DataFrame whose numeric and bool columns already have the signature's dtypes.

    It needs no conversion, only the missing-value check, and takes a fraction of the
    general path's time: a composite hands its validated batch on to its members this
    way, and notebooks pass such frames all the time. Anything else returns None.
    """
    import numpy as np
    import pandas as pd

    if not isinstance(rows, pd.DataFrame) or not all(s.dtype in _EXACT_DTYPES for s in specs):
        return None
    names = [spec.name for spec in specs]
    try:
        frame = rows[names]
    except (KeyError, ValueError):  # a missing or repeated column: the general path says which
        return None
    for spec, dtype in zip(specs, frame.dtypes, strict=True):
        if dtype != np.dtype(spec.dtype):
            return None
        is_float = spec.dtype.startswith("float")
        if is_float and not spec.allow_nan and np.isnan(frame[spec.name].to_numpy()).any():
            return None
    return frame.reset_index(drop=True)


def validate_columns(specs: tuple[ColumnSpec, ...], rows: Rows) -> pd.DataFrame:
    import pandas as pd

    fast = _plain_numeric_records(specs, rows)
    if fast is not None:
        return fast
    ready = _ready_frame(specs, rows)
    if ready is not None:
        return ready
    # pd.DataFrame([]) has no rows, so no column can be wrong; [{}, {}] must still fail,
    # and pandas reads it as the same empty frame, hence the check on what was sent
    is_empty_frame = isinstance(rows, pd.DataFrame) and rows.shape == (0, 0)
    frame = _as_frame(specs, [] if is_empty_frame else rows)
    missing = [spec for spec in specs if spec.name not in frame.columns]
    if missing:
        spec = missing[0]
        raise SignatureError(
            f"missing column {spec.name!r} (expected {spec.dtype}); "
            f"received columns: {', '.join(map(str, frame.columns)) or 'none'}",
            field=spec.name,
        )
    frame = frame.reset_index(drop=True)
    columns = {}
    for spec in specs:
        # missing values are checked on the column as sent, before any conversion, so a
        # None is reported as None rather than as the NaN or NaT it would become
        _check_missing(spec, frame[spec.name])
        columns[spec.name] = _COERCE[spec.dtype](spec, frame[spec.name])
    return pd.DataFrame(columns, index=pd.RangeIndex(len(frame)))
