"""Signatures: inferred from examples and outputs, stored as dicts, and checked when built."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from roost.errors import ConfigError, ModelError
from roost.model import (
    ColumnSpec,
    OutputSpec,
    Signature,
    TensorSpec,
    infer_inputs,
    infer_outputs,
    rows_from_outputs,
)

ROW = {"x": 1.5, "n": 2, "s": "a", "flag": True}
COLUMNS = (
    ColumnSpec("x", "float64"),
    ColumnSpec("n", "int64"),
    ColumnSpec("s", "string"),
    ColumnSpec("flag", "bool"),
)
PREDICTION = (OutputSpec("prediction", "float64"),)

# ------------------------------------------------------------- inputs


@pytest.mark.parametrize(
    "example",
    [pd.DataFrame([ROW, ROW]), [ROW, ROW], ROW],
    ids=["dataframe", "list-of-dicts", "one-dict"],
)
def test_infer_inputs_from_rows_gives_typed_columns(example: Any) -> None:
    assert infer_inputs(example) == COLUMNS


def test_infer_inputs_reads_every_column_dtype() -> None:
    frame = pd.DataFrame(
        {
            "f32": np.array([1.0, 2.0], dtype=np.float32),
            "when": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "colour": pd.Categorical(["red", "blue"]),
            "code": pd.Categorical([3, 4]),
            "word": pd.Series(["a", "b"], dtype=object),
        }
    )

    dtypes = {spec.name: spec.dtype for spec in infer_inputs(frame)}

    assert dtypes == {
        "f32": "float32",
        "when": "datetime",
        "colour": "string",
        "code": "int64",  # categories of numbers are numbers
        "word": "string",
    }


def test_infer_inputs_from_numpy_gives_one_tensor_with_a_batch_axis() -> None:
    assert infer_inputs(np.zeros((5, 3, 2), dtype=np.float32)) == (
        TensorSpec("input", "float32", (-1, 3, 2)),
    )


def test_infer_inputs_from_dict_of_arrays_gives_named_tensors() -> None:
    example = {"image": np.zeros((2, 4), dtype=np.uint8), "words": np.array(["a", "b"])}

    assert infer_inputs(example) == (
        TensorSpec("image", "uint8", (-1, 4)),
        TensorSpec("words", "string", (-1,)),
    )


def test_infer_inputs_missing_value_in_example_allows_missing_values() -> None:
    specs = infer_inputs([{"x": 1.0, "s": "a"}, {"x": None, "s": None}])

    assert [(s.name, s.dtype, s.allow_nan) for s in specs] == [
        ("x", "float64", True),
        ("s", "string", True),
    ]


def test_infer_inputs_nan_columns_allow_missing_values_absent_from_example() -> None:
    specs = infer_inputs([ROW], nan_columns=frozenset({"x"}))

    assert [s.name for s in specs if s.allow_nan] == ["x"]


def test_infer_inputs_nan_in_example_tensor_allows_nan() -> None:
    (spec,) = infer_inputs(np.array([[1.0, np.nan]]))

    assert spec.allow_nan


def test_infer_inputs_int_column_with_nan_is_float() -> None:
    """pandas stores a whole-number column with a gap as float64."""
    (spec,) = infer_inputs([{"n": 1}, {"n": None}])

    assert (spec.dtype, spec.allow_nan) == ("float64", True)


def test_infer_inputs_nullable_int_column_stays_int() -> None:
    (spec,) = infer_inputs(pd.DataFrame({"n": pd.array([1, None], dtype="Int64")}))

    assert (spec.dtype, spec.allow_nan) == ("int64", True)


def test_infer_inputs_mixed_object_column_names_the_column() -> None:
    with pytest.raises(ConfigError, match=r"column 'mixed'.*pass signature="):
        infer_inputs([{"mixed": 1}, {"mixed": "one"}])


@pytest.mark.parametrize("example", [[], None, "text"], ids=["empty-list", "none", "string"])
def test_infer_inputs_without_rows_raises_config_error(example: Any) -> None:
    with pytest.raises(ConfigError, match="example: expected"):
        infer_inputs(example)


def test_infer_inputs_scalar_tensor_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="'input': expected a batch of rows, got a scalar"):
        infer_inputs(np.array(1.0))


# ------------------------------------------------------------ outputs


def test_infer_outputs_measures_dtype_and_shape() -> None:
    outputs = {
        "label": np.array(["a", "b"]),
        "probabilities": np.zeros((2, 3), dtype=np.float32),
        "details": [{"k": 1}, {"k": 2}],
    }

    specs = infer_outputs(outputs, labels={"probabilities": ["a", "b", "c"]})

    assert specs == (
        OutputSpec("label", "string", (-1,)),
        OutputSpec("probabilities", "float32", (-1, 3), labels=("a", "b", "c")),
        OutputSpec("details", "object", (-1,)),
    )


def test_rows_from_outputs_one_output_gives_its_values() -> None:
    assert rows_from_outputs({"prediction": np.array([1.5, 2.5])}, 2) == [1.5, 2.5]


def test_rows_from_outputs_several_outputs_give_a_dict_per_row() -> None:
    outputs = {"label": np.array([0, 1]), "probabilities": np.array([[0.9, 0.1], [0.2, 0.8]])}

    assert rows_from_outputs(outputs, 2) == [
        {"label": 0, "probabilities": [0.9, 0.1]},
        {"label": 1, "probabilities": [0.2, 0.8]},
    ]


def test_rows_from_outputs_object_array_gives_plain_strings() -> None:
    """A classifier fitted on pandas strings predicts an object array of np.str_."""
    rows = rows_from_outputs({"label": np.array([np.str_("a"), np.str_("b")], dtype=object)}, 2)

    assert [type(r) for r in rows] == [str, str]


def test_rows_from_outputs_dicts_with_numpy_keys_and_values_give_plain_dicts() -> None:
    rows = rows_from_outputs({"p": [{np.int64(0): np.float32(0.25)}, {np.int64(1): 1.0}]}, 2)

    assert rows == [{0: 0.25}, {1: 1.0}]
    assert [(type(k), type(v)) for row in rows for k, v in row.items()] == [
        (int, float),
        (int, float),
    ]


def test_rows_from_outputs_series_gives_plain_values() -> None:
    rows = rows_from_outputs({"prediction": pd.Series([1, 2])}, 2)

    assert json.dumps(rows) == "[1, 2]"


@pytest.mark.parametrize(
    "values",
    [np.float64(3.0), np.array(3.0), "ab", {"a": 1, "b": 2}],
    ids=["numpy-scalar", "0-d-array", "string", "dict"],
)
def test_rows_from_outputs_single_value_for_a_batch_raises(values: Any) -> None:
    with pytest.raises(ModelError, match=r"output 'prediction': expected one value per input row"):
        rows_from_outputs({"prediction": values}, 2)


def test_rows_from_outputs_wrong_count_names_the_output() -> None:
    with pytest.raises(ModelError, match=r"output 'label': .* input row \(3\), got 2"):
        rows_from_outputs({"label": np.array([1, 2])}, 3)


# ------------------------------------------------------------ to_dict


SIGNATURES = [
    Signature(
        inputs=(
            ColumnSpec("x", "float64", allow_nan=True, description="a length, in cm"),
            ColumnSpec("when", "datetime"),
        ),
        outputs=(
            OutputSpec("label", "string"),
            OutputSpec("probabilities", "float64", (-1, 2), labels=("no", "yes")),
        ),
    ),
    Signature(
        inputs=(TensorSpec("image", "uint8", (-1, 28, 28), description="grey levels"),),
        outputs=(OutputSpec("logits", "float32", (-1, 10)),),
    ),
]


@pytest.mark.parametrize("signature", SIGNATURES, ids=["columns", "tensors"])
def test_signature_from_dict_of_to_dict_is_equal(signature: Signature) -> None:
    assert Signature.from_dict(signature.to_dict()) == signature


@pytest.mark.parametrize("signature", SIGNATURES, ids=["columns", "tensors"])
def test_signature_to_dict_is_json(signature: Signature) -> None:
    data = signature.to_dict()

    assert json.loads(json.dumps(data)) == data


def test_signature_to_dict_names_kind_and_specs() -> None:
    assert SIGNATURES[1].to_dict() == {
        "kind": "tensors",
        "inputs": [
            {
                "name": "image",
                "dtype": "uint8",
                "shape": [-1, 28, 28],
                "allow_nan": False,
                "description": "grey levels",
            }
        ],
        "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, 10]}],
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "graph", "inputs": [], "outputs": []}, "kind: expected columns or tensors"),
        ({"inputs": []}, "malformed data"),
        ({"kind": "columns", "inputs": [{"dtype": "int64"}], "outputs": []}, "malformed"),
        ({"kind": "tensors", "inputs": [{"name": "t", "dtype": "int64"}]}, "malformed"),
        ("not a mapping", "malformed data"),
    ],
    ids=["unknown-kind", "no-kind", "no-name", "no-shape", "not-a-dict"],
)
def test_signature_from_dict_malformed_raises_config_error(data: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Signature.from_dict(data)


# -------------------------------------------------------- construction


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ColumnSpec("x", "float"), r"column 'x': dtype must be one of .*got 'float'"),
        (lambda: ColumnSpec("", "int64"), "column name: expected a non-empty string, got ''"),
        (lambda: TensorSpec("t", "complex64", (-1,)), r"tensor 't': dtype must be one of"),
        (lambda: TensorSpec("t", "float32", ()), r"tensor 't': shape must be .*got \(\)"),
        (lambda: TensorSpec("t", "float32", (-1, 0)), r"shape must be .*got \(-1, 0\)"),
        (lambda: OutputSpec("y", "float"), r"output 'y': dtype must be one of"),
        (lambda: Signature((), PREDICTION), "expected at least one input"),
        (lambda: Signature(COLUMNS, ()), "expected at least one output"),
        (
            lambda: Signature(
                (ColumnSpec("x", "int64"), TensorSpec("t", "int64", (-1,))),  # type: ignore[arg-type]
                PREDICTION,
            ),
            "all ColumnSpec or all TensorSpec",
        ),
        (
            lambda: Signature((ColumnSpec("x", "int64"), ColumnSpec("x", "bool")), PREDICTION),
            r"duplicate names \['x'\]",
        ),
    ],
    ids=[
        "column-dtype",
        "column-name",
        "tensor-dtype",
        "tensor-no-shape",
        "tensor-zero-dim",
        "output-dtype",
        "no-inputs",
        "no-outputs",
        "mixed-kinds",
        "duplicates",
    ],
)
def test_signature_bad_spec_raises_config_error(build: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build()


@pytest.mark.parametrize(
    ("inputs", "kind"),
    [(COLUMNS, "columns"), ((TensorSpec("t", "int64", (-1,)),), "tensors")],
    ids=["columns", "tensors"],
)
def test_signature_kind_follows_the_inputs(inputs: Any, kind: str) -> None:
    assert Signature(inputs, PREDICTION).kind == kind
