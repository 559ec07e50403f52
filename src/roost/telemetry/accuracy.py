"""Production accuracy: logged predictions scored against the feedback that came back.

A prediction request may hold several rows; its feedback then gives one truth per row.
Each row is scored on its own, then grouped per model version, overall and per time
window of prediction time, so a version that got worse last Tuesday shows as such.
"""

from __future__ import annotations

import math
import numbers
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from roost.errors import ConfigError
from roost.telemetry._records import FeedbackRecord, PredictionRecord

__all__ = [
    "CLASSIFICATION",
    "MAX_CLASSES",
    "REGRESSION",
    "ProductionMetrics",
    "WindowMetrics",
    "prediction_of",
    "production_metrics",
    "task_of",
]

CLASSIFICATION = "classification"
REGRESSION = "regression"
#: integer predictions with at most this many distinct values are taken as class labels;
#: more look like counts or amounts (a regression)
MAX_CLASSES = 20


@dataclass(frozen=True, slots=True)
class WindowMetrics:
    """The scores of one model version over one span of prediction time.

    Attributes:
        model: the model's name.
        version: its version.
        start: the span's start, seconds since the epoch (inclusive).
        end: its end: exclusive for a window; for the overall entry, the last scored
            prediction's timestamp.
        n: the rows scored.
        accuracy: the share of rows whose prediction equals the truth (classification).
        mae: the mean absolute error (regression).
        rmse: the root mean squared error (regression).
    """

    model: str
    version: int
    start: float
    end: float
    n: int
    accuracy: float | None = None
    mae: float | None = None
    rmse: float | None = None


@dataclass(frozen=True, slots=True)
class ProductionMetrics:
    """Production scores of every model version that got feedback.

    Attributes:
        task: ``classification`` or ``regression``; None when it was not given and
            there was nothing to infer it from.
        overall: one entry per (model, version), over all its scored rows.
        windows: one entry per (model, version, window) holding a scored row.
        invalid: rows that could not be scored (see :func:`production_metrics`).
    """

    task: str | None
    overall: list[WindowMetrics]
    windows: list[WindowMetrics]
    invalid: int


