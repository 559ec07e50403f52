"""The JSON Schema of a signature's input: one row (columns) or one instance (tensors)."""

from __future__ import annotations

import json

import pytest

from roost.model import ColumnSpec, OutputSpec, Signature, TensorSpec

PREDICTION = (OutputSpec("prediction", "float64"),)


def test_json_schema_columns_types_each_property() -> None:
    signature = Signature(
        inputs=(
            ColumnSpec("x", "float64"),
            ColumnSpec("small", "float32"),
            ColumnSpec("n", "int64"),
            ColumnSpec("s", "string"),
            ColumnSpec("flag", "bool"),
            ColumnSpec("when", "datetime"),
        ),
        outputs=PREDICTION,
    )

    assert signature.json_schema() == {
        "type": "object",
        "properties": {
            "x": {"type": "number"},
            "small": {"type": "number"},
            "n": {"type": "integer"},
            "s": {"type": "string"},
            "flag": {"type": "boolean"},
            "when": {"type": "string", "format": "date-time"},
        },
        "required": ["flag", "n", "s", "small", "when", "x"],
        "additionalProperties": True,
    }


def test_json_schema_column_allowing_missing_values_accepts_null() -> None:
    signature = Signature((ColumnSpec("x", "float64", allow_nan=True),), PREDICTION)

    assert signature.json_schema()["properties"]["x"] == {
        "anyOf": [{"type": "number"}, {"type": "null"}]
    }


def test_json_schema_keeps_descriptions() -> None:
    signature = Signature(
        (ColumnSpec("x", "float64", allow_nan=True, description="length in cm"),), PREDICTION
    )

    assert signature.json_schema()["properties"]["x"]["description"] == "length in cm"


def test_json_schema_tensor_drops_the_batch_axis() -> None:
    signature = Signature((TensorSpec("image", "uint8", (-1, 2, 3)),), PREDICTION)

    assert signature.json_schema()["properties"]["image"] == {
        "type": "array",
        "minItems": 2,
        "maxItems": 2,
        "items": {
            "type": "array",
            "minItems": 3,
            "maxItems": 3,
            "items": {"type": "integer"},
        },
    }


def test_json_schema_tensor_variable_dimension_has_no_size() -> None:
    signature = Signature((TensorSpec("tokens", "int64", (-1, -1)),), PREDICTION)

    assert signature.json_schema()["properties"]["tokens"] == {
        "type": "array",
        "items": {"type": "integer"},
    }


@pytest.mark.parametrize(
    ("dtype", "schema"),
    [
        ("float16", {"type": "number"}),
        ("float32", {"type": "number"}),
        ("int8", {"type": "integer"}),
        ("uint64", {"type": "integer"}),
        ("bool", {"type": "boolean"}),
        ("string", {"type": "string"}),
    ],
    ids=["float16", "float32", "int8", "uint64", "bool", "string"],
)
def test_json_schema_one_dimensional_tensor_is_a_scalar(dtype: str, schema: dict[str, str]) -> None:
    signature = Signature((TensorSpec("t", dtype, (-1,)),), PREDICTION)

    assert signature.json_schema()["properties"]["t"] == schema


def test_json_schema_several_tensors_are_all_required() -> None:
    signature = Signature(
        (TensorSpec("b", "float32", (-1, 4)), TensorSpec("a", "int64", (-1,))), PREDICTION
    )

    assert signature.json_schema()["required"] == ["a", "b"]


@pytest.mark.parametrize(
    "inputs",
    [
        (ColumnSpec("x", "datetime", allow_nan=True, description="when"),),
        (TensorSpec("t", "float32", (-1, 2, -1), description="a grid"),),
    ],
    ids=["columns", "tensors"],
)
def test_json_schema_is_plain_json(inputs: tuple[ColumnSpec, ...] | tuple[TensorSpec, ...]) -> None:
    """The schema goes into an OpenAPI document as it is."""
    schema = Signature(inputs, PREDICTION).json_schema()

    assert json.loads(json.dumps(schema)) == schema
