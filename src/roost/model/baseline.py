"""A per-feature distribution baseline of the training data, kept for drift detection.

Numeric features keep decile bin edges and the share of rows in each bin (the
form a PSI computation needs), plus summary statistics; categorical features
keep the share of their most common values. The baseline is computed once at
save time and stored in the package (``eval/baseline.json``).
"""

from __future__ import annotations

from typing import Any

from roost.types import JSONDict

__all__ = ["MAX_CATEGORIES", "profile_column", "profile_frame"]

#: categorical values beyond this many (by frequency) are pooled as ``__other__``.
MAX_CATEGORIES = 50
_BINS = 10


def _numeric_profile(values: Any) -> JSONDict:
    import numpy as np

    data = np.asarray(values, dtype="float64")
    finite = data[np.isfinite(data)]
    profile: JSONDict = {
        "kind": "numeric",
        "count": int(data.size),
        "missing": int(data.size - finite.size),
    }
    if finite.size == 0:
        return profile
    # edges are observed values ("lower"): interpolating between tied values gives edges
    # such as 1.0000000000000036 next to 1.0, and an empty bin, for every integer feature
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, _BINS + 1)[1:-1], method="lower"))
    # bins are (-inf, e1], (e1, e2], ..., (ek, inf): right-closed, as np.searchsorted(side="left")
    counts = np.bincount(np.searchsorted(edges, finite, side="left"), minlength=edges.size + 1)
    profile.update(
        mean=float(finite.mean()),
        std=float(finite.std()),
        min=float(finite.min()),
        max=float(finite.max()),
        edges=[float(e) for e in edges],
        proportions=[float(c) / finite.size for c in counts],
    )
    return profile


def _categorical_profile(values: Any) -> JSONDict:
    import pandas as pd

    series = pd.Series(values, dtype=object)
    present = series[series.notna()].astype(str)
    counts = present.value_counts()
    total = int(present.size)
    shares: JSONDict = {}
    for value, count in counts.iloc[:MAX_CATEGORIES].items():
        shares[str(value)] = int(count) / total
    other = int(counts.iloc[MAX_CATEGORIES:].sum())
    if other:
        shares["__other__"] = other / total
    return {
        "kind": "categorical",
        "count": int(series.size),
        "missing": int(series.size - total),
        "proportions": shares,
    }


def profile_column(values: Any) -> JSONDict:
    """The baseline of one feature: numeric bins for numbers, shares for anything else."""
    import numpy as np

    array = np.asarray(values)
    if array.dtype.kind in "iuf":
        return _numeric_profile(array)
    return _categorical_profile(array.ravel())


def profile_frame(frame: Any) -> dict[str, JSONDict]:
    """The baseline of every column of a DataFrame (or of a dict of 1-d arrays)."""
    return {str(name): profile_column(frame[name]) for name in frame}
