"""Typer parameters that several commands share, so they read the same everywhere."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["JsonOption", "RefArgument"]

RefArgument = Annotated[
    str,
    typer.Argument(
        metavar="REF",
        help="A model version: NAME (its latest), NAME:VERSION, NAME:latest or NAME@ALIAS.",
        show_default=False,
    ),
]

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON (for scripts) instead of a table.")
]
