"""Drift: how far recent inputs and outputs have moved from the training baseline.

Each feature (and each 1-D output) is binned exactly as the baseline binned the training
data (``roost.model.baseline``), and the two sets of shares are compared with the
population stability index (PSI)::

    PSI = sum over bins of (actual - expected) * ln(actual / expected)

PSI is 0 for identical shares and grows as they part; every term is >= 0, because
``actual - expected`` and ``ln(actual / expected)`` always have the same sign.

The levels follow the rule of thumb of credit scoring, where PSI comes from (Siddiqi,
*Credit Risk Scorecards*, 2006; Yurdakul, *Statistical Properties of the Population
Stability Index*, 2018): below :data:`MODERATE_PSI` the population is stable, from
:data:`MODERATE_PSI` to :data:`MAJOR_PSI` it has shifted moderately and is worth a look,
from :data:`MAJOR_PSI` on it has shifted enough to question the model. They are
conventions, not significance tests.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from roost.errors import ConfigError
from roost.telemetry._records import PredictionRecord

__all__ = [
    "MAJOR",
    "MAJOR_PSI",
    "MIN_VALUES",
    "MODERATE",
    "MODERATE_PSI",
    "NO_BASELINE",
    "PSI_FLOOR",
    "STABLE",
    "TOO_FEW",
    "DriftReport",
    "FeatureDrift",
    "drift_report",
    "feature_drift",
    "psi",
]

#: PSI below this is "stable" (credit-scoring rule of thumb, see the module docstring)
MODERATE_PSI = 0.1
#: PSI at or above this is "major"; between the two it is "moderate"
MAJOR_PSI = 0.25
#: fewer usable values than this give the level "too few": PSI on fewer is mostly
#: sampling noise. Samples drawn from a 10-bin baseline itself (500 tries each) score
#: 0.23 on average at 50 values, 28% of them "major"; at 100 values 0.09, 36% "moderate"
#: but almost none "major"; at 300, 0.03. So from 100 on "major" means something, while
#: "moderate" needs a few hundred values to be trusted.
MIN_VALUES = 100
#: the share an empty bin counts as. Without a floor one empty bin makes PSI infinite;
#: 1e-4 is one value in 10,000, below any share a baseline or a recent window of that
#: size can observe, so it only changes empty bins, and it bounds their term: a bin
#: holding 10% now and nothing in training adds 0.1 * ln(0.1 / 1e-4) ≈ 0.69, "major".
PSI_FLOOR = 1e-4

STABLE = "stable"
MODERATE = "moderate"
MAJOR = "major"
TOO_FEW = "too few"
#: the baseline holds no bins for this column (training had no usable value in it)
NO_BASELINE = "no baseline"

#: the bucket the baseline pools rare categorical values into
_OTHER = "__other__"
#: how the package builder names the columns of a 2-d tensor: ``x[0]``, ``x[1]``, ...
_TENSOR_COLUMN = re.compile(r"^(?P<tensor>.+)\[(?P<index>\d+)\]$")


@dataclass(frozen=True, slots=True)
class FeatureDrift:
    """The drift of one feature or output.

    Attributes:
        name: the feature or output name, as in the baseline.
        kind: ``numeric`` or ``categorical``, as the baseline profiled it.
        psi: the population stability index, None when no value was usable (or the
            baseline holds no bins).
        n: the values used (present and, for numeric ones, finite numbers).
        missing: the values left out: absent, None, NaN, infinite, or not a number
            where a number was expected.
        level: ``stable``, ``moderate``, ``major``, ``too few`` (n < MIN_VALUES) or
            ``no baseline``.
    """

    name: str
    kind: Literal["numeric", "categorical"]
    psi: float | None
    n: int
    missing: int
    level: str


@dataclass(frozen=True, slots=True)
class DriftReport:
    """Drift of every baselined feature and output over a set of prediction records.

    Attributes:
        features: one entry per baseline feature, largest PSI first (None last).
        outputs: one entry per baseline output, in the same order.
        n_records: the prediction requests read.
        n_rows: the rows they held.
    """

    features: list[FeatureDrift]
    outputs: list[FeatureDrift]
    n_records: int
    n_rows: int


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Compute the population stability index of two sets of bin shares.

    Shares below :data:`PSI_FLOOR` (empty bins) count as the floor, so the result is
    always finite.

    Args:
        expected: the baseline's share of each bin.
        actual: the recent share of the same bins, in the same order.

    Returns:
        The PSI, >= 0; exactly 0 when the shares are equal.

    Raises:
        ConfigError: the two have different lengths, are empty, or hold a negative
            or non-finite share.

    Example:
        >>> round(psi([0.5, 0.5], [0.25, 0.75]), 4)
        0.2747
        >>> psi([0.2, 0.8], [0.2, 0.8])
        0.0
    """
    if len(expected) != len(actual):
        raise ConfigError(
            f"psi: expected and actual must have one share per bin, "
            f"got {len(expected)} and {len(actual)}"
        )
    if not expected:
        raise ConfigError("psi: expected at least one bin, got none")
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        if not (math.isfinite(e) and math.isfinite(a) and e >= 0 and a >= 0):
            raise ConfigError(f"psi: shares must be finite and >= 0, got {e!r} and {a!r}")
        e, a = max(e, PSI_FLOOR), max(a, PSI_FLOOR)
        total += (a - e) * math.log(a / e)
    return total


