"""A compiled guardrail condition, and the vectorised operations it is made of.

``roost.compose._expression`` parses and checks a condition's text and compiles it into
nested functions built from the operations below; ``Condition.evaluate`` runs them over
a whole batch at once. Every operation works on numpy arrays (one value per row) or
scalars (a literal), and treats a missing value (None, NaN, pd.NA) as the language
says: any comparison with it is False, and ``x == None`` tests for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from roost.errors import ModelError

__all__ = [
    "Condition",
    "Fn",
    "combine",
    "compare_present",
    "is_in",
    "is_missing",
    "numpy_op",
    "truth",
]

#: a compiled part of a condition: the batch's columns by name in, values per row out
Fn = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class Condition:
    """A compiled condition: which names it reads, and a vectorised test over a batch.

    Attributes:
        text: the condition as written.
        names: the input columns and outputs it reads.
    """

    text: str
    names: frozenset[str]
    test: Fn = field(repr=False, compare=False)

    def evaluate(self, columns: Mapping[str, Any], n_rows: int) -> Any:
        """The condition for each row: a numpy bool array of ``n_rows`` entries.

        Args:
            columns: each name the condition reads, one value per row (a list, a numpy
                array or a pandas Series).
            n_rows: the number of rows.

        Raises:
            ModelError: a name is missing from ``columns``, or values of an unexpected
                type could not be compared.
        """
        import numpy as np

        env = {}
        for name in self.names:
            if name not in columns:
                raise ModelError(f"condition {self.text!r}: no values for {name!r}")
            env[name] = _column(self.text, name, columns[name], n_rows)
        try:
            with np.errstate(all="ignore"):  # x / 0 is inf (or NaN), and inf compares fine
                result = self.test(env)
        except (TypeError, ValueError) as exc:
            raise ModelError(f"condition {self.text!r} failed on this batch: {exc}") from exc
        return np.broadcast_to(truth(result), (n_rows,)).copy()


def _column(text: str, name: str, values: Any, n_rows: int) -> Any:
    import numpy as np

    array = values.to_numpy() if hasattr(values, "to_numpy") else np.asarray(values)
    if array.shape != (n_rows,):
        raise ModelError(
            f"condition {text!r}: {name!r} has shape {array.shape}, expected ({n_rows},)"
        )
    if array.dtype == object and all(
        v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in array
    ):
        array = array.astype(float)  # numbers with gaps: None becomes NaN, arithmetic works
    return array


def numpy_op(name: str) -> Any:
    """The numpy function ``name``; numpy is imported only when a condition runs."""
    import numpy as np

    return getattr(np, name)


def is_missing(value: Any) -> Any:
    """Whether each value is missing (None, NaN, pd.NA)."""
    import pandas as pd

    return pd.isna(value)


def truth(value: Any) -> Any:
    """True/False per row; a missing value is False."""
    import numpy as np

    array = np.asarray(value)
    if array.dtype == bool:
        return array
    gaps = np.asarray(is_missing(array), dtype=bool)
    out = np.zeros(array.shape, dtype=bool)
    out[~gaps] = array[~gaps].astype(bool)
    return out


def combine(op: str, arrays: list[Any]) -> Any:
    """``arrays`` folded with the numpy function ``op`` (``logical_and``, ``logical_or``)."""
    result = arrays[0]
    for array in arrays[1:]:
        result = numpy_op(op)(result, array)
    return result


def compare_present(check: Callable[[Any, Any], Any], left: Any, right: Any) -> Any:
    """``check`` where both sides are present; False wherever either side is missing."""
    import numpy as np

    shape = np.broadcast_shapes(np.shape(left), np.shape(right))
    present = ~np.broadcast_to(np.logical_or(is_missing(left), is_missing(right)), shape)
    out = np.zeros(shape, dtype=bool)
    if present.any():

        def pick(v: Any) -> Any:
            return v[present] if np.ndim(v) else v

        out[present] = check(pick(left), pick(right))
    return out


def is_in(value: Any, values: list[Any], negate: bool) -> Any:
    """Whether each value is one of ``values`` (or not, with ``negate``); missing: False."""
    import numpy as np
    import pandas as pd

    array = np.atleast_1d(np.asarray(value))
    present = ~np.asarray(is_missing(array), dtype=bool)
    out = np.zeros(array.shape, dtype=bool)
    out[present] = pd.Series(array[present]).isin(values).to_numpy(dtype=bool) ^ negate
    return out if np.ndim(value) else out[0]
