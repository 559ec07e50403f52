"""The model room: the Model contract, the Signature, and the flavors that run frameworks."""

from __future__ import annotations

from roost.model._batches import RowBlock, as_frame, concat_batches, count_rows
from roost.model._columns import float_row_block
from roost.model._contract import Model
from roost.model._csv import parse_csv
from roost.model._inference import (
    infer_inputs,
    infer_outputs,
    predict_with_flavor,
    rows_from_outputs,
)
from roost.model._signature import COLUMN_DTYPES, ColumnSpec, OutputSpec, Signature, TensorSpec
from roost.model.flavors import FLAVORS, Flavor, detect_flavor, flavor_named

__all__ = [
    "COLUMN_DTYPES",
    "FLAVORS",
    "ColumnSpec",
    "Flavor",
    "Model",
    "OutputSpec",
    "RowBlock",
    "Signature",
    "TensorSpec",
    "as_frame",
    "concat_batches",
    "count_rows",
    "detect_flavor",
    "flavor_named",
    "float_row_block",
    "infer_inputs",
    "infer_outputs",
    "parse_csv",
    "predict_with_flavor",
    "rows_from_outputs",
]
