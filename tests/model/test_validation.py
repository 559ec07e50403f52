"""Validation: every form of rows a user sends, and every mistake they can make in them.

Each error must name the column (or tensor), the expected type and the received value,
and carry ``.field`` and ``.row`` so a client can point at the bad cell.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest

from roost.errors import SignatureError
from roost.model import ColumnSpec, OutputSpec, Signature, TensorSpec
from roost.store import Registry

PREDICTION = (OutputSpec("prediction", "float64"),)
COLUMNS = Signature(
    inputs=(
        ColumnSpec("x", "float64"),
        ColumnSpec("n", "int64"),
        ColumnSpec("s", "string"),
        ColumnSpec("flag", "bool"),
    ),
    outputs=PREDICTION,
)
ROW = {"x": 1.5, "n": 2, "s": "a", "flag": True}
OTHER = {"x": -3.0, "n": 7, "s": "b", "flag": False}
TENSOR = Signature(inputs=(TensorSpec("input", "float32", (-1, 3)),), outputs=PREDICTION)


def _expected(*rows: dict[str, Any]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "x": np.array([r["x"] for r in rows], dtype="float64"),
            "n": np.array([r["n"] for r in rows], dtype="int64"),
            "s": pd.Series([r["s"] for r in rows], dtype=object),
            "flag": np.array([r["flag"] for r in rows], dtype=bool),
        }
    )
    return frame


# ----------------------------------------------------- accepted columns


@pytest.mark.parametrize(
    "rows",
    [
        pd.DataFrame([ROW, OTHER]),
        [ROW, OTHER],
        [list(ROW.values()), list(OTHER.values())],
        np.array([list(ROW.values()), list(OTHER.values())], dtype=object),
        [OTHER | {"extra": "ignored"} if i else ROW for i in range(2)],
        [dict(reversed(ROW.items())), dict(reversed(OTHER.items()))],
        pd.DataFrame([ROW, OTHER], index=[10, 20]),
    ],
    ids=[
        "dataframe",
        "list-of-dicts",
        "list-of-lists",
        "numpy-rows",
        "extra-column-ignored",
        "column-order-normalised",
        "index-reset",
    ],
)
def test_validate_columns_accepts_rows_in_every_form(rows: Any) -> None:
    pd.testing.assert_frame_equal(COLUMNS.validate(rows), _expected(ROW, OTHER))


@pytest.mark.parametrize(
    "row",
    [ROW, list(ROW.values()), pd.Series(ROW), np.array(list(ROW.values()), dtype=object)],
    ids=["one-dict", "one-list", "one-series", "one-numpy-row"],
)
def test_validate_columns_one_row_gives_a_frame_of_one_row(row: Any) -> None:
    pd.testing.assert_frame_equal(COLUMNS.validate(row), _expected(ROW))


@pytest.mark.parametrize(
    "rows", [[], pd.DataFrame([ROW]).iloc[:0]], ids=["empty-list", "empty-dataframe"]
)
def test_validate_columns_no_rows_gives_typed_empty_frame(rows: Any) -> None:
    frame = COLUMNS.validate(rows)

    assert (len(frame), list(frame.columns)) == (0, ["x", "n", "s", "flag"])
    assert [str(t) for t in frame.dtypes] == ["float64", "int64", "object", "bool"]


def test_validate_columns_casts_numbers_to_the_column_dtype() -> None:
    """Ints in a float column become floats; whole floats in an int column become ints."""
    frame = COLUMNS.validate([ROW | {"x": 3, "n": 4.0}])

    assert (frame["x"].tolist(), frame["n"].tolist()) == ([3.0], [4])
    assert (frame["x"].dtype, frame["n"].dtype) == (np.float64, np.int64)


def test_validate_columns_large_int_keeps_every_digit() -> None:
    """A 64-bit id must not pass through float64, which keeps only 53 bits."""
    frame = COLUMNS.validate([ROW | {"n": 2**62 + 1}])

    assert frame["n"].tolist() == [2**62 + 1]


def test_validate_columns_float32_column_gives_float32() -> None:
    signature = Signature((ColumnSpec("x", "float32"),), PREDICTION)

    assert signature.validate([{"x": 0.5}])["x"].dtype == np.float32


def test_validate_columns_pandas_strings_are_accepted() -> None:
    """pandas 3 reads text as its own ``str`` dtype; the model receives plain objects."""
    rows = pd.DataFrame([ROW, OTHER]).astype({"s": "string"})

    pd.testing.assert_frame_equal(COLUMNS.validate(rows), _expected(ROW, OTHER))


def test_validate_columns_categorical_strings_are_accepted() -> None:
    rows = pd.DataFrame([ROW, OTHER]).astype({"s": "category"})

    assert COLUMNS.validate(rows)["s"].tolist() == ["a", "b"]


# -------------------------------------------------- rejected columns


def _bad(column: str, value: Any) -> list[dict[str, Any]]:
    return [ROW, ROW | {column: value}]


COLUMN_ERRORS = [
    # (rows, field, row, fragments the message must hold)
    (_bad("x", "oops"), "x", 1, ["column 'x'", "expected float64", "'oops' (str)", "row 1"]),
    (_bad("x", "1.5"), "x", 1, ["expected float64", "'1.5' (str)"]),
    (_bad("n", 1.5), "n", 1, ["column 'n'", "expected int64", "1.5 (float)", "whole number"]),
    (_bad("x", True), "x", 1, ["column 'x'", "expected float64", "True (bool)"]),
    (_bad("n", False), "n", 1, ["column 'n'", "expected int64", "False (bool)"]),
    (_bad("s", 5), "s", 1, ["column 's'", "expected string", "5 (int)"]),
    (_bad("s", 2.5), "s", 1, ["column 's'", "expected string", "2.5 (float)"]),
    (_bad("flag", 1), "flag", 1, ["column 'flag'", "expected bool", "1 (int)"]),
    (_bad("flag", "yes"), "flag", 1, ["expected bool", "'yes' (str)"]),
    (_bad("x", None), "x", 1, ["column 'x'", "expected float64", "missing value", "row 1"]),
    (_bad("x", float("nan")), "x", 1, ["column 'x'", "got nan", "missing value"]),
    (_bad("n", None), "n", 1, ["column 'n'", "expected int64", "missing value"]),
    (_bad("s", None), "s", 1, ["column 's'", "expected string", "missing value"]),
    (_bad("flag", None), "flag", 1, ["column 'flag'", "expected bool", "got None"]),
    (_bad("x", [1.0]), "x", 1, ["column 'x'", "expected float64", "[1.0] (list)"]),
    (
        [{"x": 1.0, "n": 1, "flag": True}],
        "s",
        None,
        ["missing column 's'", "expected string", "received columns: x, n, flag"],
    ),
    (pd.DataFrame([ROW]).drop(columns="x"), "x", None, ["missing column 'x'", "float64"]),
    ([{}, {}], "x", None, ["missing column 'x'", "received columns: none"]),
    (
        pd.DataFrame([ROW, ROW | {"x": "7"}]),
        "x",
        1,
        ["column 'x'", "expected float64", "'7' (str)"],
    ),
    (
        pd.DataFrame([ROW]).assign(x=pd.Categorical(["big"])),
        "x",
        0,
        ["column 'x'", "expected float64", "'big' (str)"],
    ),
]
COLUMN_ERROR_IDS = [
    "string-in-float",
    "numeric-string-in-float",
    "fraction-in-int",
    "bool-in-float",
    "bool-in-int",
    "int-in-string",
    "float-in-string",
    "int-in-bool",
    "string-in-bool",
    "none-in-float",
    "nan-in-float",
    "none-in-int",
    "none-in-string",
    "none-in-bool",
    "list-in-float",
    "missing-column-records",
    "missing-column-dataframe",
    "rows-without-columns",
    "string-column-in-dataframe",
    "category-of-words-in-float",
]


@pytest.mark.parametrize(("rows", "field", "row", "fragments"), COLUMN_ERRORS, ids=COLUMN_ERROR_IDS)
def test_validate_columns_bad_value_names_column_type_and_value(
    rows: Any, field: str, row: int | None, fragments: list[str]
) -> None:
    with pytest.raises(SignatureError) as caught:
        COLUMNS.validate(rows)

    assert (caught.value.field, caught.value.row) == (field, row)
    for fragment in fragments:
        assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("rows", "row", "fragment"),
    [
        ([[1.5, 2, "a"]], 0, "row 0: expected 4 values (x, n, s, flag), got 3"),
        ([list(ROW.values()), [1.5, 2, "a", True, 9]], 1, "row 1: expected 4 values"),
        ([ROW, [1.5, 2, "a", True]], None, "expected a list of dicts (one per row)"),
        (5, None, "expected a DataFrame, a list of dicts, a numpy array or one dict, got int"),
        ("x,n,s,flag", None, "got str"),
        (np.zeros((2, 3)), None, "expected rows of 4 columns (x, n, s, flag), got an array"),
    ],
    ids=["short-row", "long-row", "dicts-and-lists", "number", "text", "numpy-width"],
)
def test_validate_columns_malformed_rows_raise_signature_error(
    rows: Any, row: int | None, fragment: str
) -> None:
    with pytest.raises(SignatureError) as caught:
        COLUMNS.validate(rows)

    assert caught.value.row == row
    assert fragment in str(caught.value)


def test_validate_signature_error_is_a_type_error() -> None:
    """Plain Python callers may catch the builtin, as with any bad argument."""
    with pytest.raises(TypeError):
        COLUMNS.validate(_bad("x", "oops"))


def test_validate_columns_first_bad_row_is_named() -> None:
    rows = [ROW, ROW, ROW | {"n": 0.5}, ROW | {"n": 1.5}]

    with pytest.raises(SignatureError) as caught:
        COLUMNS.validate(rows)

    assert caught.value.row == 2


def test_validate_columns_long_value_is_shortened_in_message() -> None:
    with pytest.raises(SignatureError) as caught:
        COLUMNS.validate(_bad("x", "z" * 500))

    assert "..." in str(caught.value)
    assert len(str(caught.value)) < 200


def test_validate_columns_float32_out_of_range_is_refused() -> None:
    """A cast would overflow to inf (and warn); the client is told instead."""
    signature = Signature((ColumnSpec("x", "float32"),), PREDICTION)

    with pytest.raises(SignatureError, match=r"column 'x': .*1e\+300 \(float\).*out of range"):
        signature.validate([{"x": 0.0}, {"x": 1e300}])


# ------------------------------------------------------ missing values


ALLOWS_NAN = Signature(
    inputs=(
        ColumnSpec("x", "float64", allow_nan=True),
        ColumnSpec("n", "int64", allow_nan=True),
        ColumnSpec("s", "string", allow_nan=True),
        ColumnSpec("flag", "bool", allow_nan=True),
    ),
    outputs=PREDICTION,
)


def test_validate_allowed_missing_values_pass_through() -> None:
    frame = ALLOWS_NAN.validate([ROW, {"x": None, "n": None, "s": None, "flag": None}])

    assert np.isnan(frame["x"][1])
    assert frame["s"].tolist() == ["a", None]
    assert frame["flag"].tolist() == [True, None]


def test_validate_int_column_with_allowed_missing_value_becomes_float() -> None:
    """int64 cannot hold NaN: the model receives float64, as pandas would give it."""
    frame = ALLOWS_NAN.validate([ROW, ROW | {"n": None}])

    assert frame["n"].dtype == np.float64
    assert frame["n"].tolist()[0] == 2.0


def test_validate_nullable_int_column_missing_value_named() -> None:
    rows = pd.DataFrame({**{k: [v, v] for k, v in ROW.items()}, "n": pd.array([1, None])})

    with pytest.raises(SignatureError, match=r"column 'n': expected int64, got <NA> in row 1"):
        COLUMNS.validate(rows)


def _doubler(frame: pd.DataFrame) -> Any:
    return frame["x"].fillna(0.0) * 2


def test_missing_values_allowed_when_training_data_had_them(registry: Registry) -> None:
    train = pd.DataFrame({"x": [1.0, np.nan, 3.0]})
    ref = str(registry.save(_doubler, "gaps", example=train.dropna(), data={"train": train}))

    assert registry.load(ref).predict([{"x": None}, {"x": 2.0}]) == [0.0, 4.0]


def test_missing_values_refused_when_training_data_had_none(registry: Registry) -> None:
    train = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    ref = str(registry.save(_doubler, "dense", example=train, data={"train": train}))

    with pytest.raises(SignatureError, match=r"column 'x'.*missing value"):
        registry.load(ref).predict([{"x": None}])


def test_nan_allowed_in_tensor_when_training_data_had_it(registry: Registry) -> None:
    train = np.array([[1.0, np.nan], [2.0, 3.0]])
    ref = str(
        registry.save(
            lambda x: np.nansum(x, axis=1), "sums", example=train[1:], data={"train": train}
        )
    )

    assert registry.load(ref).predict([[np.nan, 1.0]]) == [1.0]


# ------------------------------------------------------------ datetimes


WHEN = Signature((ColumnSpec("when", "datetime"),), PREDICTION)


@pytest.mark.parametrize(
    "values",
    [
        ["2024-01-01", "2024-01-02 10:00"],
        ["2024-01-01T00:00:00.000", "2024-01-02T10:00:00"],
        [dt.datetime(2024, 1, 1), pd.Timestamp("2024-01-02 10:00")],
        [dt.date(2024, 1, 1), "2024-01-02T10:00"],
    ],
    ids=["mixed-iso-formats", "iso-with-fractions", "datetime-objects", "date-and-text"],
)
def test_validate_datetime_accepts_dates_in_any_iso_form(values: list[Any]) -> None:
    frame = WHEN.validate([{"when": v} for v in values])

    assert frame["when"].dtype.kind == "M"
    assert frame["when"].tolist() == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-02 10:00")]


def test_validate_datetime_several_offsets_become_utc() -> None:
    frame = WHEN.validate([{"when": "2024-01-01T01:00+01:00"}, {"when": "2024-01-01T02:00+02:00"}])

    assert frame["when"].tolist() == [pd.Timestamp("2024-01-01T00:00Z")] * 2


@pytest.mark.parametrize(
    ("value", "fragments"),
    [
        ("soon", ["'soon' (str)", "not a date or time"]),
        (1704067200, ["1704067200 (int)", "not a date or time"]),
        ("2024-01-02T00:00+01:00", ["with and without a time zone"]),
        (None, ["missing value"]),
        ("", ["'' (str)", "missing value"]),
        ("NaT", ["'NaT' (str)", "missing value"]),
    ],
    ids=["text", "number", "naive-and-aware", "none", "empty-text", "nat-text"],
)
def test_validate_datetime_bad_value_names_column_and_value(
    value: Any, fragments: list[str]
) -> None:
    with pytest.raises(SignatureError) as caught:
        WHEN.validate([{"when": "2024-01-01"}, {"when": value}])

    assert (caught.value.field, caught.value.row) == ("when", 1)
    assert "column 'when': expected datetime" in str(caught.value)
    for fragment in fragments:
        assert fragment in str(caught.value)


# ------------------------------------------------------------- tensors


@pytest.mark.parametrize(
    ("rows", "shape"),
    [
        ([[1, 2, 3], [4, 5, 6]], (2, 3)),
        (np.ones((4, 3)), (4, 3)),
        ([1, 2, 3], (1, 3)),
        ({"input": [[1, 2, 3]]}, (1, 3)),
        ([], (0, 3)),
        (np.ones((0, 3)), (0, 3)),
    ],
    ids=["nested-list", "numpy", "one-instance", "named", "empty-list", "empty-array"],
)
def test_validate_tensor_accepts_batches_in_every_form(rows: Any, shape: tuple[int, ...]) -> None:
    array = TENSOR.validate(rows)

    assert (array.shape, array.dtype) == (shape, np.float32)


TENSOR_ERRORS = [
    # (signature, rows, row, fragments)
    (TENSOR, [[1, 2]], None, ["tensor 'input'", "expected shape [-1, 3], got [1, 2]"]),
    (TENSOR, [[[1, 2, 3]]], None, ["expected shape [-1, 3], got [1, 1, 3]"]),
    (TENSOR, [[1, 2, 3], [1, 2]], None, ["tensor 'input'", "ragged"]),
    (TENSOR, [[1, 2, 3], ["a", 2, 3]], 1, ["expected float32", "'a' (str)", "at [1, 0]"]),
    (TENSOR, [[True, False, True]], 0, ["expected float32", "True (bool)", "at [0, 0]"]),
    (TENSOR, [[1, 2, 3], [1, float("nan"), 3]], 1, ["got nan", "at [1, 1]", "NaN"]),
    (TENSOR, [[1, 2, 1e300]], 0, ["1e+300 (float)", "out of range for float32"]),
    (TENSOR, {"pixels": [[1, 2, 3]]}, None, ["missing tensor 'input'", "received: pixels"]),
    (
        Signature((TensorSpec("ids", "int64", (-1,)),), PREDICTION),
        [1, 2.5],
        1,
        ["tensor 'ids'", "expected int64", "2.5 (float)", "not a whole number"],
    ),
    (
        Signature((TensorSpec("pixels", "uint8", (-1, 2)),), PREDICTION),
        [[0, 255], [300, 1]],
        1,
        ["expected uint8", "300 (int)", "out of range for uint8"],
    ),
    (
        Signature((TensorSpec("words", "string", (-1,)),), PREDICTION),
        ["a", 3],
        1,
        ["tensor 'words'", "expected string", "3 (int)", "at [1]"],
    ),
    (
        Signature((TensorSpec("mask", "bool", (-1,)),), PREDICTION),
        [True, 1],
        0,
        ["tensor 'mask'", "expected bool", "(int)"],
    ),
]
TENSOR_ERROR_IDS = [
    "short-instance",
    "extra-axis",
    "ragged",
    "string-in-float",
    "bool-in-float",
    "nan-in-float",
    "float32-overflow",
    "missing-tensor",
    "fraction-in-int",
    "uint8-overflow",
    "int-in-string",
    "int-in-bool",
]


@pytest.mark.parametrize(
    ("signature", "rows", "row", "fragments"), TENSOR_ERRORS, ids=TENSOR_ERROR_IDS
)
def test_validate_tensor_bad_value_names_tensor_type_and_value(
    signature: Signature, rows: Any, row: int | None, fragments: list[str]
) -> None:
    with pytest.raises(SignatureError) as caught:
        signature.validate(rows)

    assert (caught.value.field, caught.value.row) == (signature.inputs[0].name, row)
    for fragment in fragments:
        assert fragment in str(caught.value)


TWO_TENSORS = Signature(
    inputs=(TensorSpec("ids", "int64", (-1,)), TensorSpec("weights", "float32", (-1, 2))),
    outputs=PREDICTION,
)


def test_validate_tensors_gives_one_array_per_name() -> None:
    arrays = TWO_TENSORS.validate({"ids": [1, 2], "weights": [[0, 1], [1, 0]], "extra": 5})

    assert {k: (v.dtype, v.shape) for k, v in arrays.items()} == {
        "ids": (np.int64, (2,)),
        "weights": (np.float32, (2, 2)),
    }


@pytest.mark.parametrize(
    ("rows", "fragment"),
    [
        ([[1, 2]], "expected a dict of tensors (ids, weights), got list"),
        ({"ids": [1]}, "missing tensor 'weights' (expected float32 [-1, 2])"),
        ({"ids": [1, 2], "weights": [[0, 1]]}, "disagree on the number of rows"),
    ],
    ids=["not-a-dict", "missing-tensor", "row-counts-differ"],
)
def test_validate_tensors_malformed_input_raises(rows: Any, fragment: str) -> None:
    with pytest.raises(SignatureError) as caught:
        TWO_TENSORS.validate(rows)

    assert fragment in str(caught.value)


# ----------------------------------------------- one output per input row


def _columns_model(registry: Registry) -> Any:
    example = pd.DataFrame([ROW, OTHER])
    return registry.load(str(registry.save(lambda f: f["x"] * f["n"], "columns", example=example)))


def _tensor_model(registry: Registry) -> Any:
    example = np.arange(6, dtype=np.float32).reshape(2, 3)
    return registry.load(str(registry.save(lambda a: a.sum(axis=1), "tensor", example=example)))


@pytest.mark.parametrize("n_rows", [0, 1, 3], ids=["no-rows", "one-row", "three-rows"])
@pytest.mark.parametrize("as_frame", [False, True], ids=["records", "dataframe"])
def test_predict_columns_gives_one_output_per_row(
    registry: Registry, n_rows: int, as_frame: bool
) -> None:
    rows = [ROW | {"x": float(i)} for i in range(n_rows)]

    outputs = _columns_model(registry).predict(pd.DataFrame(rows) if as_frame else rows)

    assert outputs == [float(i) * 2 for i in range(n_rows)]


@pytest.mark.parametrize("n_rows", [0, 1, 3], ids=["no-rows", "one-row", "three-rows"])
def test_predict_tensor_gives_one_output_per_row(registry: Registry, n_rows: int) -> None:
    rows = [[i, i, i] for i in range(n_rows)]

    assert _tensor_model(registry).predict(rows) == [3.0 * i for i in range(n_rows)]


def test_predict_one_dict_is_one_row(registry: Registry) -> None:
    assert _columns_model(registry).predict(ROW) == [3.0]


def test_predict_one_returns_the_output_itself(registry: Registry) -> None:
    assert _columns_model(registry).predict_one(ROW) == 3.0
