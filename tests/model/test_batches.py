"""Validated batches: the serving fast path's RowBlock, counting and merging."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from roost.model import (
    ColumnSpec,
    RowBlock,
    as_frame,
    concat_batches,
    count_rows,
    float_row_block,
)

SPECS = (ColumnSpec("a", "float64"), ColumnSpec("b", "float64"))


def test_float_row_block_plain_numbers_stay_an_array() -> None:
    block = float_row_block(SPECS, [{"a": 1, "b": 2.5}, {"b": 0.0, "a": -1.0, "extra": "x"}])
    assert isinstance(block, RowBlock)
    assert list(block.columns) == ["a", "b"]
    assert block.values.tolist() == [[1.0, 2.5], [-1.0, 0.0]]
    assert count_rows(block) == 2


@pytest.mark.parametrize(
    "rows",
    [
        [{"a": 1.0}],
        [{"a": "1", "b": 2.0}],
        [{"a": True, "b": 2.0}],
        [{"a": np.float64(1.0), "b": 2.0}],
        [{"a": float("nan"), "b": 2.0}],
        [{"a": 10**400, "b": 2.0}],
        [],
        "a,b",
    ],
    ids=["missing", "string", "bool", "numpy-scalar", "nan", "huge-int", "empty", "text"],
)
def test_float_row_block_anything_unusual_takes_the_general_path(rows: object) -> None:
    assert float_row_block(SPECS, rows) is None


def test_float_row_block_int_columns_take_the_general_path() -> None:
    specs = (ColumnSpec("a", "int64"),)
    assert float_row_block(specs, [{"a": 1}]) is None


def test_concat_blocks_stays_a_block_in_order() -> None:
    one = float_row_block(SPECS, [{"a": 1.0, "b": 2.0}])
    two = float_row_block(SPECS, [{"a": 3.0, "b": 4.0}, {"a": 5.0, "b": 6.0}])
    merged = concat_batches([one, two])
    assert isinstance(merged, RowBlock)
    assert merged.values.tolist() == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]


def test_concat_block_with_frame_gives_one_frame() -> None:
    block = float_row_block(SPECS, [{"a": 1.0, "b": 2.0}])
    frame = pd.DataFrame({"a": [3.0], "b": [4.0]})
    merged = concat_batches([block, frame])
    pd.testing.assert_frame_equal(merged, pd.DataFrame({"a": [1.0, 3.0], "b": [2.0, 4.0]}))


def test_as_frame_gives_the_frame_validation_would() -> None:
    block = float_row_block(SPECS, [{"a": 1.0, "b": 2.0}])
    pd.testing.assert_frame_equal(as_frame(block), pd.DataFrame({"a": [1.0], "b": [2.0]}))
    frame = pd.DataFrame({"a": [1.0]})
    assert as_frame(frame) is frame
