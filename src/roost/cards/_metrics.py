"""Quality metrics on numpy arrays, and the percentile bootstrap behind their intervals.

Each metric is written once, for many samples at a time: its arrays carry one sample per
row (a bootstrap resample), and it gives one value per row, NaN where the metric is
undefined on that sample. Called on 1-D arrays, a ``Metric`` measures the one sample and
gives ``float | None``::

    >>> accuracy([0, 1, 1, 2], [0, 1, 2, 2])
    0.75
    >>> bootstrap(accuracy.batch, np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]),
    ...           n_bootstrap=100, confidence=0.9, seed=0)  # doctest: +SKIP
    (0.5, 1.0)

Classes are integer codes. For a classifier with probabilities, code ``c`` is column ``c``
of the probability matrix (the position of its label in the signature); truth values the
model does not know have codes from ``k`` (the number of columns) on: they count as wrong.

- **precision, recall, F1**: with two classes, of the positive class (``positive``, the
  code of the *second* label of the model's ``probabilities``), undefined (None) where
  nothing is predicted positive (precision), nothing is positive (recall) or neither (F1).
  With more classes, the macro average over every class in the truth or the predictions
  (scikit-learn's ``average="macro"``), a zero division counting 0 for its class. With
  ``n_classes``, codes from ``n_classes`` on are no class of their own: their rows still
  count against the class predicted for them, but one stray truth value does not add a
  class scored 0 to the average.
- **ROC AUC**: two columns: from the positive column; more: the macro average of
  one-vs-rest AUCs. Undefined when a class (any class, for more than two) is absent from
  the truth. Rows whose truth the model does not know are left out of it.
- **calibration error**: the expected calibration error over 10 equal-width bins of the
  top-class probability: the row-weighted mean of ``|accuracy − mean confidence|`` per bin,
  a row being right when its top-probability class is its truth.
- **R²**: undefined when the truth is constant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from roost.types import JSONDict

__all__ = [
    "Metric",
    "accuracy",
    "bootstrap",
    "calibration_bins",
    "calibration_error",
    "f1",
    "mae",
    "precision",
    "r2",
    "recall",
    "residual_histogram",
    "rmse",
    "roc_auc",
    "scalar",
]

Values = NDArray[np.float64]

#: A metric on many samples: arrays with one sample per row in, one value per sample out.
Batch = Callable[..., Values]

#: the calibration bins, equal-width over the top-class probability
CALIBRATION_BINS = 10
#: the bins of the residual histogram
RESIDUAL_BINS = 20
#: resampled cells (rows times columns) materialised at once by ``bootstrap``, to bound memory
_MAX_CELLS = 4_000_000


def scalar(value: Any) -> float | None:
    """A number as a float; None for NaN or infinity (an undefined metric)."""
    number = float(value)
    return number if np.isfinite(number) else None


@dataclass(frozen=True, slots=True)
class Metric:
    """A metric: ``batch`` measures many samples, calling the metric measures one.

    Attributes:
        name: the name results carry (``accuracy``, ``roc_auc``…).
        batch: the metric on 2-D arrays (one sample per row; probabilities are 3-D).
    """

    name: str
    batch: Batch

    def __call__(self, *arrays: ArrayLike, **options: Any) -> float | None:
        """The metric on one sample (1-D arrays; a 2-D probability matrix)."""
        return scalar(self.batch(*(np.asarray(a)[np.newaxis] for a in arrays), **options)[0])


def _divide(numerator: NDArray[Any], denominator: NDArray[Any]) -> Values:
    """``numerator / denominator``, NaN where the denominator is 0."""
    out = np.full(np.shape(numerator), np.nan)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def _class_counts(
    y_true: NDArray[np.int64], y_pred: NDArray[np.int64], minimum: int = 0
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Per sample and class: true positives, truth counts, prediction counts."""
    n_samples = y_true.shape[0]
    n_classes = max(int(y_true.max(initial=0)), int(y_pred.max(initial=0)), minimum - 1) + 1
    offsets = np.arange(n_samples)[:, np.newaxis] * n_classes
    size = n_samples * n_classes
    truth = (y_true + offsets).ravel()
    hits = (y_true == y_pred).ravel()

    def count(codes: NDArray[np.int64]) -> NDArray[np.int64]:
        return np.bincount(codes, minlength=size).reshape(n_samples, n_classes)

    return count(truth[hits]), count(truth), count((y_pred + offsets).ravel())


def _macro(per_class: Values, present: NDArray[np.bool_]) -> Values:
    """The mean over the classes present in each sample; a NaN class counts 0."""
    total = np.where(present, np.nan_to_num(per_class), 0.0).sum(axis=-1)
    return _divide(total, present.sum(axis=-1))


def _accuracy(y_true: NDArray[Any], y_pred: NDArray[Any]) -> Values:
    return _divide((y_true == y_pred).sum(axis=-1), np.full(y_true.shape[0], y_true.shape[-1]))


