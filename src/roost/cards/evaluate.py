"""``evaluate``: measure a version on labelled rows, overall and per slice, with intervals.

The model runs once, on the columns of ``rows`` its signature takes; every other column
(the label, slice columns, ids) is left out of its input. What is measured:

- **Task.** From the signature: a ``label`` output, or an output with class ``labels``
  (``probabilities``), makes a classifier; one float output a regressor; one string or
  bool output a classifier without probabilities. One integer output (a classifier saved
  without probabilities, or a count regressor) is ambiguous: ``task`` must say which.
- **Classification**: accuracy, precision, recall, F1 and, with probabilities, ROC AUC and
  the calibration error (see ``_metrics`` for each definition; with two classes, precision,
  recall and F1 are of the *second* label of ``probabilities``), plus the confusion matrix
  and the calibration bins. **Regression**: MAE, RMSE, R², plus a residual histogram.
- **Truth values the model does not know** (not among its classes): kept and counted as
  wrong, added to the confusion matrix's labels, left out of ROC AUC, and noted in
  ``data["notes"]``. A missing truth value is refused (``_outcome`` turns outputs and
  truth into the arrays the metrics take).
- **Intervals**: a percentile bootstrap of every metric, the resamples drawn by a numpy
  ``Generator`` seeded with ``seed``; every metric of a group (all rows, or one slice) uses
  the same resamples, so no interval depends on which other metrics or slices were asked
  for. A slice of fewer than 2 rows gets its metrics without intervals (and a note).
- **Data**: ``{"source", "n_rows", "sha256", "hashed", "notes"}``; ``sha256`` is of the
  file's bytes when the caller passes ``data_sha256`` (``roost evaluate`` does, ``hashed``:
  ``"file"``), else of the rows written as CSV with the label column (``"frame"``).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from roost.cards._outcome import Outcome, classes, listing, numbers, plain, sort_key
from roost.cards.evaluation import Evaluation, MetricValue, SliceResult, Task
from roost.clock import Clock, SystemClock
from roost.errors import ConfigError
from roost.model import OutputSpec, Signature

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from numpy.typing import NDArray

    from roost.store import PackagedModel

__all__ = ["evaluate"]

log = logging.getLogger(__name__)


def _describe(outputs: Sequence[OutputSpec]) -> str:
    return ", ".join(f"{o.name} ({o.dtype}{', labels' if o.labels else ''})" for o in outputs)


def _task_of(signature: Signature, ref: str, task: Task | None) -> Task:
    """Classification or regression, from the outputs (or ``task``, checked against them)."""
    outputs = signature.outputs
    is_classifier = any(o.labels is not None or o.name == "label" for o in outputs)
    # one value per row: shape (-1,) or (-1, 1)
    single = outputs[0] if len(outputs) == 1 and outputs[0].shape[1:] in ((), (1,)) else None
    dtype = single.dtype if single is not None else "object"
    if is_classifier:
        inferred: Task | None = "classification"
    elif dtype.startswith("float"):
        inferred = "regression"
    elif dtype in ("string", "bool"):
        inferred = "classification"
    else:
        inferred = None  # an integer output: class codes or counts; anything else
    possible = {
        "classification": is_classifier or dtype != "object",
        "regression": not is_classifier and dtype.startswith(("int", "uint", "float")),
    }
    if task is None and inferred is not None:
        return inferred
    if task is not None and possible[task]:
        return task
    expected = (
        "a `label` output or `probabilities` with labels (classification), or one float "
        "output (regression)"
    )
    hint = "" if task is not None else "; say which with task= (--task)"
    raise ConfigError(
        f"model {ref}: cannot evaluate it as {task or 'either task'} from its outputs "
        f"({_describe(outputs)}): expected {expected}{hint}"
    )


@dataclass(frozen=True, slots=True)
class _Settings:
    """How intervals are drawn."""

    n_bootstrap: int
    confidence: float
    seed: int


def _measure(
    outcome: Outcome, rows: NDArray[np.int64] | None, settings: _Settings
) -> tuple[MetricValue, ...]:
    """Every metric of the task on ``rows`` (all rows when None), with intervals."""
    from roost.cards import _metrics as m

    def pick(array: NDArray[Any]) -> NDArray[Any]:
        return array if rows is None else array[rows]

    pair = (pick(outcome.truth), pick(outcome.predicted))
    planned: list[tuple[m.Metric, tuple[NDArray[Any], ...], dict[str, Any]]]
    if outcome.task == "regression":
        planned = [(metric, pair, {}) for metric in (m.mae, m.rmse, m.r2)]
    else:
        positive = {"positive": outcome.positive, "n_classes": outcome.n_classes}
        planned = [(m.accuracy, pair, {})]
        planned += [(metric, pair, positive) for metric in (m.precision, m.recall, m.f1)]
        if outcome.proba is not None:
            truth = pair[0]
            proba = pick(outcome.proba)
            planned += [(m.roc_auc, (truth, proba), {}), (m.calibration_error, (truth, proba), {})]
    results = []
    for metric, arrays, options in planned:
        lower, upper = m.bootstrap(
            partial(metric.batch, **options),
            *arrays,
            n_bootstrap=settings.n_bootstrap,
            confidence=settings.confidence,
            seed=settings.seed,
        )
        results.append(MetricValue(metric.name, metric(*arrays, **options), lower, upper))
    return tuple(results)


def _slices(
    outcome: Outcome, frame: pd.DataFrame, slice_by: Sequence[str], settings: _Settings
) -> tuple[tuple[SliceResult, ...], list[str]]:
    """The metrics per distinct value of each column (missing values: one slice, ``None``)."""
    import numpy as np
    import pandas as pd

    results, notes = [], []
    for column in dict.fromkeys(slice_by):
        codes, uniques = pd.factorize(frame[column], sort=False)
        groups = [(plain(value), np.flatnonzero(codes == i)) for i, value in enumerate(uniques)]
        groups.sort(key=lambda group: sort_key(group[0]))
        if (codes < 0).any():
            groups.append((None, np.flatnonzero(codes < 0)))
        for value, rows in groups:
            if len(rows) < 2:
                notes.append(f"slice {column}={value!r}: {len(rows)} row, too few for intervals")
            metrics = _measure(outcome, rows, settings)
            results.append(SliceResult(column, value, len(rows), metrics))
    return tuple(results), notes


def _extras(outcome: Outcome) -> dict[str, Any]:
    """The confusion matrix and calibration bins, or the residual histogram."""
    import numpy as np

    from roost.cards._metrics import calibration_bins, residual_histogram

    if outcome.task == "regression":
        return {"residuals": residual_histogram(outcome.truth - outcome.predicted)}
    n = len(outcome.labels)
    matrix = np.bincount(outcome.truth * n + outcome.predicted, minlength=n * n).reshape(n, n)
    confusion = {"labels": list(outcome.labels), "matrix": matrix.tolist()}
    calibration = None
    if outcome.proba is not None:
        calibration = calibration_bins(outcome.truth, outcome.proba)
    return {"confusion": confusion, "calibration": calibration}


def _frame_sha256(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.to_csv(index=False).encode("utf-8")).hexdigest()


def _truth_of(
    frame: pd.DataFrame, truth: Any, label: str | None, where: str
) -> tuple[str, pd.Series[Any]]:
    """The label's name and its value per row; every row must have one."""
    import pandas as pd

    if isinstance(truth, str):
        if truth not in frame.columns:
            raise ConfigError(
                f"label column {truth!r} not in {where} (columns: {listing(frame.columns)})"
            )
        label, values = truth, frame[truth]
    else:
        values = pd.Series(truth).reset_index(drop=True)
        label = label or str(getattr(truth, "name", None) or "label")
        if len(values) != len(frame):
            raise ConfigError(
                f"truth: expected one value per row ({len(frame)}), got {len(values)}"
            )
    missing = [int(i) for i in values.index[values.isna()]]
    if missing:
        raise ConfigError(
            f"label column {label!r}: expected a value in every row, got none in row(s) "
            f"{listing(missing)}"
        )
    return label, values


