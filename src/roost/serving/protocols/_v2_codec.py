"""A signature seen through the Open Inference Protocol: tensors in, rows out, and back.

- **Column signatures** follow MLServer's pandas codec: one input tensor per column,
  shaped ``[n]`` or ``[n, 1]``, strings and dates as BYTES; the columns are assembled
  into a DataFrame of ``n`` rows.
- **Tensor signatures** map input names to tensors directly, the batch dimension first.

Either way each signature output becomes one output tensor over the whole batch
(``label`` BYTES ``[n]``, ``probabilities`` FP64 ``[n, 3]``). Values are checked by
the signature itself (``predict_rows`` validates); this module checks only what the
protocol adds: names, datatypes and shapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from roost.errors import ModelError
from roost.model import ColumnSpec, OutputSpec, Signature, TensorSpec
from roost.serving.errors import BadRequest
from roost.serving.protocols._v2_tensors import Tensor
from roost.types import JSONDict, Rows

__all__ = [
    "check_output_names",
    "input_metadata",
    "output_metadata",
    "outputs_as_tensors",
    "rows_from_tensors",
]

#: the V2 datatype of each signature dtype (dates travel as ISO 8601 text, objects as JSON)
_DATATYPE = {
    "bool": "BOOL",
    "int8": "INT8",
    "int16": "INT16",
    "int32": "INT32",
    "int64": "INT64",
    "uint8": "UINT8",
    "uint16": "UINT16",
    "uint32": "UINT32",
    "uint64": "UINT64",
    "float16": "FP16",
    "float32": "FP32",
    "float64": "FP64",
    "string": "BYTES",
    "datetime": "BYTES",
    "object": "BYTES",
}
_NUMERIC = frozenset(
    {"UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64"}
    | {"FP16", "FP32", "FP64", "BF16"}
)


def _metadata(name: str, dtype: str, shape: Sequence[int]) -> JSONDict:
    datatype = _DATATYPE[dtype]
    data: JSONDict = {"name": name, "datatype": datatype, "shape": list(shape)}
    if datatype == "BYTES" and dtype != "object":
        data["parameters"] = {"content_type": "str"}  # MLServer's name for UTF-8 text
    return data


def input_metadata(signature: Signature) -> list[JSONDict]:
    """The model metadata's ``inputs``: a column is a ``[-1]`` tensor of its own."""
    return [
        _metadata(spec.name, spec.dtype, [-1] if isinstance(spec, ColumnSpec) else spec.shape)
        for spec in signature.inputs
    ]


def output_metadata(signature: Signature) -> list[JSONDict]:
    return [_metadata(spec.name, spec.dtype, spec.shape) for spec in signature.outputs]


def _accepts(dtype: str, datatype: str) -> bool:
    """Whether a tensor of ``datatype`` may feed a ``dtype`` input.

    Numbers may cross numeric types (FP32 into a float64 column, INT64 into a float
    one); the signature then checks that every value fits (range, whole numbers).
    """
    expected = _DATATYPE[dtype]
    if expected in _NUMERIC:
        return datatype in _NUMERIC
    return datatype == expected


def _expected(spec: ColumnSpec | TensorSpec) -> str:
    shape = [-1] if isinstance(spec, ColumnSpec) else list(spec.shape)
    return f"{_DATATYPE[spec.dtype]} {shape}"


def _text(name: str, array: np.ndarray) -> np.ndarray:
    """BYTES elements as ``str``: binary BYTES arrive as bytes, and signatures want text."""
    if array.dtype.kind != "O":
        return array
    text = np.empty(array.shape, dtype=object)
    for index, value in np.ndenumerate(array):
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                raise BadRequest(
                    f"input {name!r}: BYTES element {list(index)} is not UTF-8 text"
                ) from None
        text[index] = value
    return text


def _matched(signature: Signature, tensors: Sequence[Tensor]) -> dict[str, Tensor]:
    specs = {spec.name: spec for spec in signature.inputs}
    expected = ", ".join(f"{spec.name} ({_expected(spec)})" for spec in signature.inputs)
    by_name: dict[str, Tensor] = {}
    for tensor in tensors:
        spec = specs.get(tensor.name)
        if spec is None:
            raise BadRequest(f"unknown input {tensor.name!r}; the model takes: {expected}")
        if not _accepts(spec.dtype, tensor.datatype):
            raise BadRequest(
                f"input {tensor.name!r}: expected datatype {_DATATYPE[spec.dtype]} "
                f"({spec.dtype}), got {tensor.datatype}"
            )
        by_name[tensor.name] = tensor
    missing = [spec for spec in signature.inputs if spec.name not in by_name]
    if missing:
        raise BadRequest(
            f"missing input {missing[0].name!r} (expected {_expected(missing[0])}); "
            f"the model takes: {expected}"
        )
    return by_name


