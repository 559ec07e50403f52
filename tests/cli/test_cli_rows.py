"""Reading input rows for ``roost predict`` (roost.cli._rows)."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from roost.cli._rows import InputFormat, guess_format, read_rows
from roost.errors import ConfigError, SignatureError
from roost.model import ColumnSpec, OutputSpec, Signature


def read_stdin(text: str, input_format: InputFormat | None = None) -> object:
    return read_rows("-", input_format, io.StringIO(text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[{"a": 1}]', InputFormat.JSON),
        ('  {"a": 1}\n', InputFormat.JSON),
        ('{"a": 1}\n{"a": 2}\n', InputFormat.JSONL),
        ("a,b\n1,2\n", InputFormat.CSV),
    ],
    ids=["array", "object", "lines", "csv"],
)
def test_guess_format_from_content(text: str, expected: InputFormat) -> None:
    assert guess_format(text) is expected


def test_read_rows_csv_file_gives_frame(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("\ufeffa,b\n1,x\n", encoding="utf-8")  # with a spreadsheet's BOM
    frame = read_rows(str(path), None, io.StringIO())
    assert isinstance(frame, pd.DataFrame)
    assert frame.to_dict(orient="records") == [{"a": 1, "b": "x"}]


def test_read_rows_suffix_beats_content(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text("[1, 2]\n[3, 4]\n")
    assert read_rows(str(path), None, io.StringIO()) == [[1, 2], [3, 4]]


def test_read_rows_json_lines_skip_blank_lines() -> None:
    assert read_stdin('{"a": 1}\n\n{"a": 2}\n') == [{"a": 1}, {"a": 2}]


def test_read_rows_nested_lists_pass_through() -> None:
    assert read_stdin("[[1.0, 2.0], [3.0, 4.0]]") == [[1.0, 2.0], [3.0, 4.0]]


@pytest.mark.parametrize(
    ("text", "input_format", "fragments"),
    [
        ("", None, ("stdin", "got nothing")),
        ('[{"a": 1,]', None, ("not valid JSON", "line 1")),
        ("3", InputFormat.JSON, ("JSON array", "got a number")),
        ('{"a": 1}\n{"a": \n', None, ("stdin line 2", "not valid JSON")),
        ("a,b\n1,2\n1,2,3,4\n", InputFormat.CSV, ("not valid CSV", "line 3")),
    ],
    ids=["empty", "json", "json-scalar", "jsonl", "csv"],
)
def test_read_rows_bad_input_names_the_problem(
    text: str, input_format: InputFormat | None, fragments: tuple[str, ...]
) -> None:
    with pytest.raises(ConfigError) as raised:
        read_stdin(text, input_format)
    for fragment in fragments:
        assert fragment in str(raised.value)


def test_read_rows_non_utf8_file_is_config_error(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_bytes(b"a,b\n\xff,1\n")
    with pytest.raises(ConfigError, match="expected UTF-8"):
        read_rows(str(path), None, io.StringIO())


def test_read_rows_missing_file_is_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_rows(str(tmp_path / "missing.json"), None, io.StringIO())


SIGNATURE = Signature(
    inputs=(ColumnSpec("zip", "string"), ColumnSpec("rooms", "int64")),
    outputs=(OutputSpec("prediction", "float64"),),
)


def test_read_rows_csv_keeps_text_columns_as_text() -> None:
    frame = read_rows("-", None, io.StringIO("zip,rooms\n01234,3\n"), SIGNATURE)
    assert frame.to_dict(orient="records") == [{"zip": "01234", "rooms": 3}]


def test_read_rows_csv_bad_number_names_its_cell() -> None:
    text = "zip,rooms\n01234,3\n05678,four\n"
    with pytest.raises(SignatureError) as raised:
        read_rows("-", None, io.StringIO(text), SIGNATURE)
    assert str(raised.value) == "column 'rooms': expected int64, got 'four' (str) in row 1 of stdin"
    assert (raised.value.field, raised.value.row) == ("rooms", 1)
