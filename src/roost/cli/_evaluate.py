"""``roost evaluate``: measure a version on a labelled CSV file and keep the result.

The file is read as ``roost predict`` reads CSV (with the signature in hand); the model
takes its input columns, the label and slice columns may be any others. The evaluation
is stored with the version (``EvaluationHistory``) and printed as tables, or as JSON.
"""

from __future__ import annotations

import hashlib
import math
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from roost.cli._output import heading, plain_table, print_json, stdout_console
from roost.cli._params import JsonOption, RefArgument
from roost.cli._session import session_of
from roost.errors import ConfigError

if TYPE_CHECKING:
    from roost.cards.evaluation import Evaluation, MetricValue, Task
    from roost.model import Signature

__all__ = ["evaluate"]


class TaskChoice(StrEnum):
    """What the model does, for a model whose outputs do not say."""

    CLASSIFICATION = "classification"
    REGRESSION = "regression"


_TASKS: dict[TaskChoice, Task] = {
    TaskChoice.CLASSIFICATION: "classification",
    TaskChoice.REGRESSION: "regression",
}


def _reading_signature(signature: Signature, label: str) -> Signature:
    """The signature, plus the label as text when the model's classes are text.

    So a label column of ``"01"`` and ``"02"`` stays text, and matches its classes.
    """
    from roost.model import ColumnSpec, Signature

    classes = [c for spec in signature.outputs for c in spec.labels or ()]
    if (
        signature.kind != "columns"
        or label in signature.input_names
        or not classes
        or not all(isinstance(c, str) for c in classes)
    ):
        return signature
    inputs = tuple(spec for spec in signature.inputs if isinstance(spec, ColumnSpec))
    return Signature((*inputs, ColumnSpec(label, "string", allow_nan=True)), signature.outputs)


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _interval(metric: MetricValue) -> str:
    if metric.lower is None or metric.upper is None:
        return ""
    return f"{_number(metric.lower)} – {_number(metric.upper)}"


def _with_interval(metric: MetricValue) -> str:
    if metric.lower is None or metric.upper is None:
        return _number(metric.value)
    return f"{_number(metric.value)} ({metric.lower:.3g}–{metric.upper:.3g})"


def _print(evaluation: Evaluation, path: Path) -> None:
    console = stdout_console()
    data = evaluation.data
    rows = f"{data['n_rows']} row{'' if data['n_rows'] == 1 else 's'}"
    console.print(
        heading(f"Evaluation of {evaluation.ref} on {data['source']} ({rows}, {evaluation.task})")
    )
    level = f"{evaluation.confidence * 100:.4g}% interval"
    table = plain_table("metric", "value", level, right=("value",))
    for metric in evaluation.overall:
        table.add_row(metric.name, _number(metric.value), _interval(metric))
    console.print(table)
    columns = list(dict.fromkeys(s.column for s in evaluation.slices))
    names = [m.name for m in evaluation.overall]
    for column in columns:
        console.print(heading(f"\nBy {column}"))
        table = plain_table(column, "rows", *names, right=("rows", *names))
        for result in evaluation.slices:
            if result.column != column:
                continue
            value = "(missing)" if result.value is None else str(result.value)
            cells = [_with_interval(metric) for metric in result.metrics]
            table.add_row(value, str(result.n_rows), *cells)
        console.print(table)
    for note in data.get("notes") or ():
        console.print(f"note: {note}")
    console.print(f"saved evaluation {evaluation.id} to {path}")


def evaluate(
    ctx: typer.Context,
    ref: RefArgument,
    data: Annotated[
        Path,
        typer.Option(
            "--data", metavar="FILE", help="The labelled rows: a CSV file.", show_default=False
        ),
    ],
    label: Annotated[
        str,
        typer.Option(
            "--label", metavar="COLUMN", help="The column with the true values.", show_default=False
        ),
    ],
    slice_by: Annotated[
        list[str] | None,
        typer.Option(
            "--slice-by",
            metavar="COLUMN",
            help="Also measure per value of this column (repeat for several).",
            show_default=False,
        ),
    ] = None,
    n_bootstrap: Annotated[
        int,
        typer.Option(
            "--bootstrap", metavar="N", help="Resamples per interval (0: none; fewer run faster)."
        ),
    ] = 200,
    confidence: Annotated[
        float, typer.Option("--confidence", help="The level of the intervals.")
    ] = 0.95,
    seed: Annotated[int, typer.Option("--seed", help="Seeds the bootstrap.")] = 0,
    task: Annotated[
        TaskChoice | None,
        typer.Option(
            "--task", help="What the model does, if its outputs do not say.", show_default=False
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Measure a version on labelled rows, overall and per slice, and keep the result.

    Classifiers get accuracy, precision, recall, F1, ROC AUC and calibration error;
    regressors MAE, RMSE and R². Every metric comes with a bootstrap interval. The
    evaluation is stored beside the registry, where model cards find it.
    """
    from roost.cards.evaluate import evaluate as measure
    from roost.cards.history import EvaluationHistory
    from roost.model import parse_csv

    # checked here, before the model loads, so a message names the option as typed
    if n_bootstrap < 0:
        raise ConfigError(f"--bootstrap: expected 0 or more resamples, got {n_bootstrap}")
    if not (math.isfinite(confidence) and 0 < confidence < 1):
        raise ConfigError(f"--confidence: expected a level between 0 and 1, got {confidence:g}")
    registry = session_of(ctx).registry()
    model = registry.load(ref)  # a bad reference fails before any file is read
    path = data.expanduser()
    raw = path.read_bytes()
    try:
        # utf-8-sig: spreadsheets often start their CSV files with a byte-order mark
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{data}: expected UTF-8 text, got byte {raw[exc.start]:#04x} at offset {exc.start}"
        ) from None
    frame = parse_csv(text, _reading_signature(model.signature, label), source=str(data))
    if label not in frame.columns:
        columns = ", ".join(map(str, frame.columns))
        raise ConfigError(f"--label: column {label!r} not in {data} (columns: {columns})")
    evaluation = measure(
        model,
        frame,
        label,
        slice_by=slice_by or (),
        task=None if task is None else _TASKS[task],
        n_bootstrap=n_bootstrap,
        confidence=confidence,
        seed=seed,
        source=data.name,
        data_sha256=hashlib.sha256(raw).hexdigest(),
    )
    saved = EvaluationHistory(registry).save(evaluation)
    if as_json:
        print_json(evaluation.to_dict())
        return
    _print(evaluation, saved)
