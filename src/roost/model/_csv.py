"""Read CSV text as a signature's columns: what ``roost predict`` and MLflow's ``text/csv`` share.

CSV is text, so it is read with the signature in hand: ``string`` columns stay text
(``"01234"`` keeps its zero), and a numeric column that pandas left as text because
of one bad cell is reported at that cell, not at its first row. Everything else
(missing columns, missing values, ranges) is left to ``Signature.validate``.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from roost.errors import ConfigError, SignatureError
from roost.model._signature import ColumnSpec, Signature

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["parse_csv"]

_NUMERIC = ("int64", "float32", "float64")


def _column_specs(signature: Signature | None) -> list[ColumnSpec]:
    if signature is None:
        return []
    return [spec for spec in signature.inputs if isinstance(spec, ColumnSpec)]


def _as_number(value: object) -> bool:
    if not isinstance(value, str):
        return True  # a number, or missing: the signature judges it
    try:
        float(value)
    except ValueError:
        return False
    return True


def _numbers_from_text(source: str, frame: pd.DataFrame, specs: list[ColumnSpec]) -> pd.DataFrame:
    """Turn numeric columns that pandas left as text into numbers, or name the bad cell."""
    import pandas as pd

    for spec in specs:
        if spec.dtype not in _NUMERIC or spec.name not in frame.columns:
            continue
        column = frame[spec.name]
        if not pd.api.types.is_string_dtype(column.dtype):
            continue  # numbers already, or something the signature will judge
        for row, value in enumerate(column):
            if not _as_number(value):
                raise SignatureError(
                    f"column {spec.name!r}: expected {spec.dtype}, got {value!r} (str) "
                    f"in row {row} of {source}",
                    field=spec.name,
                    row=row,
                )
        # the parser that accepted every cell above converts them: nothing can fail here
        frame[spec.name] = column.map(lambda v: float(v) if isinstance(v, str) else v)
    return frame


def parse_csv(
    text: str, signature: Signature | None = None, *, source: str = "CSV"
) -> pd.DataFrame:
    """Read CSV text (a header row, then one row per line) into a DataFrame.

    Args:
        text: the CSV, already decoded.
        signature: the model's, so ``string`` columns stay text and a bad number is
            reported at its cell; without it pandas guesses every column's type.
        source: how to name the text in messages (a file name, ``stdin``, ``request body``).

    Raises:
        ConfigError: the text is not CSV, or has no header row.
        SignatureError: a cell is not a number where the signature wants one.

    Example:
        >>> parse_csv("zip,rooms\\n01234,3\\n").to_dict(orient="records")
        [{'zip': 1234, 'rooms': 3}]
        >>> zip_code = Signature((ColumnSpec("zip", "string"),), (OutputSpec("price", "float64"),))
        >>> parse_csv("zip,rooms\\n01234,3\\n", zip_code).to_dict(orient="records")
        [{'zip': '01234', 'rooms': 3}]
    """
    import pandas as pd

    specs = _column_specs(signature)
    text_columns = {spec.name: str for spec in specs if spec.dtype == "string"}
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=text_columns or None)
    except pd.errors.EmptyDataError:
        raise ConfigError(f"{source}: expected CSV with a header row, got no columns") from None
    except (pd.errors.ParserError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{source}: not valid CSV ({first_line})") from None
    return _numbers_from_text(source, frame, specs)
