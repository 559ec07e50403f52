"""Infer a signature from example rows and from the model's real output on them.

Measured, not typed: ``roost.save`` runs the model on the example and records
exactly what came back, so the signature can never drift from the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from roost.errors import ConfigError, Error, ModelError
from roost.model._batches import as_frame, count_rows
from roost.model._signature import ColumnSpec, OutputSpec, TensorSpec
from roost.types import JSONValue, Rows

__all__ = [
    "example_frame",
    "infer_inputs",
    "infer_outputs",
    "plain",
    "predict_with_flavor",
    "rows_from_outputs",
]


def _is_tensor_mapping(example: Any) -> bool:
    import numpy as np

    return (
        isinstance(example, Mapping)
        and bool(example)
        and all(isinstance(v, np.ndarray) and v.ndim >= 1 for v in example.values())
    )


def example_frame(example: Rows) -> Any:
    """The example as a DataFrame (columns) or as arrays (tensors), before any signature exists."""
    import numpy as np
    import pandas as pd

    if isinstance(example, pd.DataFrame):
        return example.reset_index(drop=True)
    if isinstance(example, pd.Series):
        return example.to_frame().T.reset_index(drop=True).infer_objects()
    if _is_tensor_mapping(example):
        return {str(k): v for k, v in example.items()}
    if isinstance(example, Mapping):
        return pd.DataFrame([dict(example)])
    if isinstance(example, np.ndarray):
        return example
    if isinstance(example, Sequence) and example and all(isinstance(r, Mapping) for r in example):
        return pd.DataFrame.from_records(list(example))
    if isinstance(example, Sequence) and not isinstance(example, str | bytes) and example:
        return np.asarray(example)  # a string is not a list of rows, whatever Sequence says
    raise ConfigError(
        "example: expected a DataFrame, a list of dicts, a numpy array or a dict of arrays "
        f"with at least one row, got {type(example).__name__}"
    )


def _column_dtype(name: str, column: Any) -> str:
    import pandas as pd

    kind = column.dtype.kind
    if kind == "b":
        return "bool"
    if kind in "iu":
        return "int64"
    if kind == "f":
        return "float32" if column.dtype.itemsize == 4 else "float64"
    if kind == "M":
        return "datetime"
    if isinstance(column.dtype, pd.CategoricalDtype):
        # typed by what the categories hold: categories of numbers are numbers
        return _column_dtype(name, pd.Series(column.cat.categories))
    if all(isinstance(v, str) for v in column.dropna()):
        return "string"
    if column.dropna().map(lambda v: isinstance(v, bool)).all():
        return "bool"
    raise ConfigError(
        f"example column {name!r}: cannot infer a type from {column.dtype} values "
        f"such as {column.dropna().iloc[0]!r}; pass signature= explicitly"
    )


def _tensor_dtype(name: str, array: Any) -> str:
    kind = array.dtype.kind
    if kind in "US" or (kind == "O" and all(isinstance(v, str) for v in array.flat)):
        return "string"
    if kind in "biuf":
        return str(array.dtype)
    raise ConfigError(f"example tensor {name!r}: cannot use dtype {array.dtype}")


def infer_inputs(
    example: Rows, nan_columns: frozenset[str] = frozenset()
) -> tuple[ColumnSpec, ...] | tuple[TensorSpec, ...]:
    """Input specs from example rows.

    Args:
        example: a DataFrame, list of dicts or one dict (columns); a numpy array or a
            dict of arrays (tensors).
        nan_columns: columns (or tensors) where missing values were seen in the training
            data, so missing values stay acceptable at prediction time.
    """
    import numpy as np
    import pandas as pd

    data = example_frame(example)
    if isinstance(data, pd.DataFrame):
        return tuple(
            ColumnSpec(
                name=str(name),
                dtype=_column_dtype(str(name), data[name]),
                allow_nan=str(name) in nan_columns or bool(data[name].isna().any()),
            )
            for name in data.columns
        )
    arrays = data if isinstance(data, dict) else {"input": data}
    specs = []
    for name, array in arrays.items():
        array = np.asarray(array)
        if array.ndim == 0:
            raise ConfigError(f"example tensor {name!r}: expected a batch of rows, got a scalar")
        dtype = _tensor_dtype(name, array)
        has_nan = array.dtype.kind == "f" and bool(np.isnan(array).any())
        specs.append(
            TensorSpec(
                name=name,
                dtype=dtype,
                shape=(-1, *array.shape[1:]),
                allow_nan=name in nan_columns or has_nan,
            )
        )
    return tuple(specs)


def _output_dtype(values: Any) -> str:
    import numpy as np

    array = values if isinstance(values, np.ndarray) else None
    if array is None:
        if all(isinstance(v, str) for v in values):
            return "string"
        return "object"
    kind = array.dtype.kind
    if kind in "US" or (kind == "O" and all(isinstance(v, str) for v in array.flat)):
        return "string"
    if kind in "biuf":
        return str(array.dtype)
    return "object"


def infer_outputs(
    outputs: Mapping[str, Any], labels: Mapping[str, Sequence[JSONValue]] | None = None
) -> tuple[OutputSpec, ...]:
    """Output specs from the model's real output on the example."""
    import numpy as np

    specs = []
    for name, values in outputs.items():
        shape = (-1, *np.shape(values)[1:]) if isinstance(values, np.ndarray) else (-1,)
        spec_labels = labels.get(name) if labels else None
        specs.append(
            OutputSpec(
                name=name,
                dtype=_output_dtype(values),
                shape=shape,
                labels=tuple(spec_labels) if spec_labels is not None else None,
            )
        )
    return tuple(specs)


