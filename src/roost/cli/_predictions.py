"""Writing predictions: a JSON array (one output per row) or CSV (one line per row).

For CSV, structured outputs are flattened into columns: a classifier's
``{"label": 1, "probabilities": [0.1, 0.9]}`` becomes ``label``,
``probabilities.0`` and ``probabilities.1``; a single output takes its name from
the signature (``prediction``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

__all__ = ["OutputFormat", "flatten", "format_predictions"]


class OutputFormat(StrEnum):
    """How predictions are written."""

    JSON = "json"
    CSV = "csv"


def flatten(value: Any, prefix: str) -> dict[str, Any]:
    """Nested dicts and lists as ``{"a.b.0": leaf}``; a leaf keeps ``prefix`` as its name."""
    if isinstance(value, dict) and value:
        items = [(str(key), item) for key, item in value.items()]
    elif isinstance(value, list | tuple) and value:
        items = [(str(index), item) for index, item in enumerate(value)]
    else:
        return {prefix: value}
    flat: dict[str, Any] = {}
    for key, item in items:
        flat.update(flatten(item, f"{prefix}.{key}" if prefix else key))
    return flat


def _to_json(outputs: Sequence[Any]) -> str:
    if not outputs:
        return "[]\n"
    lines = ",\n".join(
        "  " + json.dumps(output, ensure_ascii=False, default=str) for output in outputs
    )
    return f"[\n{lines}\n]\n"


def _csv_row(output: Any, output_names: Sequence[str]) -> dict[str, Any]:
    # one output: each row's value *is* that output; several: each row is a dict of them
    if len(output_names) == 1:
        return flatten(output, output_names[0])
    if isinstance(output, dict) and output:
        return flatten(output, "")
    return flatten(output, "prediction")


def _to_csv(outputs: Sequence[Any], output_names: Sequence[str]) -> str:
    rows = [_csv_row(output, output_names) for output in outputs]
    columns = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def format_predictions(
    outputs: Sequence[Any], output_format: OutputFormat, output_names: Sequence[str]
) -> str:
    """Predictions as text in ``output_format``.

    Args:
        outputs: one output per input row, as ``Model.predict`` returns them.
        output_format: JSON (an array) or CSV (a header, then one line per row).
        output_names: the signature's output names, to name CSV columns.
    """
    if output_format is OutputFormat.CSV:
        return _to_csv(outputs, output_names)
    return _to_json(outputs)
