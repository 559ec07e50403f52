"""The ``roost`` command line: the only part of roost that reads the environment,
configures logging and prints.

Example:
    $ roost models list
    $ roost predict iris@production --input rows.csv

``main`` is the console script; ``app`` is the Typer application, for
``typer.testing.CliRunner``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from roost.cli._app import app
from roost.cli._errors import EXIT_INTERNAL, describe, is_debug

__all__ = ["app", "main"]


def main(argv: Sequence[str] | None = None) -> None:
    """Run ``roost`` with ``argv`` (default: the process arguments) and exit.

    Roost's own errors are reported by the app; this catches what nobody expected,
    so that even a bug ends in one line on stderr rather than a traceback.
    """
    try:
        app(args=list(argv) if argv is not None else None, prog_name="roost")
    except Exception as exc:
        if is_debug(os.environ):
            raise
        print(f"error: {describe(exc)}", file=sys.stderr)
        sys.exit(EXIT_INTERNAL)
