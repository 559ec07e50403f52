"""The CLI's one translation of errors into a line on stderr and an exit code.

Every roost ``Error`` (and an ``OSError`` on a file the user named) becomes exactly
one line, ``error: <message>``, and an exit code chosen by class here and nowhere
else. A traceback is shown only when ``ROOST_DEBUG=1``, so bug reports can have one
while users never see one.

Exit codes (documented in ``docs/cli.md``):

====  ===========================================================================
0     success
1     any other roost error, or a file that cannot be read or written
2     bad usage or bad data: ConfigError, InvalidReference, SignatureError,
      an unreadable input file, and Typer's own usage errors
3     ModelNotFound: no such model, version or alias
4     VersionConflict: a version or alias is taken, or still in use
5     IntegrityError: a package or archive does not match its hashes
70    an unexpected internal error (a bug in roost: please report it)
====  ===========================================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

from roost.errors import (
    ConfigError,
    Error,
    FeatureSkewError,
    FeatureVersionError,
    IntegrityError,
    InvalidReference,
    ModelNotFound,
    SignatureError,
    VersionConflict,
)

__all__ = [
    "EXIT_CODES",
    "EXIT_INTERNAL",
    "ErrorHandlingGroup",
    "describe",
    "exit_code_for",
    "is_debug",
    "report",
]

#: exit code by class; the most specific class in an exception's MRO wins.
EXIT_CODES: dict[type[BaseException], int] = {
    Error: 1,
    OSError: 1,
    ConfigError: 2,
    InvalidReference: 2,
    SignatureError: 2,
    ModelNotFound: 3,
    VersionConflict: 4,
    FeatureVersionError: 4,
    IntegrityError: 5,
    FeatureSkewError: 5,
}

#: an exception roost did not expect: a bug (``EX_SOFTWARE`` in sysexits.h).
EXIT_INTERNAL = 70

#: what the CLI turns into one line; anything else is a bug (or Typer's own business).
_HANDLED = (Error, OSError)


def is_debug(environ: Mapping[str, str]) -> bool:
    """Whether ``ROOST_DEBUG`` asks for tracebacks instead of one-line errors."""
    return environ.get("ROOST_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")


def exit_code_for(exc: BaseException) -> int:
    """The exit code for an exception: the code of the nearest class in ``EXIT_CODES``."""
    for cls in type(exc).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return EXIT_INTERNAL


def describe(exc: BaseException) -> str:
    """The exception as one line of text (newlines and runs of spaces folded)."""
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename if exc.filename is not None else ""
        text = f"{where}: {exc.strerror}" if where != "" else exc.strerror
    else:
        text = str(exc) or type(exc).__name__
    if exit_code_for(exc) == EXIT_INTERNAL:
        text = (
            f"unexpected {type(exc).__name__}: {text} "
            "(a bug in roost; set ROOST_DEBUG=1 to see the traceback)"
        )
    return " ".join(text.split())


def report(exc: BaseException) -> NoReturn:
    """Print ``error: <message>`` on stderr and exit with the class's code.

    Plain ``typer.echo``, not Rich: Rich would wrap the line to the terminal's width,
    and a script reading stderr wants the whole message on one line.
    """
    typer.echo(f"error: {describe(exc)}", err=True)
    raise typer.Exit(exit_code_for(exc))


class ErrorHandlingGroup(TyperGroup):
    """The root command group: runs every sub-command and reports roost's errors.

    Sub-commands run inside the root group's ``invoke``, so this one ``try`` sees
    every error a command raises, in the real program and under ``CliRunner`` alike.
    """

    # ``Any``: the parameter is Typer's vendored click Context, which Typer does not export
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise  # stdout closed by `| head`: Typer silences it the usual way
        except _HANDLED as exc:
            if is_debug(os.environ):
                raise
            report(exc)