def _column_rows(signature: Signature, by_name: dict[str, Tensor]) -> Rows:
    import pandas as pd

    columns = {}
    for spec in signature.inputs:
        tensor = by_name[spec.name]
        if len(tensor.shape) not in (1, 2) or tensor.shape[1:] not in ((), (1,)):
            raise BadRequest(
                f"input {spec.name!r}: expected shape [n] or [n, 1] (one value per row), "
                f"got {list(tensor.shape)}"
            )
        columns[spec.name] = _text(spec.name, tensor.array.reshape(-1))
    counts = {name: len(values) for name, values in columns.items()}
    if len(set(counts.values())) > 1:
        raise BadRequest(f"inputs: each column needs the same number of rows, got {counts}")
    return pd.DataFrame(columns)


def _tensor_rows(signature: Signature, by_name: dict[str, Tensor]) -> Rows:
    arrays = {}
    for spec in signature.inputs:
        tensor = by_name[spec.name]
        shape = spec.shape if isinstance(spec, TensorSpec) else (-1,)
        if len(tensor.shape) != len(shape):
            raise BadRequest(
                f"input {spec.name!r}: expected shape {list(shape)} (batch first), "
                f"got {list(tensor.shape)}"
            )
        arrays[spec.name] = _text(spec.name, tensor.array)
    return arrays


def rows_from_tensors(signature: Signature, tensors: Sequence[Tensor]) -> Rows:
    """The rows ``predict_rows`` takes: a DataFrame (columns) or a dict of arrays (tensors).

    Raises:
        BadRequest: an input is unknown or missing, or has the wrong datatype or shape.
    """
    by_name = _matched(signature, tensors)
    if signature.kind == "columns":
        return _column_rows(signature, by_name)
    return _tensor_rows(signature, by_name)


def check_output_names(signature: Signature, names: Sequence[str]) -> None:
    """Refuse requested outputs the model does not have, before running it.

    Raises:
        BadRequest: an unknown or repeated output name.
    """
    known = [spec.name for spec in signature.outputs]
    for name in names:
        if name not in known:
            raise BadRequest(f"unknown output {name!r}; the model gives: {', '.join(known)}")
    repeated = sorted({name for name in names if list(names).count(name) > 1})
    if repeated:
        raise BadRequest(f"outputs: each output may be requested once, got {repeated} twice")


def _as_text(value: Any) -> Any:
    return (
        value if value is None or isinstance(value, str | bytes) else orjson.dumps(value).decode()
    )


def _output_array(spec: OutputSpec, values: list[Any]) -> np.ndarray:
    if not values:
        trailing = tuple(max(d, 0) for d in spec.shape[1:])
        text = spec.dtype in ("string", "object")
        return np.empty((0, *trailing), dtype=object if text else spec.dtype)
    if spec.dtype in ("string", "object"):
        if spec.dtype == "string":
            nested = np.array(values, dtype=object)  # a string output may have trailing axes
        else:
            nested = np.empty(len(values), dtype=object)  # one JSON document per row
            nested[:] = values
        flat = np.empty(nested.size, dtype=object)
        flat[:] = [_as_text(v) for v in nested.reshape(-1).tolist()]
        return flat.reshape(nested.shape)
    try:
        return np.asarray(values, dtype=spec.dtype)
    except (TypeError, ValueError) as exc:
        raise ModelError(
            f"output {spec.name!r}: expected {spec.dtype} values shaped {list(spec.shape)}, "
            f"the model gave values numpy cannot hold that way ({exc})"
        ) from exc


def outputs_as_tensors(
    signature: Signature, outputs: list[Any], names: Sequence[str]
) -> list[Tensor]:
    """One tensor per requested output, from the per-row outputs ``predict_rows`` returned.

    Raises:
        ModelError: the model's outputs do not match its own signature.
    """
    specs = {spec.name: spec for spec in signature.outputs}
    tensors = []
    for name in names:
        spec = specs[name]
        if len(signature.outputs) == 1:
            values = outputs
        else:
            try:
                values = [row[name] for row in outputs]
            except (KeyError, TypeError) as exc:
                raise ModelError(f"output {name!r}: missing from the model's output rows") from exc
        array = _output_array(spec, values)
        tensors.append(Tensor(name, _DATATYPE[spec.dtype], tuple(array.shape), array))
    return tensors
