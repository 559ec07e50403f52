"""How validation talks about values: naming them in messages, and spotting missing or
out-of-range ones. Shared by the column and the tensor checks."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["describe", "is_missing", "out_of_range"]


def describe(value: Any, *, typed: bool = True) -> str:
    # numpy scalars are named as the Python value a client sent: 1.5 (float), not (float64)
    if isinstance(value, str):
        value = str(value)
    elif hasattr(value, "item") and not isinstance(value, bytes):
        value = value.item()
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})" if typed else text


def out_of_range(values: np.ndarray, target: np.dtype[Any]) -> np.ndarray:
    """Where numbers do not fit ``target``: a cast would wrap (ints) or overflow to inf."""
    import numpy as np

    if values.dtype.kind not in "iuf" or target.kind not in "iuf":
        return np.zeros(values.shape, dtype=bool)
    info: Any = np.iinfo(target) if target.kind in "iu" else np.finfo(target)
    with np.errstate(invalid="ignore"):
        mask: np.ndarray = np.isfinite(values) & ((values < info.min) | (values > info.max))
    return mask


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(isinstance(value, float) and math.isnan(value)) or bool(
            value != value  # NaN, NaT and pandas.NA compare unequal to themselves
        )
    except (TypeError, ValueError):
        return False