def _slice_frame(
    frame: pd.DataFrame, slices_frame: pd.DataFrame | None, slice_by: Sequence[str], where: str
) -> pd.DataFrame:
    """The frame that holds the slice columns, checked to hold them all."""
    sliced = frame if slices_frame is None else slices_frame.reset_index(drop=True)
    if len(sliced) != len(frame):
        raise ConfigError(
            f"slices_frame: expected one row per row evaluated ({len(frame)}), got {len(sliced)}"
        )
    for column in slice_by:
        if column not in sliced.columns:
            raise ConfigError(
                f"slice column {column!r} not in {where} (columns: {listing(sliced.columns)})"
            )
    return sliced


def evaluate(
    model: PackagedModel,
    rows: Any,
    truth: str | Sequence[Any] | Any,
    *,
    slice_by: Sequence[str] = (),
    slices_frame: pd.DataFrame | None = None,
    label: str | None = None,
    task: Task | None = None,
    n_bootstrap: int = 200,
    confidence: float = 0.95,
    seed: int = 0,
    source: str | None = None,
    data_sha256: str | None = None,
    clock: Clock | None = None,
) -> Evaluation:
    """Measure a loaded version on labelled rows, overall and per slice, with intervals.

    Args:
        model: a loaded registry version (its metadata names it, its digest pins it).
        rows: a DataFrame (or records); its columns may hold more than the model takes.
        truth: the label column's name in ``rows``, or one true value per row.
        slice_by: columns of ``rows`` (or of ``slices_frame``) to measure per value.
        slices_frame: where the slice columns are when ``rows`` lacks them (same rows).
        label: the label's name when ``truth`` is values (default: their ``name``, else
            ``label``).
        task: ``classification`` or ``regression``, when the outputs cannot tell.
        n_bootstrap: resamples behind each interval (0: no intervals).
        confidence: the level of the intervals, between 0 and 1.
        seed: seeds the bootstrap.
        source: the data's name, for the record and messages (``test.csv``).
        data_sha256: the hash of the data file's bytes, if there is a file.
        clock: gives the evaluation's time (default: the system's).

    Raises:
        ConfigError: no rows; a label or slice column missing (naming the columns there
            are); a missing or non-numeric truth value; outputs that name no task.
        SignatureError: the rows do not fit the model's inputs.

    Example:
        >>> model = registry.load("iris:1")  # doctest: +SKIP
        >>> result = evaluate(model, frame, "species", slice_by=["site"])  # doctest: +SKIP
        >>> result.metric("accuracy")  # doctest: +SKIP
        MetricValue(name='accuracy', value=0.96, lower=0.92, upper=0.99)
    """
    import pandas as pd

    if n_bootstrap < 0:
        raise ConfigError(f"n_bootstrap: expected 0 or more resamples, got {n_bootstrap}")
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence: expected a level between 0 and 1, got {confidence}")
    where = source or "the data"
    frame = (rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)).reset_index(drop=True)
    if len(frame) == 0:
        raise ConfigError(f"{where}: expected rows to evaluate, got none")
    label, values = _truth_of(frame, truth, label, where)
    sliced = _slice_frame(frame, slices_frame, slice_by, where)
    signature = model.signature
    found_task = _task_of(signature, model.ref, task)
    if signature.kind == "columns":
        inputs = frame[[n for n in signature.input_names if n in frame.columns]]
    else:
        inputs = frame.drop(columns=[label]) if label in frame.columns else frame
    outputs = model.predict(inputs)
    if found_task == "classification":
        outcome = classes(signature, outputs, [plain(v) for v in values], label)
    else:
        outcome = numbers(signature, outputs, values, label)
    settings = _Settings(n_bootstrap, confidence, seed)
    overall = _measure(outcome, None, settings)
    slices, slice_notes = _slices(outcome, sliced, slice_by, settings)
    notes = [*outcome.notes, *slice_notes]
    for note in notes:
        log.info("evaluating %s: %s", model.ref, note)

    if data_sha256 is None:
        hashed = frame if isinstance(truth, str) else frame.assign(**{label: values})
        data_sha256, kind = _frame_sha256(hashed), "frame"
    else:
        kind = "file"
    moment = datetime.fromtimestamp((clock or SystemClock()).time(), UTC)
    metadata = model.metadata
    return Evaluation(
        id=f"{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}",
        model=str(metadata["name"]),
        version=int(metadata["version"]),
        digest=model.digest,
        created_at=moment.isoformat(timespec="milliseconds"),
        task=found_task,
        data={
            "source": source,
            "n_rows": len(frame),
            "sha256": data_sha256,
            "hashed": kind,
            "notes": notes,
        },
        label=label,
        confidence=confidence,
        n_bootstrap=n_bootstrap,
        seed=seed,
        overall=overall,
        slices=slices,
        **_extras(outcome),
    )