def _by_class(
    score: Callable[[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]], Values],
    y_true: NDArray[np.int64],
    y_pred: NDArray[np.int64],
    positive: int | None,
    n_classes: int | None,
) -> Values:
    """``score(hits, truth, predicted)`` of the positive class, or its macro average."""
    hits, truth, predicted = _class_counts(y_true, y_pred, max(positive or 0, n_classes or 0) + 1)
    if positive is not None:
        return score(hits[:, positive], truth[:, positive], predicted[:, positive])
    present = (truth + predicted) > 0
    if n_classes is not None:
        present[:, n_classes:] = False  # truth the model does not know: no class of its own
    return _macro(score(hits, truth, predicted), present)


def _precision(
    y_true: NDArray[np.int64],
    y_pred: NDArray[np.int64],
    positive: int | None = None,
    n_classes: int | None = None,
) -> Values:
    return _by_class(
        lambda hits, _, predicted: _divide(hits, predicted), y_true, y_pred, positive, n_classes
    )


def _recall(
    y_true: NDArray[np.int64],
    y_pred: NDArray[np.int64],
    positive: int | None = None,
    n_classes: int | None = None,
) -> Values:
    return _by_class(
        lambda hits, truth, _: _divide(hits, truth), y_true, y_pred, positive, n_classes
    )


def _f1(
    y_true: NDArray[np.int64],
    y_pred: NDArray[np.int64],
    positive: int | None = None,
    n_classes: int | None = None,
) -> Values:
    # 2PR / (P + R) = 2 TP / (truth + predicted), which stays defined when P or R is not
    return _by_class(
        lambda hits, truth, predicted: _divide(2 * hits, truth + predicted),
        y_true,
        y_pred,
        positive,
        n_classes,
    )


