"""One Open Inference Protocol tensor: its datatypes, and its JSON ``data`` in and out.

A V2 tensor is a name, a datatype (``FP32``, ``BYTES``, …), a shape and its elements
in row-major order. JSON ``data`` may be flat or nested; either way the element count
must equal the product of the shape. The binary form of the same elements lives in
``_v2_binary``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from roost.serving.errors import BadRequest

__all__ = [
    "DATATYPES",
    "Tensor",
    "array_from_json",
    "element_count",
    "json_data",
    "numpy_dtype",
]

#: every datatype the protocol names, with the numpy dtype its elements become here
#: (BF16 has no numpy dtype without ml_dtypes: it is widened to float32 on the way in)
DATATYPES: dict[str, str] = {
    "BOOL": "bool",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "FP16": "float16",
    "FP32": "float32",
    "FP64": "float64",
    "BF16": "float32",
    "BYTES": "object",
}


@dataclass(frozen=True, slots=True)
class Tensor:
    """A named, typed, shaped array, as one input or output of a V2 message.

    Attributes:
        name: the input's or output's name.
        datatype: one of ``DATATYPES``.
        shape: the dimensions, batch first.
        array: the elements, shaped; an object array of ``str`` or ``bytes`` for BYTES.
    """

    name: str
    datatype: str
    shape: tuple[int, ...]
    array: np.ndarray

    def __post_init__(self) -> None:
        if self.datatype not in DATATYPES:
            raise BadRequest(f"tensor {self.name!r}: unknown datatype {self.datatype!r}")


def numpy_dtype(datatype: str) -> np.dtype[Any]:
    """The numpy dtype a datatype's elements are held in."""
    return np.dtype(DATATYPES[datatype])


def element_count(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def _flatten(data: list[Any]) -> list[Any]:
    """Nested lists to a flat row-major list (a flat list is returned as is)."""
    if not any(isinstance(v, list) for v in data):
        return data
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        for value in stack[-1]:
            if isinstance(value, list):
                stack.append(iter(value))
                break
            flat.append(value)
        else:
            stack.pop()
    return flat


def _first_bad(values: list[Any], ok: Any) -> tuple[int, Any] | None:
    for i, value in enumerate(values):
        if not ok(value):
            return i, value
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number_or_null(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def _wrong_element(name: str, datatype: str, index: int, value: Any, why: str) -> BadRequest:
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    return BadRequest(
        f"input {name!r}: expected {why} for datatype {datatype}, "
        f"got {shown} ({type(value).__name__}) at element {index}"
    )


def array_from_json(name: str, datatype: str, shape: tuple[int, ...], data: Any) -> np.ndarray:
    """The array that JSON ``data`` (flat or nested, row-major) holds.

    Raises:
        BadRequest: ``data`` is not a list, its count differs from the shape's, or an
            element does not fit the datatype.
    """
    if not isinstance(data, list):
        raise BadRequest(f"input {name!r}: expected 'data' to be a list, got {type(data).__name__}")
    flat = _flatten(data)
    count = element_count(shape)
    if len(flat) != count:
        raise BadRequest(
            f"input {name!r}: shape {list(shape)} holds {count} elements, got {len(flat)} in 'data'"
        )
    dtype = numpy_dtype(datatype)
    if datatype == "BYTES":
        bad = _first_bad(flat, lambda v: v is None or isinstance(v, str))
        if bad is not None:
            raise _wrong_element(name, datatype, *bad, "strings")
        array = np.empty(count, dtype=object)
        array[:] = flat
    elif datatype == "BOOL":
        bad = _first_bad(flat, lambda v: isinstance(v, bool) or (_is_int(v) and v in (0, 1)))
        if bad is not None:
            raise _wrong_element(name, datatype, *bad, "true or false")
        array = np.array(flat, dtype=bool)
    elif dtype.kind in "iu":
        bad = _first_bad(flat, _is_int)
        if bad is not None:
            raise _wrong_element(name, datatype, *bad, "whole numbers")
        info = np.iinfo(dtype)
        bad = _first_bad(flat, lambda v: info.min <= v <= info.max)
        if bad is not None:
            raise _wrong_element(name, datatype, *bad, f"{info.min} to {info.max}")
        array = np.array(flat, dtype=dtype)
    else:
        bad = _first_bad(flat, _is_number_or_null)
        if bad is not None:
            raise _wrong_element(name, datatype, *bad, "numbers (or null for NaN)")
        try:
            wide = np.array(flat, dtype=np.float64)  # null becomes NaN
        except OverflowError:  # an int beyond any float: orjson never makes one, json does
            raise BadRequest(f"input {name!r}: a number is out of range for {datatype}") from None
        limit = np.finfo(dtype).max if datatype != "BF16" else 3.3895313892515355e38
        with np.errstate(invalid="ignore"):
            too_big = np.abs(wide) > limit
        if too_big.any():
            index = int(too_big.argmax())
            raise _wrong_element(name, datatype, index, flat[index], "numbers in range")
        array = wide.astype(dtype)
    return array.reshape(shape)


def _text(value: Any) -> Any:
    if isinstance(value, bytes):
        # JSON has no bytes: UTF-8 text is sent as is, anything else escaped, never lost
        return value.decode("utf-8", errors="backslashreplace")
    return value


def json_data(tensor: Tensor) -> list[Any]:
    """The tensor's elements as a flat JSON list (NaN is written as null by orjson)."""
    flat = tensor.array.reshape(-1)
    if tensor.datatype == "BYTES":
        return [_text(v) for v in flat.tolist()]
    values: list[Any] = flat.tolist()
    return values
