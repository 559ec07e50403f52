"""The ``roost features`` commands: apply, list, ingest, materialize, get, check.

Services are found through the catalog: ``roost features apply MODULE`` records every
service a module defines, with the module's name and file, and the other commands import
that module again by the service's name (feature code is imported, never pickled).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from roost.cli._output import cell, heading, plain_table, print_json, short_hash, stdout_console
from roost.cli._session import session_of
from roost.errors import ConfigError, FeatureError

__all__ = ["features_app"]

features_app = typer.Typer(
    help="The feature store: definitions, events, online values, parity.",
    no_args_is_help=True,
)

ServiceArgument = Annotated[
    str,
    typer.Argument(
        help="A feature service's name (see `roost features list`).", show_default=False
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _store(ctx: typer.Context) -> Any:
    from roost.features import FeatureStore

    return FeatureStore.from_settings(session_of(ctx).settings)


def _service(store: Any, name: str) -> Any:
    """The service the catalog knows by ``name``, imported from its module."""
    from roost.features import FeatureService
    from roost.features._discover import import_feature_module, objects_of

    entry = store.catalog.get(name)
    if entry.kind != "service":
        raise FeatureError(f"{entry.ref} is a {entry.kind}, not a feature service")
    module = import_feature_module(entry.module or "", entry.file)
    for service in objects_of(module, FeatureService):
        if service.name == name:
            return service
    raise FeatureError(f"module {entry.module!r} no longer defines feature service {name!r}")


def _at_us(at: str | None) -> int | None:
    from roost.features._time import time_us

    if at is None:
        return None
    try:
        return time_us(at)
    except FeatureError as exc:
        raise ConfigError(
            f"--at: expected an ISO 8601 time such as 2026-11-28T12:00:00Z ({exc})"
        ) from exc


def _progress_bar() -> Progress:
    console = Console(stderr=True)
    return Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


@features_app.command("apply")
def apply(
    ctx: typer.Context,
    module: Annotated[
        str,
        typer.Argument(help="A module name (fraud_features) or a .py file.", show_default=False),
    ],
) -> None:
    """Record the feature services a module defines, and their features, in the catalog.

    A name@version already recorded with other code is refused (exit 4): give the
    changed definition a new version.
    """
    from roost.features import FeatureService
    from roost.features._discover import defining_module, import_target, objects_of

    imported = import_target(module)
    services = objects_of(imported, FeatureService)
    if not services:
        raise FeatureError(f"module {module!r} defines no FeatureService")
    name, file = defining_module(services[0])
    with _store(ctx) as store:
        new = set(store.apply(*services, module=name, file=file))
        table = plain_table("definition", "kind", "hash", "")
        for service in services:
            for item in (*service.features, service):
                table.add_row(
                    item.ref,
                    item.kind,
                    short_hash(item.source_hash),
                    cell(
                        "new" if item.ref in new else "unchanged",
                        "green" if item.ref in new else "dim",
                    ),
                )
    stdout_console().print(table)


@features_app.command("list")
def list_(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every definition in the catalog: name@version, kind, code hash, module."""
    with _store(ctx) as store:
        entries = store.catalog.entries()
    if as_json:
        print_json(
            [
                {
                    "ref": e.ref,
                    "kind": e.kind,
                    "hash": e.source_hash,
                    "module": e.module,
                    "file": e.file,
                }
                for e in entries
            ]
        )
        return
    if not entries:
        typer.echo("no feature definitions yet: roost features apply MODULE")
        return
    table = plain_table("definition", "kind", "hash", "module")
    for entry in entries:
        table.add_row(entry.ref, entry.kind, short_hash(entry.source_hash), entry.module or "")
    stdout_console().print(table)


@features_app.command("ingest")
def ingest(
    ctx: typer.Context,
    events: Annotated[str, typer.Argument(help="The event table's name.", show_default=False)],
    file: Annotated[
        Path, typer.Argument(help="A CSV or JSON-lines file of events.", show_default=False)
    ],
    replace: Annotated[
        bool, typer.Option(help="Replace the table's events instead of appending.")
    ] = False,
) -> None:
    """Append events from a file to the offline store (checked; all rows or none).

    The table is found among the views of the services in the catalog.
    """
    import pandas as pd

    with _store(ctx) as store:
        tables = {}
        for entry in store.catalog.entries():
            if entry.kind == "service":
                for view in _service(store, entry.name).views:
                    tables[view.events.name] = view.events
        if events not in tables:
            raise FeatureError(
                f"no applied feature service reads an event table {events!r} (tables: "
                f"{', '.join(sorted(tables)) or 'none'}); roost features apply MODULE first"
            )
        try:
            frame = (
                pd.read_json(file, lines=True)
                if file.suffix in (".jsonl", ".ndjson")
                else pd.read_csv(file)
            )
        except (ValueError, pd.errors.ParserError) as exc:
            raise ConfigError(f"{file}: cannot read events ({exc})") from exc
        written = store.ingest(
            tables[events], _numbers_read(frame, tables[events], file), replace=replace
        )
    typer.echo(f"{'replaced' if replace else 'ingested'} {written} events into {events}")


def _numbers_read(frame: Any, events: Any, file: Path) -> Any:
    """The file's numeric columns as numbers, or an error naming the first bad value.

    One non-number makes pandas read a whole CSV column as text; the store would then
    name the column's first value, a good one, as the culprit.
    """
    import pandas as pd

    for name, dtype in events.columns:
        if dtype not in ("int64", "float64") or name not in frame.columns:
            continue
        column = frame[name]
        numbers = pd.to_numeric(column, errors="coerce")
        bad = column.notna() & numbers.isna()
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            raise ConfigError(
                f"{file}: column {name!r} expected {dtype} values, got {column.iloc[row]!r} "
                f"(row {row})"
            )
        frame[name] = numbers
    return frame


