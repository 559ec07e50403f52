"""JSON Schema for a signature's input, the seed of the served OpenAPI document."""

from __future__ import annotations

from typing import TYPE_CHECKING

from roost.types import JSONDict

if TYPE_CHECKING:
    from roost.model._signature import Signature

__all__ = ["input_row_schema"]

_JSON_TYPES: dict[str, JSONDict] = {
    "bool": {"type": "boolean"},
    "string": {"type": "string"},
    "datetime": {"type": "string", "format": "date-time"},
    "float16": {"type": "number"},
    "float32": {"type": "number"},
    "float64": {"type": "number"},
}


def _scalar(dtype: str) -> JSONDict:
    return dict(_JSON_TYPES.get(dtype, {"type": "integer"}))


def _nested(dtype: str, dims: tuple[int, ...]) -> JSONDict:
    schema = _scalar(dtype)
    for size in reversed(dims):
        schema = {"type": "array", "items": schema}
        if size != -1:
            schema["minItems"] = size
            schema["maxItems"] = size
    return schema


def input_row_schema(signature: Signature) -> JSONDict:
    """The schema of one row (columns) or one instance, batch axis removed (tensors)."""
    properties: JSONDict = {}
    for spec in signature.inputs:
        if signature.kind == "columns":
            schema = _scalar(spec.dtype)
            if spec.allow_nan:
                schema = {"anyOf": [schema, {"type": "null"}]}
        else:
            schema = _nested(spec.dtype, spec.shape[1:])  # type: ignore[union-attr]
        if spec.description:
            schema["description"] = spec.description
        properties[spec.name] = schema
    return {
        "type": "object",
        "properties": properties,
        "required": sorted(properties),
        "additionalProperties": True,
    }
