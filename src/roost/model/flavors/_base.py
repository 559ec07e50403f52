"""The Flavor seam: how roost saves, loads and runs one framework's models.

A flavor is stateless. It is picked by looking at the object (``matches``), never
declared by the user. ``predict`` is used both on the live object at save time
(to measure the output signature) and on the loaded object afterwards, so
"save then load gives identical predictions" holds by construction and is tested.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from roost.errors import FlavorError
from roost.types import JSONDict, JSONValue

__all__ = [
    "Flavor",
    "as_outputs",
    "import_framework",
    "in_fit_order",
    "jsonable_params",
    "module_roots",
]


class Flavor(Protocol):
    #: the flavor's name in ``model.yaml`` (``sklearn``, ``onnx``, …).
    name: str
    #: the distribution whose version is recorded (``scikit-learn``, ``onnxruntime``, …).
    framework: str

    def matches(self, obj: object) -> bool:
        """Whether this flavor handles ``obj``. Must not import a framework not yet imported."""
        ...

    def options(self, obj: Any, proba: bool | None) -> JSONDict:
        """What to record at save time to run the object the same way after loading."""
        ...

    def save(self, obj: Any, directory: Path) -> str:
        """Write the object into ``directory``; return the artifact's file name."""
        ...

    def load(self, path: Path, options: JSONDict) -> Any:
        """Read the artifact written by ``save``; hashes were verified before this call."""
        ...

    def predict(self, obj: Any, batch: Any, options: JSONDict) -> dict[str, Any]:
        """Run the object on a validated batch; return each output, one entry per row."""
        ...

    def params(self, obj: Any) -> JSONDict:
        """The estimator's hyper-parameters, JSON-safe."""
        ...

    def labels(self, obj: Any, options: JSONDict) -> dict[str, list[JSONValue]]:
        """The class of each position of a probability output, by output name."""
        ...


def module_roots(obj: object) -> set[str]:
    """Top-level modules of the object's class and its bases (``{'sklearn', 'xgboost'}``)."""
    return {cls.__module__.split(".", 1)[0] for cls in type(obj).__mro__}


def import_framework(module: str, extra: str) -> Any:
    """Import a framework, or say which extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise FlavorError(
            f"this model needs {module!r}, which is not installed; "
            f"install it with: pip install 'roost[{extra}]'"
        ) from exc


def in_fit_order(batch: Any, names: Any) -> Any:
    """A DataFrame batch with its columns in the order the model was fitted with.

    The signature keeps the example's column order, which may differ from the fit's:
    scikit-learn and XGBoost then refuse the batch, and LightGBM predicts on swapped
    columns without a word. Anything else (an array, no names, names the framework
    rewrote, such as LightGBM's spaces turned to underscores) is returned unchanged.
    """
    if names is None or not hasattr(batch, "columns"):
        return batch
    order = [str(n) for n in names]
    if order != list(batch.columns) and set(order) == set(batch.columns):
        return batch[order]
    return batch


def jsonable_params(params: Mapping[str, Any]) -> JSONDict:
    """Keep plain values as they are; write anything else (estimators, functions) as its repr."""
    import math

    out: JSONDict = {}
    for key, value in sorted(params.items()):
        if isinstance(value, float) and not math.isfinite(value):
            out[str(key)] = repr(value)
        elif value is None or isinstance(value, bool | int | float | str):
            out[str(key)] = value
        elif isinstance(value, list | tuple) and all(
            v is None or isinstance(v, bool | int | float | str) for v in value
        ):
            out[str(key)] = list(value)
        elif callable(getattr(value, "get_params", None)):
            # a nested estimator: its own parameters are listed under "key__…" already
            out[str(key)] = type(value).__name__
        else:
            text = " ".join(repr(value).split())  # one line, whatever the repr's layout
            out[str(key)] = text if len(text) <= 200 else text[:197] + "..."
    return out


def as_outputs(result: Any) -> dict[str, Any]:
    """Name a model's raw result: a dict or DataFrame keeps its names, anything else is
    ``prediction``."""
    import numpy as np
    import pandas as pd

    if isinstance(result, pd.DataFrame):
        return {str(c): result[c].to_numpy() for c in result.columns}
    if isinstance(result, pd.Series):
        return {"prediction": result.to_numpy()}
    if isinstance(result, Mapping):
        # a Series per output is common (`{"double": df["a"] * 2}`); as an array its dtype
        # is measured like any other output's instead of reading as ``object``
        return {str(k): v.to_numpy() if isinstance(v, pd.Series) else v for k, v in result.items()}
    if isinstance(result, np.ndarray):
        return {"prediction": result}
    if isinstance(result, list | tuple):
        return {"prediction": np.asarray(result) if _is_rectangular(result) else list(result)}
    raise FlavorError(
        "model output: expected an array, a list, a DataFrame or a dict of outputs, "
        f"got {type(result).__name__}"
    )


def _is_rectangular(values: list[Any] | tuple[Any, ...]) -> bool:
    return all(isinstance(v, int | float | str | bool) for v in values)
