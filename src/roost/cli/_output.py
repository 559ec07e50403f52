"""Rendering helpers shared by the commands: a console, cells, values, times, JSON.

Text that comes from users (column names, card fields, params) may contain ``[`` or
``:name:``; the console parses neither markup nor emoji codes, so such text is always
printed as written. Styles are applied with ``rich.text.Text`` instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = [
    "cell",
    "format_time",
    "format_value",
    "heading",
    "key_value_table",
    "plain_table",
    "print_json",
    "short_hash",
    "stdout_console",
]

_SHORT_HASH_CHARS = 16


def stdout_console() -> Console:
    """A console on the current ``sys.stdout`` that never interprets markup or emoji."""
    return Console(markup=False, emoji=False, highlight=False)


def print_json(value: Any) -> None:
    """Print ``value`` as indented JSON (plain text: pipes and ``jq`` get it unchanged)."""
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def format_value(value: Any) -> str:
    """A value as short text: strings as written, everything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def cell(value: Any, style: str = "") -> Text:
    """A table cell holding ``value`` as plain text."""
    return Text(format_value(value) if value is not None else "", style=style)


def format_time(iso: Any) -> str:
    """An ISO timestamp as ``2025-01-31 14:05 UTC``; anything unreadable as written."""
    try:
        moment = datetime.fromisoformat(str(iso))
    except ValueError:
        return str(iso)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def short_hash(value: Any) -> str:
    """The first characters of a hex hash (``sha256:`` kept), enough to tell two apart."""
    text = str(value)
    prefix, _, hexdigits = text.rpartition(":")
    if len(hexdigits) <= _SHORT_HASH_CHARS:
        return text
    return f"{prefix + ':' if prefix else ''}{hexdigits[:_SHORT_HASH_CHARS]}…"


def heading(text: str) -> Text:
    """A section title."""
    return Text(text, style="bold")


def plain_table(*headers: str, right: tuple[str, ...] = ()) -> Table:
    """A table without borders, bold headers; columns named in ``right`` align right."""
    table = Table(box=None, header_style="bold")
    for header in headers:
        table.add_column(header, justify="right" if header in right else "left")
    return table


def key_value_table(rows: Iterable[tuple[str, Any]]) -> Table:
    """Two borderless columns, ``key  value``, the value wrapping under itself."""
    table = Table.grid(padding=(0, 2), pad_edge=True)
    table.add_column(style="dim", no_wrap=True)
    table.add_column()
    for key, value in rows:
        table.add_row(Text(key), Text(format_value(value)))
    return table
