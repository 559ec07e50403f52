"""Validated batches: count their rows, join several into one, so the batcher can merge requests.

A validated batch is what ``Signature.validate`` returns: a DataFrame (columns), an
array (one tensor) or a dict of arrays (several tensors), rows along the first axis;
or, on serving's fast path, a ``RowBlock``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["RowBlock", "as_frame", "concat_batches", "count_rows"]


@dataclass(frozen=True, slots=True)
class RowBlock:
    """Validated rows of float64 columns kept as one numpy array until their batch is merged.

    Serving validates each request alone and merges many one-row requests into a batch;
    a DataFrame per request would cost more than the model's share of the work, so the
    rows stay an array and the batch becomes one DataFrame (``as_frame``).

    Attributes:
        columns: the column names, a pandas Index in signature order.
        values: a float64 array of shape (rows, columns).
    """

    columns: Any
    values: Any

    def __len__(self) -> int:
        return int(self.values.shape[0])


def as_frame(batch: Any) -> Any:
    """A RowBlock as the DataFrame a flavor expects; any other batch unchanged."""
    if isinstance(batch, RowBlock):
        import pandas as pd

        return pd.DataFrame(batch.values, columns=batch.columns, copy=False)
    return batch


def count_rows(batch: Any) -> int:
    """The number of rows of a validated batch."""
    if isinstance(batch, dict):
        return len(next(iter(batch.values())))
    return len(batch)


def concat_batches(batches: Sequence[Any]) -> Any:
    """One batch holding every row of ``batches``, in order (a single batch is returned as is)."""
    import numpy as np
    import pandas as pd

    if len(batches) == 1:
        return batches[0]
    first = batches[0]
    if all(isinstance(b, RowBlock) for b in batches):
        return RowBlock(first.columns, np.concatenate([b.values for b in batches]))
    if any(isinstance(b, RowBlock) for b in batches):
        batches = [as_frame(b) for b in batches]
        first = batches[0]
    if isinstance(first, pd.DataFrame):
        return pd.concat(batches, ignore_index=True)
    if isinstance(first, dict):
        return {name: np.concatenate([b[name] for b in batches]) for name in first}
    return np.concatenate(batches)
