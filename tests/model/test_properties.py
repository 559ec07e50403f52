"""Properties of the model room, checked on generated data (Hypothesis)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import yaml
from hypothesis import given
from hypothesis import strategies as st

from roost.errors import SignatureError
from roost.model import (
    COLUMN_DTYPES,
    ColumnSpec,
    OutputSpec,
    Signature,
    TensorSpec,
    rows_from_outputs,
)

TENSOR_DTYPES = ("bool", "int8", "uint8", "int32", "int64", "float16", "float32", "string")
OUTPUT_DTYPES = (*TENSOR_DTYPES, "float64", "object")

ANY_TEXT = st.characters()
# PyYAML writes U+0085 (NEL) unquoted with allow_unicode=True and reads it back as a space;
# a store issue, reported, so the model.yaml property leaves that one character out
YAML_TEXT = st.characters(exclude_characters="\x85")
dims = st.lists(st.integers(1, 8) | st.just(-1), max_size=3)


def names(alphabet: st.SearchStrategy[str] = ANY_TEXT) -> st.SearchStrategy[str]:
    return st.text(alphabet, min_size=1, max_size=12)


@st.composite
def signatures(draw: st.DrawFn, alphabet: st.SearchStrategy[str] = ANY_TEXT) -> Signature:
    def description() -> str | None:
        return draw(st.none() | st.text(alphabet, max_size=30))

    def column(name: str) -> ColumnSpec:
        return ColumnSpec(
            name, draw(st.sampled_from(COLUMN_DTYPES)), draw(st.booleans()), description()
        )

    def tensor(name: str) -> TensorSpec:
        shape = (-1, *draw(dims))
        return TensorSpec(
            name, draw(st.sampled_from(TENSOR_DTYPES)), shape, draw(st.booleans()), description()
        )

    def output(name: str) -> OutputSpec:
        label = st.text(alphabet, max_size=8) | st.integers() | st.booleans()
        labels = draw(st.none() | st.lists(label, max_size=4).map(tuple))
        dtype = draw(st.sampled_from(OUTPUT_DTYPES))
        return OutputSpec(name, dtype, (-1, *draw(dims)), labels, description())

    input_names = draw(st.lists(names(alphabet), min_size=1, max_size=4, unique=True))
    output_names = draw(st.lists(names(alphabet), min_size=1, max_size=3, unique=True))
    inputs: tuple[ColumnSpec, ...] | tuple[TensorSpec, ...] = (
        tuple(column(n) for n in input_names)
        if draw(st.booleans())
        else tuple(tensor(n) for n in input_names)
    )
    return Signature(inputs=inputs, outputs=tuple(output(n) for n in output_names))


@given(signatures())
def test_signature_from_dict_of_to_dict_is_equal(signature: Signature) -> None:
    assert Signature.from_dict(signature.to_dict()) == signature


@given(signatures(YAML_TEXT))
def test_signature_survives_model_yaml(signature: Signature) -> None:
    """What the registry writes into model.yaml reads back as the same signature."""
    text = yaml.safe_dump(signature.to_dict(), sort_keys=False, allow_unicode=True)

    assert Signature.from_dict(yaml.safe_load(text)) == signature


finite_floats = st.floats(allow_nan=False, allow_infinity=False, width=64)


@st.composite
def float_tables(draw: st.DrawFn) -> tuple[list[str], list[list[float]]]:
    columns = draw(st.lists(names(), min_size=1, max_size=4, unique=True))
    rows = draw(st.lists(st.lists(finite_floats, min_size=len(columns), max_size=len(columns))))
    return columns, rows


def _float_signature(columns: list[str]) -> Signature:
    return Signature(
        inputs=tuple(ColumnSpec(c, "float64") for c in columns),
        outputs=(OutputSpec("prediction", "float64"),),
    )


@given(float_tables())
def test_validate_records_keeps_row_count_order_and_values(
    table: tuple[list[str], list[list[float]]],
) -> None:
    columns, rows = table
    records = [dict(zip(columns, row, strict=True)) for row in rows]

    frame = _float_signature(columns).validate(records)

    assert len(frame) == len(rows)
    assert frame.to_numpy().tolist() == rows


@given(float_tables(), st.randoms(use_true_random=False))
def test_validate_frame_keeps_order_whatever_the_column_order(
    table: tuple[list[str], list[list[float]]], random: Any
) -> None:
    columns, rows = table
    shuffled = random.sample(columns, len(columns))
    sent = pd.DataFrame(rows, columns=columns, dtype="float64")[shuffled]

    frame = _float_signature(columns).validate(sent)

    assert list(frame.columns) == columns
    assert frame.to_numpy().tolist() == [list(map(float, row)) for row in rows]


def _outputs(n_rows: int) -> st.SearchStrategy[dict[str, Any]]:
    vectors = st.lists(finite_floats, min_size=n_rows, max_size=n_rows).map(np.array)
    matrices = st.integers(1, 3).flatmap(
        lambda width: st.lists(
            st.lists(finite_floats, min_size=width, max_size=width),
            min_size=n_rows,
            max_size=n_rows,
        ).map(lambda rows: np.array(rows).reshape(n_rows, width))
    )
    words = st.lists(st.text(max_size=5), min_size=n_rows, max_size=n_rows)
    return st.dictionaries(names(), vectors | matrices | words, min_size=1, max_size=3)


@given(st.integers(0, 20).flatmap(lambda n: st.tuples(st.just(n), _outputs(n))))
def test_rows_from_outputs_keeps_count_and_order(case: tuple[int, dict[str, Any]]) -> None:
    n_rows, outputs = case

    rows = rows_from_outputs(outputs, n_rows)

    assert len(rows) == n_rows
    for i, row in enumerate(rows):
        per_name = row if len(outputs) > 1 else {next(iter(outputs)): row}
        for name, values in outputs.items():
            expected = values[i].tolist() if isinstance(values, np.ndarray) else values[i]
            assert per_name[name] == expected


NUMBERS = st.integers(-(2**40), 2**40) | st.floats(allow_nan=True, allow_infinity=False, width=64)


@st.composite
def numeric_records(draw: st.DrawFn) -> tuple[Signature, list[dict[str, Any]]]:
    """A float64/int64 column signature and rows of plain numbers (ints, floats, NaN)."""
    dtypes = draw(st.lists(st.sampled_from(["float64", "int64"]), min_size=1, max_size=5))
    specs = tuple(
        ColumnSpec(f"c{i}", dtype, allow_nan=draw(st.booleans())) for i, dtype in enumerate(dtypes)
    )
    signature = Signature(specs, (OutputSpec("prediction", "float64"),))
    rows = draw(
        st.lists(
            st.fixed_dictionaries({spec.name: NUMBERS for spec in specs}), min_size=1, max_size=6
        )
    )
    return signature, rows


@given(numeric_records())
def test_fast_numeric_path_agrees_with_the_general_path(case: Any) -> None:
    """Plain-number dicts take a shortcut; it must accept, refuse and convert exactly alike."""
    from roost.model import _columns

    signature, rows = case
    fast = _columns._plain_numeric_records(signature.inputs, rows)
    try:
        general = _columns.validate_columns(signature.inputs, pd.DataFrame.from_records(rows))
    except SignatureError:
        general = None
    if fast is not None:
        assert general is not None, "the fast path accepted what the general path refused"
        pd.testing.assert_frame_equal(fast, general, check_dtype=True)