def plain(value: Any) -> Any:
    """Numpy scalars and arrays to plain Python values, so results serialise anywhere.

    An object array's ``tolist()`` keeps its numpy elements (``np.str_`` labels from a
    classifier fitted on pandas strings, ONNX ZipMap dicts with ``np.int64`` keys), and
    YAML or a strict JSON encoder refuses those, so object arrays are walked element-wise.
    """
    import numpy as np

    if isinstance(value, np.ndarray):
        if value.dtype.kind != "O":
            return value.tolist()
        value = value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {(k.item() if isinstance(k, np.generic) else k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def rows_from_outputs(outputs: Mapping[str, Any], n_rows: int) -> list[Any]:
    """Split the model's outputs into exactly one plain value per input row.

    One output gives its value per row; several give a dict of name to value per row.

    Raises:
        ModelError: an output does not have one entry per input row.
    """
    import numpy as np

    columns = {}
    for name, values in outputs.items():
        # a scalar (0-d array, number, string) is one value for the whole batch, not per row
        is_batch = hasattr(values, "__len__") and not isinstance(values, str | bytes | Mapping)
        if not is_batch or (isinstance(values, np.ndarray) and values.ndim == 0):
            raise ModelError(
                f"output {name!r}: expected one value per input row ({n_rows}), "
                f"got a single {type(values).__name__}"
            )
        if len(values) != n_rows:
            raise ModelError(
                f"output {name!r}: expected one value per input row ({n_rows}), got {len(values)}"
            )
        columns[name] = plain(values if isinstance(values, np.ndarray) else list(values))
    if len(columns) == 1:
        return next(iter(columns.values()))
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def predict_with_flavor(
    flavor: Any, obj: Any, validated: Any, options: Mapping[str, Any], name: str
) -> list[Any]:
    """Run a framework object on a validated batch through its flavor; one output per row.

    A framework's own failure becomes a ``ModelError`` naming the model (``name``).
    """
    n_rows = count_rows(validated)
    if n_rows == 0:
        return []
    try:
        outputs = flavor.predict(obj, as_frame(validated), options)
    except Error:
        raise
    except Exception as exc:  # a framework's own failure becomes a roost error with context
        raise ModelError(f"model {name} failed: {type(exc).__name__}: {exc}") from exc
    return rows_from_outputs(outputs, n_rows)
