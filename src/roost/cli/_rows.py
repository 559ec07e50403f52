"""Reading the rows to predict from a file or stdin: CSV, JSON or JSON lines.

What comes out is handed to ``Model.predict`` as is, so the signature (not this
module) decides whether the rows fit: a DataFrame from CSV, a list of records or
rows (or one object, one row) from JSON, a list of records from JSON lines. Nested
lists pass through for tensor models.

CSV is text, so it is read with the signature in hand (``roost.model.parse_csv``, which
MLflow's ``text/csv`` requests share): ``string`` columns stay text (``"01234"`` keeps
its zero), and a numeric column that pandas left as text because of one bad cell is
reported at that cell, not at its first row.

A file that cannot be parsed is a ``ConfigError`` naming the file and the place.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TextIO

from roost.errors import ConfigError
from roost.model import Signature, parse_csv
from roost.types import Rows

__all__ = ["InputFormat", "guess_format", "read_rows"]

STDIN = "-"


class InputFormat(StrEnum):
    """How an input file is written."""

    CSV = "csv"
    JSON = "json"
    JSONL = "jsonl"


_SUFFIXES = {
    ".csv": InputFormat.CSV,
    ".json": InputFormat.JSON,
    ".jsonl": InputFormat.JSONL,
    ".ndjson": InputFormat.JSONL,
}


def guess_format(text: str) -> InputFormat:
    """JSON for an array or one object, JSON lines for several objects, CSV otherwise."""
    start = text.lstrip()
    if start.startswith("["):
        return InputFormat.JSON
    if start.startswith("{"):
        try:
            json.loads(start)
        except json.JSONDecodeError:
            return InputFormat.JSONL
        return InputFormat.JSON
    return InputFormat.CSV


def _read_text(source: str, stdin: TextIO) -> str:
    if source == STDIN:
        return stdin.read().removeprefix("\ufeff")
    path = Path(source).expanduser()
    try:
        # utf-8-sig: spreadsheets often start their CSV files with a byte-order mark
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{source}: expected UTF-8 text, got byte {exc.object[exc.start]:#04x} "
            f"at offset {exc.start}"
        ) from None


def _json_type(value: object) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _parse_csv(name: str, text: str, signature: Signature | None) -> Rows:
    return parse_csv(text, signature, source=name)


def _parse_json(name: str, text: str, signature: Signature | None) -> Rows:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{name}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if not isinstance(value, list | dict):
        raise ConfigError(
            f"{name}: expected a JSON array of rows or one object (one row), "
            f"got {_json_type(value)}"
        )
    return value


def _parse_jsonl(name: str, text: str, signature: Signature | None) -> Rows:
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{name} line {number}: not valid JSON (column {exc.colno}: {exc.msg})"
            ) from None
    return rows


_PARSERS = {
    InputFormat.CSV: _parse_csv,
    InputFormat.JSON: _parse_json,
    InputFormat.JSONL: _parse_jsonl,
}


def read_rows(
    source: str,
    input_format: InputFormat | None,
    stdin: TextIO,
    signature: Signature | None = None,
) -> Rows:
    """Read rows from the file ``source`` (``-`` for ``stdin``).

    Args:
        source: a path, or ``-``.
        input_format: how the input is written; by default from the file's suffix
            (``.csv``, ``.json``, ``.jsonl``, ``.ndjson``), else guessed from its content.
        stdin: the stream ``-`` reads.
        signature: the model's, so CSV text is read as the columns' types.

    Raises:
        OSError: the file cannot be read.
        ConfigError: it is empty, not UTF-8, or not valid in its format.
        SignatureError: a CSV cell is not a number where the signature wants one.
    """
    name = "stdin" if source == STDIN else source
    text = _read_text(source, stdin)
    if not text.strip():
        raise ConfigError(f"{name}: expected rows as CSV, JSON or JSON lines, got nothing")
    if input_format is None:
        input_format = _SUFFIXES.get(Path(source).suffix.lower()) or guess_format(text)
    return _PARSERS[input_format](name, text, signature)