def prediction_of(output: Any) -> Any:
    """Return the predicted value in one row's output.

    Args:
        output: one row's output, as logged: a plain value for a model with one
            output, else a dict of output name to value.

    Returns:
        The value itself when plain; for a dict its ``label``, else its
        ``prediction``, else its only value.

    Raises:
        ConfigError: (a ``ValueError``) a dict with several outputs, none of them
            ``label`` or ``prediction``.

    Example:
        >>> prediction_of({"label": "setosa", "probabilities": [0.9, 0.1]})
        'setosa'
        >>> prediction_of(3.5)
        3.5
    """
    if not isinstance(output, Mapping):
        return output
    for key in ("label", "prediction"):
        if key in output:
            return output[key]
    if len(output) == 1:
        return next(iter(output.values()))
    raise ConfigError(
        f"output: expected a 'label' or 'prediction' key, or a single output, "
        f"got keys {sorted(map(str, output))}"
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def task_of(outputs: Sequence[Any]) -> str:
    """Infer whether outputs come from a classifier or a regressor.

    Classification when any output is a dict with ``label`` or ``probabilities``, or any
    predicted value is a string or a bool. Otherwise regression when any is a float.
    Integers alone are class labels when there are at most :data:`MAX_CLASSES` distinct
    ones, and a regression's counts or amounts when there are more.

    Args:
        outputs: rows' outputs, as logged (see :func:`prediction_of`).

    Returns:
        ``classification`` or ``regression``.

    Raises:
        ConfigError: no output holds a string, bool or number to decide from.

    Example:
        >>> task_of(["setosa", "virginica"])
        'classification'
        >>> task_of([0.5, 1.25])
        'regression'
        >>> task_of([0, 1, 1, 0])
        'classification'
    """
    ints: set[Any] = set()
    has_float = False
    for output in outputs:
        if isinstance(output, Mapping) and ("label" in output or "probabilities" in output):
            return CLASSIFICATION
        try:
            value = prediction_of(output)
        except ConfigError:
            continue
        if isinstance(value, str | bool):
            return CLASSIFICATION
        if _is_int(value):
            ints.add(value)
        elif isinstance(value, numbers.Real):
            has_float = True
    if has_float:
        return REGRESSION
    if ints:
        return CLASSIFICATION if len(ints) <= MAX_CLASSES else REGRESSION
    raise ConfigError(
        f"task: cannot infer it from {len(outputs)} outputs without a string, bool or "
        f"number; pass task='classification' or task='regression'"
    )


def _same_label(predicted: Any, truth: Any) -> bool:
    """Whether a predicted class equals the true one.

    Values compare as Python compares them (``1 == 1.0``). When exactly one of the two
    is a string, the other is compared by its ``str()``: feedback often arrives as text
    (a form, a CSV), and ``"1"`` for a predicted ``1`` is the same class. The
    comparison stays case-sensitive, since labels are.
    """
    if isinstance(predicted, str) != isinstance(truth, str):
        return str(predicted) == str(truth)
    return bool(predicted == truth)


def _is_label(value: Any) -> bool:
    # NaN is how a data frame writes "no value": not a class to compare with
    return isinstance(value, str | bool) or _real(value) is not None


def _real(value: Any) -> float | None:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def _truths(record: PredictionRecord, truth: Any) -> list[Any] | None:
    """One truth per row of the request, or None when they cannot be matched."""
    if record.n_rows == 1 and not isinstance(truth, list):
        return [truth]
    if isinstance(truth, list) and len(truth) == record.n_rows:
        return truth
    return None


@dataclass(slots=True)
class _Tally:
    """Running sums for one (model, version, span)."""

    n: int = 0
    correct: int = 0
    abs_error: float = 0.0
    sq_error: float = 0.0
    first: float = math.inf
    last: float = -math.inf

    def add(self, timestamp: float, correct: bool, error: float) -> None:
        self.n += 1
        self.correct += correct
        self.abs_error += abs(error)
        self.sq_error += error * error
        self.first = min(self.first, timestamp)
        self.last = max(self.last, timestamp)


def _metrics(
    key: tuple[str, int], start: float, end: float, tally: _Tally, task: str
) -> WindowMetrics:
    model, version = key
    if task == CLASSIFICATION:
        return WindowMetrics(model, version, start, end, tally.n, accuracy=tally.correct / tally.n)
    return WindowMetrics(
        model,
        version,
        start,
        end,
        tally.n,
        mae=tally.abs_error / tally.n,
        rmse=math.sqrt(tally.sq_error / tally.n),
    )


def production_metrics(
    pairs: Sequence[tuple[PredictionRecord, FeedbackRecord]],
    *,
    window_s: float,
    task: str | None = None,
) -> ProductionMetrics:
    """Score logged predictions against their feedback, per model version and window.

    Each request is split into its rows: the feedback's truth is a list with one value
    per row, or, for a one-row request, a plain value (a one-item list is read as that
    value). A row is counted in ``invalid`` and not scored when:

    - the truth list's length does not match the request's rows (all its rows count,
      at least one);
    - classification: the prediction or truth is not a string, bool or finite number
      (None, NaN, a list), or the output names no single prediction (:func:`prediction_of`);
    - regression: the prediction or truth is not a finite number.

    Classes match when equal, or, when exactly one of the two is a string, when the
    other's ``str()`` equals it: a predicted ``1`` and a true ``"1"`` match, ``"Setosa"``
    and ``"setosa"`` do not.

    Windows are aligned to multiples of ``window_s`` in prediction time (``start =
    floor(timestamp / window_s) * window_s``), so every report cuts time the same way.

    Args:
        pairs: each logged request with its feedback (the same ``prediction_id``).
        window_s: the width of a window, in seconds; > 0.
        task: ``classification`` or ``regression``; inferred from the outputs with
            :func:`task_of` when None.

    Returns:
        Per (model, version) scores overall and per window, sorted by model, version
        and start; ``accuracy`` for classification, ``mae`` and ``rmse`` for regression.

    Raises:
        ConfigError: ``window_s`` is not a positive number, ``task`` is unknown or
            cannot be inferred, or a pair's ids differ.

    Example:
        >>> p = PredictionRecord("a", 70.0, "iris", 2, "v1", [[1.0], [2.0]], ["x", "y"], 1.0)
        >>> f = FeedbackRecord("a", ["x", "z"], 90.0)
        >>> result = production_metrics([(p, f)], window_s=60)
        >>> result.task, result.overall[0].accuracy, result.windows[0].start
        ('classification', 0.5, 60.0)
    """
    if not (isinstance(window_s, numbers.Real) and math.isfinite(window_s) and window_s > 0):
        raise ConfigError(f"window_s: expected a number of seconds > 0, got {window_s!r}")
    for record, feedback in pairs:
        if record.prediction_id != feedback.prediction_id:
            raise ConfigError(
                f"pairs: feedback for {feedback.prediction_id!r} paired with "
                f"prediction {record.prediction_id!r}"
            )
    if task is None:
        if not pairs:
            return ProductionMetrics(None, [], [], 0)
        task = task_of([output for record, _ in pairs for output in record.outputs])
    if task not in (CLASSIFICATION, REGRESSION):
        raise ConfigError(f"task: expected {CLASSIFICATION!r} or {REGRESSION!r}, got {task!r}")

    overall: dict[tuple[str, int], _Tally] = defaultdict(_Tally)
    windows: dict[tuple[str, int, float], _Tally] = defaultdict(_Tally)
    invalid = 0
    for record, feedback in pairs:
        truths = _truths(record, feedback.truth)
        if truths is None:
            invalid += max(record.n_rows, 1)
            continue
        start = float(math.floor(record.timestamp / window_s) * window_s)
        for output, truth in zip(record.outputs, truths, strict=True):
            scored = _score(output, truth, task)
            if scored is None:
                invalid += 1
                continue
            correct, error = scored
            key = (record.model, record.version)
            overall[key].add(record.timestamp, correct, error)
            windows[(*key, start)].add(record.timestamp, correct, error)

    return ProductionMetrics(
        task=task,
        overall=[
            _metrics(key, tally.first, tally.last, tally, task)
            for key, tally in sorted(overall.items())
        ],
        windows=[
            _metrics((model, version), start, start + window_s, tally, task)
            for (model, version, start), tally in sorted(windows.items())
        ],
        invalid=invalid,
    )


def _score(output: Any, truth: Any, task: str) -> tuple[bool, float] | None:
    """(correct, error) for one row, or None when it cannot be scored."""
    try:
        predicted = prediction_of(output)
    except ConfigError:
        return None
    if task == CLASSIFICATION:
        if not (_is_label(predicted) and _is_label(truth)):
            return None
        return _same_label(predicted, truth), 0.0
    number, true_number = _real(predicted), _real(truth)
    if number is None or true_number is None:
        return None
    return False, number - true_number
