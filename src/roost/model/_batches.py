"""Validated batches: count their rows, join several into one, so the batcher can merge requests.

A validated batch is what ``Signature.validate`` returns: a DataFrame (columns), an
array (one tensor) or a dict of arrays (several tensors), rows along the first axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["concat_batches", "count_rows"]


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
    if isinstance(first, pd.DataFrame):
        return pd.concat(batches, ignore_index=True)
    if isinstance(first, dict):
        return {name: np.concatenate([b[name] for b in batches]) for name in first}
    return np.concatenate(batches)