def _level(value: float | None, n: int) -> str:
    if value is None or n < MIN_VALUES:
        return TOO_FEW
    if value < MODERATE_PSI:
        return STABLE
    if value < MAJOR_PSI:
        return MODERATE
    return MAJOR


def _number(value: Any) -> float | None:
    """The value as a finite float, or None when it is missing or not a number."""
    # bool is an int to Python, but the baseline profiles booleans as categories
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def _is_missing(value: Any) -> bool:
    # NaN is how pandas writes a missing category; the baseline counted it as missing
    return value is None or (isinstance(value, float) and math.isnan(value))


def _numeric_drift(name: str, profile: Mapping[str, Any], values: Sequence[Any]) -> FeatureDrift:
    import numpy as np

    numbers_ = [x for x in map(_number, values) if x is not None]
    n, missing = len(numbers_), len(values) - len(numbers_)
    edges, expected = profile.get("edges"), profile.get("proportions")
    if edges is None or expected is None:
        return FeatureDrift(name, "numeric", None, n, missing, NO_BASELINE)
    if len(expected) != len(edges) + 1:
        raise ConfigError(
            f"baseline of {name!r}: expected {len(edges) + 1} proportions for "
            f"{len(edges)} edges, got {len(expected)}"
        )
    if not n:
        return FeatureDrift(name, "numeric", None, 0, missing, TOO_FEW)
    # the same right-closed bins the baseline used: (-inf, e1], (e1, e2], ..., (ek, inf)
    bins = np.searchsorted(np.asarray(edges, dtype="float64"), numbers_, side="left")
    counts = np.bincount(bins, minlength=len(edges) + 1)
    actual = [int(c) / n for c in counts]
    value = psi([float(e) for e in expected], actual)
    return FeatureDrift(name, "numeric", value, n, missing, _level(value, n))


def _categorical_drift(
    name: str, profile: Mapping[str, Any], values: Sequence[Any]
) -> FeatureDrift:
    shares = profile.get("proportions") or {}
    expected: dict[str, float] = {str(k): float(v) for k, v in shares.items()}
    # a value training never saw must still count: it lands in "__other__", which is
    # expected to be empty (floored) when training had no rare values to pool
    expected.setdefault(_OTHER, 0.0)
    counts = dict.fromkeys(expected, 0)
    missing = 0
    for value in values:
        if _is_missing(value):
            missing += 1
            continue
        key = str(value)
        counts[key if key in counts else _OTHER] += 1
    n = len(values) - missing
    if not shares:
        return FeatureDrift(name, "categorical", None, n, missing, NO_BASELINE)
    if not n:
        return FeatureDrift(name, "categorical", None, 0, missing, TOO_FEW)
    keys = list(expected)
    result = psi([expected[k] for k in keys], [counts[k] / n for k in keys])
    return FeatureDrift(name, "categorical", result, n, missing, _level(result, n))


def feature_drift(name: str, profile: Mapping[str, Any], values: Sequence[Any]) -> FeatureDrift:
    """Measure how far recent values of one column are from its baseline profile.

    Numeric values are binned on the baseline's ``edges`` (right-closed bins, as the
    baseline built them); None, NaN, infinities and non-numbers are counted as missing
    and left out. Categorical values are compared by ``str(value)``; values the
    baseline does not list are pooled into ``__other__``.

    Args:
        name: the column's name, for the result.
        profile: its baseline profile (an entry of ``baseline.json``).
        values: the recent values, one per row (None for a row that lacks it).

    Returns:
        The column's PSI, counts and level.

    Raises:
        ConfigError: the profile's kind is unknown, or its bins are inconsistent.

    Example:
        >>> profile = {"kind": "categorical", "proportions": {"a": 0.5, "b": 0.5}}
        >>> drift = feature_drift("colour", profile, ["a"] * 25 + ["b"] * 75)
        >>> round(drift.psi, 4), drift.level
        (0.2747, 'major')
    """
    kind = profile.get("kind")
    if kind == "numeric":
        return _numeric_drift(name, profile, values)
    if kind == "categorical":
        return _categorical_drift(name, profile, values)
    raise ConfigError(
        f"baseline of {name!r}: expected kind 'numeric' or 'categorical', got {kind!r}"
    )


