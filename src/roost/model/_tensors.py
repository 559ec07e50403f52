"""Validate rows against a tensor signature: named numpy arrays, batch axis first."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from roost.errors import SignatureError
from roost.model._values import describe, out_of_range
from roost.types import Rows

if TYPE_CHECKING:
    import numpy as np

    from roost.model._signature import TensorSpec

__all__ = ["validate_tensors"]


def _tensor_array(spec: TensorSpec, value: Any) -> np.ndarray:
    import numpy as np

    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise SignatureError(
            f"tensor {spec.name!r}: expected a nested list of {spec.dtype}, "
            f"got ragged or unreadable data ({exc})",
            field=spec.name,
        ) from exc
    if array.dtype.kind == "U" and not isinstance(value, np.ndarray):
        # numpy made every value text ([1, "a"] gives "1", "a"): look at what was sent, so a
        # number in a string tensor is refused and a word in a number tensor is found
        array = np.asarray(value, dtype=object)
    if array.shape == (0,) and len(spec.shape) > 1:
        # `[]` is an empty batch, not one instance with an empty first dimension
        array = array.reshape(0, *(max(d, 0) for d in spec.shape[1:]))
    elif array.ndim == len(spec.shape) - 1:
        array = array.reshape(1, *array.shape)  # one instance without its batch axis
    if array.ndim != len(spec.shape):
        raise SignatureError(
            f"tensor {spec.name!r}: expected shape {list(spec.shape)}, got {list(array.shape)}",
            field=spec.name,
        )
    for axis, (want, got) in enumerate(zip(spec.shape, array.shape, strict=True)):
        if want != -1 and want != got:
            raise SignatureError(
                f"tensor {spec.name!r}: expected shape {list(spec.shape)}, "
                f"got {list(array.shape)} (dimension {axis} must be {want})",
                field=spec.name,
            )
    return _tensor_dtype(spec, array)


def _tensor_dtype(spec: TensorSpec, array: np.ndarray) -> np.ndarray:
    import numpy as np

    def fail(index: tuple[int, ...], value: Any, why: str = "") -> SignatureError:
        detail = f" ({why})" if why else ""
        return SignatureError(
            f"tensor {spec.name!r}: expected {spec.dtype}, got {describe(value)} "
            f"at {list(index)}{detail}",
            field=spec.name,
            row=index[0] if index else None,
        )

    if spec.dtype == "string":
        if array.dtype.kind in "US" or array.size == 0:
            return array.astype(object)
        if array.dtype.kind == "O":
            for index, value in np.ndenumerate(array):
                if not isinstance(value, str):
                    raise fail(index, value)
            return array
        raise (
            fail((0,) * array.ndim, array.flat[0])
            if array.size
            else SignatureError(
                f"tensor {spec.name!r}: expected string, got {array.dtype}", field=spec.name
            )
        )
    target = np.dtype(spec.dtype)
    if array.dtype.kind not in "biuf" or (array.dtype.kind == "b") != (target.kind == "b"):
        if array.size == 0:
            return array.astype(target)
        for index, value in np.ndenumerate(array):
            numeric = isinstance(value, int | float | np.integer | np.floating)
            is_bool = isinstance(value, bool | np.bool_)
            if target.kind == "b" and not is_bool:
                raise fail(index, value)
            if target.kind != "b" and (not numeric or is_bool):
                raise fail(index, value)
        array = array.astype("float64" if target.kind != "b" else bool)
    if array.dtype.kind == "f" and (not spec.allow_nan or target.kind != "f"):
        nan = np.isnan(array)
        if nan.any():
            index = tuple(int(i) for i in np.argwhere(nan)[0])
            raise fail(index, array[index], "NaN is not allowed")
    unfit = out_of_range(array, target)
    if unfit.any():
        index = tuple(int(i) for i in np.argwhere(unfit)[0])
        raise fail(index, array[index], f"out of range for {spec.dtype}")
    if target.kind in "iu" and array.dtype.kind == "f":
        finite = np.nan_to_num(array)
        if (finite != np.round(finite)).any():
            index = tuple(int(i) for i in np.argwhere(finite != np.round(finite))[0])
            raise fail(index, array[index], "not a whole number")
    return array.astype(target, copy=False)


def validate_tensors(specs: tuple[TensorSpec, ...], rows: Rows) -> Any:
    if len(specs) == 1:
        spec = specs[0]
        if isinstance(rows, Mapping):
            if spec.name not in rows:
                raise SignatureError(
                    f"missing tensor {spec.name!r} (expected {spec.dtype} {list(spec.shape)}); "
                    f"received: {', '.join(map(str, rows)) or 'none'}",
                    field=spec.name,
                )
            rows = rows[spec.name]
        return _tensor_array(spec, rows)
    if not isinstance(rows, Mapping):
        raise SignatureError(
            f"input: expected a dict of tensors ({', '.join(s.name for s in specs)}), "
            f"got {type(rows).__name__}"
        )
    arrays = {}
    for spec in specs:
        if spec.name not in rows:
            raise SignatureError(
                f"missing tensor {spec.name!r} (expected {spec.dtype} {list(spec.shape)})",
                field=spec.name,
            )
        arrays[spec.name] = _tensor_array(spec, rows[spec.name])
    sizes = {name: array.shape[0] for name, array in arrays.items()}
    if len(set(sizes.values())) > 1:
        raise SignatureError(f"input: tensors disagree on the number of rows: {sizes}")
    return arrays
