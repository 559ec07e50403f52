"""Writing predictions as JSON or CSV (roost.cli._predictions)."""

from __future__ import annotations

import json

import pytest

from roost.cli._predictions import OutputFormat, flatten, format_predictions


@pytest.mark.parametrize(
    ("value", "prefix", "expected"),
    [
        (1.5, "prediction", {"prediction": 1.5}),
        ([1, 2], "prediction", {"prediction.0": 1, "prediction.1": 2}),
        ({"label": "a", "p": [0.1, 0.9]}, "", {"label": "a", "p.0": 0.1, "p.1": 0.9}),
        ([[1, 2]], "t", {"t.0.0": 1, "t.0.1": 2}),
        ([], "prediction", {"prediction": []}),
    ],
    ids=["scalar", "list", "dict", "nested", "empty"],
)
def test_flatten_names_leaves_by_path(
    value: object, prefix: str, expected: dict[str, object]
) -> None:
    assert flatten(value, prefix) == expected


def test_format_predictions_json_is_one_array_one_line_per_row() -> None:
    text = format_predictions([{"label": 1}, {"label": 0}], OutputFormat.JSON, ["label", "p"])
    assert json.loads(text) == [{"label": 1}, {"label": 0}]
    assert text.splitlines() == ["[", '  {"label": 1},', '  {"label": 0}', "]"]


def test_format_predictions_json_empty_is_empty_array() -> None:
    assert format_predictions([], OutputFormat.JSON, ["prediction"]) == "[]\n"


def test_format_predictions_csv_single_output_uses_its_name() -> None:
    text = format_predictions([0.5, 1.5], OutputFormat.CSV, ["price"])
    assert text == "price\n0.5\n1.5\n"


def test_format_predictions_csv_several_outputs_become_columns() -> None:
    outputs = [{"label": "a", "probabilities": [0.9, 0.1]}]
    text = format_predictions(outputs, OutputFormat.CSV, ["label", "probabilities"])
    assert text == "label,probabilities.0,probabilities.1\na,0.9,0.1\n"