def _list_order(names: list[str]) -> list[str]:
    """The order list rows give their values in, for the baseline's feature names.

    ``baseline.json`` is written with sorted keys, so its order is alphabetical; for the
    columns of one 2-d tensor (``x[0]`` ... ``x[10]``) that puts ``x[10]`` before ``x[2]``.
    """
    indexed: list[tuple[int, str]] = []
    tensors: set[str] = set()
    for name in names:
        match = _TENSOR_COLUMN.match(name)
        if match is None:
            return names
        tensors.add(match["tensor"])
        indexed.append((int(match["index"]), name))
    if len(tensors) != 1:
        return names
    return [name for _, name in sorted(indexed)]


def _input_value(row: Any, name: str, position: int | None) -> Any:
    if isinstance(row, Mapping):
        if name in row:
            return row[name]
        # a tensor row sends the whole vector under the tensor's name
        match = _TENSOR_COLUMN.match(name)
        if match is not None:
            vector = row.get(match["tensor"])
            index = int(match["index"])
            if isinstance(vector, list) and index < len(vector):
                return vector[index]
        return None
    if isinstance(row, list | tuple) and position is not None and position < len(row):
        return row[position]
    return None


def _output_value(output: Any, name: str, n_outputs: int) -> Any:
    if isinstance(output, Mapping):
        return _plain(output.get(name))
    # a plain value is the model's only output; it can only be matched to a baseline
    # that also holds exactly one
    return _plain(output) if n_outputs == 1 else None


def _plain(value: Any) -> Any:
    # the baseline profiles 1-D outputs only: a list or dict here is not that output
    return None if isinstance(value, list | tuple | Mapping) else value


def _sorted(drifts: Iterable[FeatureDrift]) -> list[FeatureDrift]:
    # largest PSI first, None last; the name breaks ties so reports are reproducible
    return sorted(drifts, key=lambda d: (d.psi is None, -(d.psi or 0.0), d.name))


def drift_report(
    baseline: Mapping[str, Any],
    records: Sequence[PredictionRecord],
    *,
    feature_order: Sequence[str] | None = None,
) -> DriftReport:
    """Measure the drift of every baselined feature and output over recent records.

    Inputs are read by name from dict rows; list rows are matched to the feature names
    by position. Outputs are read by name from dict outputs; a plain output is the
    model's only output. A feature absent from every row gets psi None, with every row
    counted as missing.

    Args:
        baseline: the package's ``eval/baseline.json``: ``{"features": {name: profile},
            "outputs": {name: profile}}``.
        records: the prediction records to compare with it.
        feature_order: the model's input column names in the order list rows give them
            (the signature's order). By default the baseline's order, which is
            alphabetical, except that the columns of one tensor (``x[0]``, ``x[1]``,
            ...) are ordered by index.

    Returns:
        One entry per baseline feature and output, largest PSI first.

    Raises:
        ConfigError: a profile is malformed.

    Example:
        >>> baseline = {"features": {"x": {"kind": "numeric", "edges": [0.0],
        ...     "proportions": [0.5, 0.5]}}, "outputs": {}}
        >>> record = PredictionRecord("p1", 0.0, "m", 1, "v1", [{"x": -1.0}, {"x": 1.0}],
        ...     [0, 1], 1.0)
        >>> report = drift_report(baseline, [record])
        >>> report.features[0].psi, report.features[0].level, report.n_rows
        (0.0, 'too few', 2)
    """
    features: Mapping[str, Any] = baseline.get("features") or {}
    outputs: Mapping[str, Any] = baseline.get("outputs") or {}
    order = list(feature_order) if feature_order is not None else _list_order(list(features))
    position = {name: i for i, name in enumerate(order)}
    rows = [row for record in records for row in record.inputs]
    feature_drifts = [
        feature_drift(name, profile, [_input_value(row, name, position.get(name)) for row in rows])
        for name, profile in features.items()
    ]
    answers = [output for record in records for output in record.outputs]
    output_drifts = [
        feature_drift(name, profile, [_output_value(o, name, len(outputs)) for o in answers])
        for name, profile in outputs.items()
    ]
    return DriftReport(
        features=_sorted(feature_drifts),
        outputs=_sorted(output_drifts),
        n_records=len(records),
        n_rows=sum(record.n_rows for record in records),
    )
