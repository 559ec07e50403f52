"""``roost models …``: list, show, alias, delete, export and import registered versions."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from roost.cli._output import cell, format_time, plain_table, print_json, stdout_console
from roost.cli._params import JsonOption, RefArgument
from roost.cli._session import session_of
from roost.cli._summary import render_summary
from roost.errors import ConfigError
from roost.store import ModelSummary, ModelVersion, Registry

__all__ = ["models_app"]

models_app = typer.Typer(
    help="List, inspect, alias, delete, export and import model versions.",
    no_args_is_help=True,
)


def _aliases_text(aliases: dict[str, int]) -> str:
    return ", ".join(f"{alias}→{version}" for alias, version in sorted(aliases.items()))


def _summary_record(summary: ModelSummary) -> dict[str, Any]:
    latest = summary.latest
    return {
        "name": summary.name,
        "latest": latest.version,
        "versions": [v.version for v in summary.versions],
        "aliases": dict(sorted(summary.aliases.items())),
        "flavor": latest.flavor,
        "created_at": latest.created_at,
        "digest": latest.digest,
    }


@models_app.command("list")
def list_models(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List every model: latest version, number of versions, aliases, flavor."""
    session = session_of(ctx)
    summaries = session.registry().list()
    if as_json:
        print_json([_summary_record(s) for s in summaries])
        return
    console = stdout_console()
    if not summaries:
        console.print(f"no models in {session.settings.store.home}")
        return
    table = plain_table(
        "name", "latest", "versions", "aliases", "flavor", "created", right=("latest", "versions")
    )
    for summary in summaries:
        latest = summary.latest
        table.add_row(
            cell(summary.name, "bold"),
            cell(latest.version),
            cell(len(summary.versions)),
            cell(_aliases_text(summary.aliases)),
            cell(latest.flavor),
            cell(format_time(latest.created_at)),
        )
    console.print(table)


def _aliases_of(registry: Registry, found: ModelVersion) -> list[str]:
    aliases = registry.summary(found.name).aliases
    return sorted(alias for alias, version in aliases.items() if version == found.version)


@models_app.command("show")
def show(ctx: typer.Context, ref: RefArgument, as_json: JsonOption = False) -> None:
    """Describe one version: signature, provenance, params and card.

    The package's hashes are verified before anything is shown.
    """
    registry = session_of(ctx).registry()
    found = registry.resolve(ref)
    metadata = registry.metadata(str(found))
    aliases = _aliases_of(registry, found)
    if as_json:
        print_json({**metadata, "digest": found.digest, "aliases": aliases})
        return
    render_summary(stdout_console(), metadata, found, aliases)


@models_app.command("alias")
def alias(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="The model's name.", show_default=False)
    ],
    alias_name: Annotated[
        str, typer.Argument(metavar="ALIAS", help="The alias, e.g. production.", show_default=False)
    ],
    version: Annotated[
        str | None,
        typer.Argument(
            metavar="VERSION", help="The version to point the alias at.", show_default=False
        ),
    ] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Remove the alias.")] = False,
) -> None:
    """Point NAME@ALIAS at VERSION (moving it if it exists), or remove it with --delete."""
    if delete == (version is not None):
        raise ConfigError(
            f"models alias: expected a VERSION for {name}@{alias_name} or --delete, "
            f"got {'both' if delete else 'neither'}"
        )
    registry = session_of(ctx).registry()
    if version is None:
        previous = registry.remove_alias(name, alias_name)
        typer.echo(f"{name}@{alias_name} removed (was {previous})")
        return
    previous_or_none = registry.set_alias(name, alias_name, version)
    was = f" (was {previous_or_none})" if previous_or_none is not None else ""
    typer.echo(f"{name}@{alias_name} → {int(version)}{was}")


def _stdin_is_interactive() -> bool:
    """Whether a person can answer a question (kept apart so tests can stand in for one)."""
    return sys.stdin.isatty()


@models_app.command("rm")
def remove(
    ctx: typer.Context,
    ref: RefArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a version (refused while an alias points at it); its number is never reused."""
    registry = session_of(ctx).registry()
    found = registry.deletable(ref)  # refuse before asking a pointless question
    if not yes:
        if not _stdin_is_interactive():
            raise ConfigError(f"models rm {found}: not confirmed (no terminal); pass --yes")
        if not typer.confirm(f"Delete {found} ({found.digest})?", default=False):
            typer.echo(f"kept {found}")
            raise typer.Exit(1)
    registry.delete(found)
    typer.echo(f"deleted {found}")


def _destination(output: str | None) -> Path:
    """The folder or file to export to; a path ending in a separator is a folder to create."""
    if output is None:
        return Path.cwd()
    path = Path(output).expanduser()
    if output.endswith((os.sep, "/")):
        path.mkdir(parents=True, exist_ok=True)
    return path


@models_app.command("export")
def export(
    ctx: typer.Context,
    ref: RefArgument,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="A file, or a folder to write NAME-VERSION.roost.tar.gz in "
            "(default: the current folder).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write a version to one .tar.gz archive, verified first; print its path and digest."""
    registry = session_of(ctx).registry()
    found = registry.resolve(ref)
    path = registry.export(str(found), _destination(output))
    typer.echo(f"wrote {path}")
    typer.echo(f"digest {found.digest}")


@models_app.command("import")
def import_(
    ctx: typer.Context,
    archive: Annotated[
        Path,
        typer.Argument(
            metavar="ARCHIVE", help="An archive made by `roost models export`.", show_default=False
        ),
    ],
    digest: Annotated[
        str | None,
        typer.Option(
            "--digest",
            help="Refuse the archive unless its package digest is this (sha256:…).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Register a version from an archive, under its own name and version; print NAME:VERSION."""
    registry = session_of(ctx).registry()
    imported = registry.import_(archive.expanduser(), digest)
    typer.echo(str(imported))
