"""The truth and the prediction per row, as the arrays the metrics take.

``classes`` turns a classifier's outputs and the true values into class codes (truth the
model does not know gets codes after its classes, and a note); ``numbers`` checks a
regressor's outputs and truth are numbers. The helpers here (``plain``, ``sort_key``,
``listing``) also serve ``evaluate``'s slices and messages.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from roost.cards.evaluation import Task
from roost.errors import ConfigError
from roost.model import OutputSpec, Signature
from roost.types import JSONValue

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from numpy.typing import NDArray

__all__ = ["Outcome", "classes", "listing", "numbers", "plain", "sort_key"]

#: values named in a message before it says how many more there are
_SHOWN = 5


def listing(values: Iterable[Any]) -> str:
    items = [str(v) for v in values]
    more = f", … ({len(items) - _SHOWN} more)" if len(items) > _SHOWN else ""
    return ", ".join(items[:_SHOWN]) + more


def plain(value: Any) -> JSONValue:
    """A value from a frame or a model as JSON: numpy scalars unwrapped, the rest as text."""
    if type(value).__module__ == "numpy":  # np.int64, np.str_…: without importing numpy
        value = value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _key(value: JSONValue) -> str:
    """What makes two class values the same class: ``1``, ``1.0`` and ``"1"`` are one."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def sort_key(value: JSONValue) -> tuple[int, float, str]:
    if isinstance(value, int | float):  # bool too
        return 0, float(value), ""
    return (2, 0.0, "") if value is None else (1, 0.0, str(value))


def _distinct(values: Iterable[JSONValue]) -> list[JSONValue]:
    """The values, one per class key, sorted (numbers, then text)."""
    seen: dict[str, JSONValue] = {}
    for value in values:
        seen.setdefault(_key(value), value)
    return sorted(seen.values(), key=sort_key)


@dataclass(frozen=True, slots=True)
class Outcome:
    """Truth and prediction per row, as arrays the metrics take."""

    task: Task
    truth: NDArray[Any]  # class codes, or numbers
    predicted: NDArray[Any]
    proba: NDArray[np.float64] | None = None
    positive: int | None = None  # the positive class's code, with two classes
    n_classes: int | None = None  # codes from here on: truth the model does not know
    labels: tuple[JSONValue, ...] = ()  # the label of each class code
    notes: tuple[str, ...] = ()


def _column(signature: Signature, outputs: list[Any], spec: OutputSpec) -> list[Any]:
    if len(signature.outputs) == 1:
        return outputs
    return [row[spec.name] for row in outputs]


def classes(
    signature: Signature, outputs: list[Any], truth: list[JSONValue], label: str
) -> Outcome:
    import numpy as np

    proba_spec = next((o for o in signature.outputs if o.labels is not None), None)
    label_spec = next((o for o in signature.outputs if o.name == "label"), None)
    proba = None
    classes: list[JSONValue] = []
    if proba_spec is not None:
        classes = [plain(c) for c in proba_spec.labels or ()]
        proba = np.asarray(_column(signature, outputs, proba_spec), dtype=np.float64)
        if proba.shape != (len(truth), len(classes)):
            raise ConfigError(
                f"output {proba_spec.name!r}: expected {len(classes)} probabilities per row "
                f"(one per label), got shape {proba.shape}"
            )
    if label_spec is not None:
        predicted = [plain(v) for v in _column(signature, outputs, label_spec)]
    elif proba is not None:
        predicted = [classes[i] for i in proba.argmax(axis=1)]
    else:
        predicted = [plain(v) for v in _column(signature, outputs, signature.outputs[0])]
        classes = _distinct([*predicted, *truth])
    codes: dict[str, int] = {}
    for value in classes:
        codes.setdefault(_key(value), len(codes))
    extras = _distinct(v for v in (*truth, *predicted) if _key(v) not in codes)
    for value in extras:
        codes[_key(value)] = len(codes)
    unknown = [v for v in truth if codes[_key(v)] >= len(classes)]
    notes: tuple[str, ...] = ()
    if unknown:
        notes = (
            f"label column {label!r}: {len(unknown)} row(s) hold values the model does not "
            f"know ({listing(_distinct(unknown))}); they count as wrong",
        )
    return Outcome(
        task="classification",
        truth=np.array([codes[_key(v)] for v in truth], dtype=np.int64),
        predicted=np.array([codes[_key(v)] for v in predicted], dtype=np.int64),
        proba=proba,
        positive=1 if len(classes) == 2 else None,
        n_classes=len(classes),
        labels=(*classes, *extras),
        notes=notes,
    )


def numbers(signature: Signature, outputs: list[Any], truth: pd.Series[Any], label: str) -> Outcome:
    import numpy as np
    import pandas as pd

    spec = signature.outputs[0]
    try:
        predicted = np.asarray(outputs, dtype=np.float64).reshape(len(truth))
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"output {spec.name!r}: expected one number per row for regression ({exc})"
        ) from None
    numbers = pd.to_numeric(truth, errors="coerce")
    bad = numbers.isna().to_numpy() & truth.notna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ConfigError(
            f"label column {label!r}: expected numbers for regression, got "
            f"{truth.iloc[row]!r} in row {row}"
        )
    return Outcome("regression", numbers.to_numpy(dtype=np.float64), predicted)
