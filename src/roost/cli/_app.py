"""The ``roost`` command: the app, its global options and its sub-commands.

The root callback is the one place the environment is read (``Settings.from_env``)
and logging is configured; it stores a ``Session`` that sub-commands read.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from roost._version import __version__
from roost.cli._card import card
from roost.cli._errors import ErrorHandlingGroup, is_debug
from roost.cli._evaluate import evaluate
from roost.cli._features import features_app
from roost.cli._logging import configure_logging
from roost.cli._models import models_app
from roost.cli._plan import plan_app
from roost.cli._predict import predict
from roost.cli._profile import profile
from roost.cli._serve import serve
from roost.cli._session import Session
from roost.cli._telemetry import telemetry_app
from roost.config import Settings

__all__ = ["app"]


app = typer.Typer(
    name="roost",
    cls=ErrorHandlingGroup,
    help="Register, inspect, move and run model versions.",
    no_args_is_help=True,
    add_completion=False,
    # errors are one line on stderr (see _errors.py); a Rich traceback panel is not
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"roost {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            help="The registry folder (overrides ROOST_HOME; default ~/.roost).",
            show_default=False,
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log what roost does (INFO) on stderr.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print roost's version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Register, inspect, move and run model versions.

    Settings come from ROOST_HOME and ROOST_REGISTRY_URL; ROOST_DEBUG=1 shows
    tracebacks instead of one-line errors.
    """
    debug = is_debug(os.environ)
    configure_logging(logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING)
    settings = Settings.from_env(os.environ)
    if home is not None:
        store = dataclasses.replace(settings.store, home=home.expanduser())
        settings = dataclasses.replace(settings, store=store)
    ctx.obj = Session(settings)


app.add_typer(models_app, name="models")
app.command("predict")(predict)
app.command("profile")(profile)
app.command("card")(card)
app.command("serve")(serve)
app.add_typer(telemetry_app, name="telemetry")
app.add_typer(features_app, name="features")
app.command("evaluate")(evaluate)
app.add_typer(plan_app, name="plan")
