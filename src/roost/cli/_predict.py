"""``roost predict``: library mode from the shell, rows in and one prediction per row out."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from roost.cli._params import RefArgument
from roost.cli._predictions import OutputFormat, format_predictions
from roost.cli._rows import InputFormat, read_rows
from roost.cli._session import session_of

__all__ = ["predict"]


def predict(
    ctx: typer.Context,
    ref: RefArgument,
    source: Annotated[
        str,
        typer.Option(
            "--input",
            "-i",
            metavar="FILE",
            help="Rows to predict: a .csv, .json (array of rows, or one object) or .jsonl "
            "file, or - for stdin.",
            show_default=False,
        ),
    ],
    input_format: Annotated[
        InputFormat | None,
        typer.Option(
            "--input-format",
            help="How the input is written (default: from its suffix, else guessed).",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        OutputFormat,
        typer.Option("--format", "-f", help="JSON array, or CSV with one line per row."),
    ] = OutputFormat.JSON,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write here instead of stdout.", show_default=False),
    ] = None,
) -> None:
    """Predict the rows of a file with a registered version; one output per row.

    Rows are validated against the version's signature first: a wrong column, type
    or value is reported with the row it is in.
    """
    registry = session_of(ctx).registry()
    model = registry.load(ref)  # a bad reference fails before any file is read
    rows = read_rows(source, input_format, sys.stdin, model.signature)
    outputs = model.predict(rows)
    names = [spec.name for spec in model.signature.outputs]
    text = format_predictions(outputs, output_format, names)
    if output is None:
        typer.echo(text, nl=False)
        return
    output.expanduser().write_text(text, encoding="utf-8")
    count = f"{len(outputs)} prediction{'' if len(outputs) == 1 else 's'}"
    typer.echo(f"wrote {count} of {model.ref} to {output}")