def _row_ranks(scores: Values) -> Values:
    """The 1-based rank of each value within its row, ties given their average rank."""
    n_rows = scores.shape[-1]
    order = np.argsort(scores, axis=-1)
    ordered = np.take_along_axis(scores, order, axis=-1)
    position = np.broadcast_to(np.arange(n_rows), scores.shape)
    starts_tie = np.ones(scores.shape, dtype=bool)
    starts_tie[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    ends_tie = np.ones(scores.shape, dtype=bool)
    ends_tie[:, :-1] = starts_tie[:, 1:]
    # each value's tie runs from the last start at or before it to the first end at or after
    first = np.maximum.accumulate(np.where(starts_tie, position, 0), axis=-1)
    last = np.minimum.accumulate(np.where(ends_tie, position, n_rows)[:, ::-1], axis=-1)[:, ::-1]
    ranks = np.empty(scores.shape)
    np.put_along_axis(ranks, order, (first + last) / 2.0 + 1.0, axis=-1)
    return ranks


def _binary_auc(positive: NDArray[np.bool_], known: NDArray[np.bool_], score: Values) -> Values:
    """The Mann-Whitney AUC per row; rows not ``known`` are ranked above all and left out."""
    ranks = _row_ranks(np.where(known, score, np.inf))
    n_positive = positive.sum(axis=-1)
    n_negative = known.sum(axis=-1) - n_positive
    u = np.where(positive, ranks, 0.0).sum(axis=-1) - n_positive * (n_positive + 1) / 2.0
    return _divide(u, n_positive * n_negative)


def _roc_auc(y_true: NDArray[np.int64], proba: Values) -> Values:
    n_classes = proba.shape[-1]
    known = y_true < n_classes
    if n_classes == 2:
        return _binary_auc(y_true == 1, known, proba[..., 1])
    if n_classes < 2:
        return np.full(y_true.shape[0], np.nan)
    # a class absent from a sample makes its AUC NaN, and so the macro average
    per_class = [_binary_auc(y_true == c, known, proba[..., c]) for c in range(n_classes)]
    return np.asarray(np.mean(per_class, axis=0), dtype=np.float64)


def _calibration(
    y_true: NDArray[np.int64], proba: Values
) -> tuple[NDArray[np.int64], Values, Values, Values]:
    """Per sample and bin: rows, summed top-class probability, rows right, rows in the sample."""
    n_samples, n_rows = y_true.shape
    confidence = proba.max(axis=-1)
    right = (proba.argmax(axis=-1) == y_true).astype(np.float64)
    bins = np.clip((confidence * CALIBRATION_BINS).astype(np.int64), 0, CALIBRATION_BINS - 1)
    codes = (bins + np.arange(n_samples)[:, np.newaxis] * CALIBRATION_BINS).ravel()
    size = n_samples * CALIBRATION_BINS

    def total(weights: Values | None) -> NDArray[Any]:
        counts = np.bincount(codes, weights=weights, minlength=size)
        return counts.reshape(n_samples, CALIBRATION_BINS)

    return total(None), total(confidence.ravel()), total(right.ravel()), np.full(n_samples, n_rows)


def _calibration_error(y_true: NDArray[np.int64], proba: Values) -> Values:
    _, confidence, right, n_rows = _calibration(y_true, proba)
    return _divide(np.abs(right - confidence).sum(axis=-1), n_rows)


def _mae(y_true: Values, y_pred: Values) -> Values:
    return np.asarray(np.abs(y_true - y_pred).mean(axis=-1), dtype=np.float64)


def _rmse(y_true: Values, y_pred: Values) -> Values:
    return np.asarray(np.sqrt(((y_true - y_pred) ** 2).mean(axis=-1)), dtype=np.float64)


def _r2(y_true: Values, y_pred: Values) -> Values:
    residual = ((y_true - y_pred) ** 2).sum(axis=-1)
    spread = ((y_true - y_true.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)
    # np.ptp, not spread == 0: the mean of equal floats may differ from them by rounding
    constant = np.ptp(y_true, axis=-1) == 0
    return np.where(constant, np.nan, 1.0 - _divide(residual, np.where(constant, 1.0, spread)))


accuracy = Metric("accuracy", _accuracy)
precision = Metric("precision", _precision)
recall = Metric("recall", _recall)
f1 = Metric("f1", _f1)
roc_auc = Metric("roc_auc", _roc_auc)
calibration_error = Metric("calibration_error", _calibration_error)
mae = Metric("mae", _mae)
rmse = Metric("rmse", _rmse)
r2 = Metric("r2", _r2)


def bootstrap(
    statistic: Batch,
    *arrays: NDArray[Any],
    n_bootstrap: int,
    confidence: float,
    seed: int | Sequence[int],
) -> tuple[float | None, float | None]:
    """A percentile bootstrap interval for ``statistic`` on ``arrays`` (rows resampled together).

    Args:
        statistic: a metric's ``batch`` (options bound with ``functools.partial``).
        arrays: the sample, one entry per row in each.
        n_bootstrap: how many resamples (with replacement, of every row).
        confidence: the interval's level, between 0 and 1.
        seed: seeds the numpy ``Generator`` that draws the resamples.

    Returns:
        ``(lower, upper)``: the ``(1 − confidence) / 2`` and ``(1 + confidence) / 2``
        quantiles of the statistic over the resamples where it is defined; ``(None, None)``
        with fewer than 2 rows, no resamples, or the statistic undefined on half of them.

    Example:
        >>> y = np.array([0, 1, 1, 0, 1, 1, 0, 1])
        >>> lower, upper = bootstrap(accuracy.batch, y, y[::-1], n_bootstrap=50,
        ...                          confidence=0.9, seed=0)
        >>> lower <= accuracy(y, y[::-1]) <= upper
        True
    """
    n_rows = len(arrays[0])
    if n_bootstrap < 1 or n_rows < 2:
        return None, None
    rng = np.random.default_rng(seed)
    cells = sum(int(np.prod(a.shape)) for a in arrays)
    chunk = max(1, _MAX_CELLS // max(cells, 1))
    values = []
    for start in range(0, n_bootstrap, chunk):
        indices = rng.integers(0, n_rows, size=(min(chunk, n_bootstrap - start), n_rows))
        values.append(statistic(*(a[indices] for a in arrays)))
    measured = np.concatenate(values)
    measured = measured[np.isfinite(measured)]
    if measured.size == 0 or measured.size * 2 < n_bootstrap:
        return None, None
    tail = (1.0 - confidence) / 2.0
    lower, upper = np.quantile(measured, [tail, 1.0 - tail])
    return float(lower), float(upper)


def calibration_bins(y_true: ArrayLike, proba: ArrayLike) -> list[JSONDict]:
    """The reliability diagram: one dict per non-empty bin of the top-class probability.

    Each is ``{"lower", "upper", "confidence", "accuracy", "n_rows"}``: the bin's edges,
    the mean top-class probability of its rows, and the share of them that are right.
    """
    counts, confidence, right, _ = _calibration(
        np.asarray(y_true)[np.newaxis], np.asarray(proba, dtype=np.float64)[np.newaxis]
    )
    return [
        {
            "lower": round(i / CALIBRATION_BINS, 10),
            "upper": round((i + 1) / CALIBRATION_BINS, 10),
            "confidence": float(confidence[0, i] / counts[0, i]),
            "accuracy": float(right[0, i] / counts[0, i]),
            "n_rows": int(counts[0, i]),
        }
        for i in range(CALIBRATION_BINS)
        if counts[0, i] > 0
    ]


def residual_histogram(residuals: ArrayLike) -> JSONDict:
    """A histogram of ``truth − prediction``: ``{"edges", "counts", "mean", "std"}``.

    ``RESIDUAL_BINS`` equal-width bins between the smallest and largest residual
    (``edges`` has one more entry than ``counts``).
    """
    values = np.asarray(residuals, dtype=np.float64)
    counts, edges = np.histogram(values, bins=RESIDUAL_BINS)
    return {
        "edges": [float(e) for e in edges],
        "counts": [int(c) for c in counts],
        "mean": scalar(values.mean()),
        "std": scalar(values.std()),
    }