@features_app.command("materialize")
def materialize(
    ctx: typer.Context,
    service: ServiceArgument,
    at: Annotated[
        str | None,
        typer.Option(
            help="Materialize as of this time (ISO 8601; default now).", show_default=False
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Write every entity's view values as of now (or --at) to the online store."""
    at_us = _at_us(at)
    with _store(ctx) as store, _progress_bar() as bar:
        found = _service(store, service)
        task = bar.add_task(f"materializing {found.ref}", total=None)

        def on_step(view: str, done: int, total: int) -> None:
            bar.update(task, description=view, completed=done, total=total)

        reports = store.materialize(found, at_us=at_us, progress=on_step)
    if as_json:
        print_json(
            [
                {
                    "view": r.view,
                    "entities": r.entities,
                    "written": r.written,
                    "seconds": round(r.seconds, 3),
                }
                for r in reports
            ]
        )
        return
    table = plain_table(
        "view", "entities", "written", "seconds", right=("entities", "written", "seconds")
    )
    for report in reports:
        table.add_row(
            report.view, f"{report.entities:,}", f"{report.written:,}", f"{report.seconds:.2f}"
        )
    stdout_console().print(table)


@features_app.command("get")
def get(
    ctx: typer.Context,
    service: ServiceArgument,
    fields: Annotated[
        list[str],
        typer.Argument(
            help="The entity keys and request fields, as NAME=VALUE.", show_default=False
        ),
    ],
    as_json: JsonOption = False,
) -> None:
    """One row's features from the online store, with each value's status and origin."""
    row: dict[str, Any] = {}
    for text in fields:
        name, equals, value = text.partition("=")
        if not equals or not name:
            raise ConfigError(f"expected NAME=VALUE, got {text!r}")
        try:
            row[name] = json.loads(value)
        except ValueError:
            row[name] = value  # plain text needs no quotes on the command line
    with _store(ctx) as store:
        found = _service(store, service)
        missing = [n for n, _ in found.raw_inputs if n not in row]
        if missing:
            raise ConfigError(f"{found.ref} needs {', '.join(missing)} (as NAME=VALUE)")
        result = store.online_features(found, [row])[0]
    views = {name: view.name for view in found.views for name, _ in view.outputs}
    if as_json:
        print_json(
            {"values": result.values, "statuses": result.statuses, "origins": result.origins}
        )
        return
    table = plain_table("feature", "value", "status", "from")
    for name in found.column_names:
        status = result.statuses[name]
        style = "green" if status == "present" else "yellow"
        table.add_row(
            name,
            cell(result.values[name]),
            cell(status, style),
            result.origins.get(views.get(name, ""), "request"),
        )
    stdout_console().print(table)


@features_app.command("check")
def check(
    ctx: typer.Context,
    service: ServiceArgument,
    sample: Annotated[int, typer.Option(help="How many entities to compare.")] = 1000,
    at: Annotated[
        str | None,
        typer.Option(help="Compare as of this time (ISO 8601; default now).", show_default=False),
    ] = None,
    seed: Annotated[int, typer.Option(help="The seed of the entity draw.")] = 0,
    requests: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="CSV of request rows (entity keys and request fields) to use instead of "
            "the newest events.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Show that the training path and the online path give identical features (exit 1 if not).

    Materializes a sample of entities, builds their training frame and reads them online,
    all as of the same time, and compares every column.
    """
    import pandas as pd

    from roost.features.parity import check_parity

    at_us = _at_us(at)
    request_rows = pd.read_csv(requests) if requests is not None else None
    with _store(ctx) as store, _progress_bar() as bar:
        found = _service(store, service)
        task = bar.add_task(f"checking {found.ref}", total=None)

        def on_step(view: str, done: int, total: int) -> None:
            bar.update(task, description=f"materializing {view}", completed=done, total=total)

        report = check_parity(
            store,
            found,
            sample=sample,
            at_us=at_us,
            seed=seed,
            requests=request_rows,
            progress=on_step,
        )
    if as_json:
        print_json(
            {
                "service": report.service,
                "at": report.at,
                "entities": report.entities,
                "ok": report.ok,
                "statuses": report.statuses,
                "columns": [
                    {
                        "column": c.column,
                        "compared": c.compared,
                        "mismatched": c.mismatched,
                        "max_abs_diff": c.max_abs_diff,
                        "example": c.example,
                    }
                    for c in report.columns
                ],
            }
        )
    else:
        console = stdout_console()
        console.print(heading(f"{report.service} at {report.at}: training path vs online path"))
        table = plain_table(
            "feature",
            "compared",
            "mismatched",
            "max |diff|",
            "",
            right=("compared", "mismatched", "max |diff|"),
        )
        for column in report.columns:
            verdict = (
                cell("identical", "green")
                if column.mismatched == 0
                else cell(column.example or "differs", "red")
            )
            table.add_row(
                column.column,
                f"{column.compared:,}",
                f"{column.mismatched:,}",
                f"{column.max_abs_diff:.3g}",
                verdict,
            )
        console.print(table)
        statuses = ", ".join(f"{n:,} {s}" for s, n in sorted(report.statuses.items()))
        console.print(f"statuses: {statuses}")
    if not report.ok:
        raise typer.Exit(1)
