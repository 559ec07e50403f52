"""TensorFlow Serving's two request formats, which KServe V1 and MLflow both speak.

- ``instances`` is the *row* format: a list with one entry per row. An entry is an
  object (column or tensor name to value) or a bare value (a list of values for a
  column signature, one instance of the tensor for a tensor signature).
- ``inputs`` is the *columnar* format: an object of name to the list of that name's
  values, one per row; or a plain list, read as ``instances``.

What comes out is handed to ``Signature.validate``, which judges every value; this
module only reshapes the JSON and refuses structures that cannot be rows at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roost.model import Signature
from roost.serving.errors import BadRequest
from roost.types import Rows

__all__ = [
    "FORMAT_KEYS",
    "json_type",
    "rows_from_columns",
    "rows_from_instances",
    "rows_from_payload",
]

#: the keys that carry the rows, exactly one of which a request holds
FORMAT_KEYS = ("instances", "inputs")


_JSON_TYPES: dict[type, str] = {
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "an object",
}


def json_type(value: Any) -> str:
    """How a message names a decoded JSON value's type: ``an object``, ``a number``, ``null``."""
    return "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)


def rows_from_instances(instances: Any, signature: Signature, key: str = "instances") -> Rows:
    """Rows from the row format: a list of objects, or a list of bare rows.

    Raises:
        BadRequest: ``instances`` is not a list, or mixes objects with other values.
    """
    if not isinstance(instances, list):
        raise BadRequest(
            f'"{key}": expected a list with one entry per row, got {json_type(instances)}'
        )
    objects = [isinstance(item, Mapping) for item in instances]
    if not any(objects):
        return instances
    if not all(objects):
        first = objects.index(not objects[0])
        raise BadRequest(
            f'"{key}": expected every entry to be an object, or none; entry 0 is '
            f"{json_type(instances[0])} but entry {first} is {json_type(instances[first])}"
        )
    if signature.kind == "columns":
        return instances  # records: the signature finds missing and extra columns
    # a tensor signature wants one array per tensor: turn the instances into columns
    names = list(instances[0])
    for row, item in enumerate(instances):
        if set(item) != set(names):
            raise BadRequest(
                f'"{key}" entry {row}: expected the names of entry 0 ({", ".join(names)}), '
                f"got {', '.join(map(str, item)) or 'none'}"
            )
    return {name: [item[name] for item in instances] for name in names}


def rows_from_columns(
    columns: Mapping[str, Any], signature: Signature, key: str = "inputs"
) -> Rows:
    """Rows from the columnar format: ``{"name": [value per row], ...}``.

    Every value is a list of the same length, or (one row) none is a list.

    Raises:
        BadRequest: the object is empty, or its lists disagree on the number of rows.
    """
    if not columns:
        raise BadRequest(f'"{key}": expected an object of name to values, got an empty object')
    if signature.kind == "tensors":
        return dict(columns)  # each value is one tensor, batch first; the signature checks it
    lengths = {name: len(v) for name, v in columns.items() if isinstance(v, list)}
    if not lengths:
        return [dict(columns)]  # single values: one row
    if len(lengths) != len(columns) or len(set(lengths.values())) > 1:
        sizes = ", ".join(
            f"{name}: {len(v) if isinstance(v, list) else 'a single value'}"
            for name, v in columns.items()
        )
        raise BadRequest(f'"{key}": expected one list of the same length per column, got {sizes}')
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def rows_from_payload(payload: Mapping[str, Any], signature: Signature) -> Rows:
    """Rows from a request holding exactly one of ``instances`` and ``inputs``.

    Raises:
        BadRequest: neither key or both are present, or the rows are malformed.
    """
    present = [key for key in FORMAT_KEYS if key in payload]
    if len(present) != 1:
        got = "both" if present else f"neither (keys: {', '.join(map(str, payload)) or 'none'})"
        raise BadRequest(f'request body: expected "instances" or "inputs", got {got}')
    key = present[0]
    value = payload[key]
    if key == "inputs" and isinstance(value, Mapping):
        return rows_from_columns(value, signature, key)
    return rows_from_instances(value, signature, key)
