"""``roost profile``: measure a registered version on this machine, for the planner.

The measuring is ``roost.plan.profile.profile_model`` (in this process, no server);
this command shows its progress on stderr, prints the result as tables (or JSON), and
writes the two files the planner reads: the JSON profile (``--out``, whose
``latency_ms_by_batch`` ``roost plan capacity --profile`` reads) and a component block
of the planner's YAML (``--yaml``).
"""

from __future__ import annotations

import json
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from roost.cli._output import heading, key_value_table, plain_table, print_json, stdout_console
from roost.cli._params import JsonOption, RefArgument
from roost.cli._session import session_of
from roost.errors import ConfigError
from roost.plan.profile import PROTOCOLS, ModelProfile, profile_model

__all__ = ["parse_batch_sizes", "profile"]

_DEFAULT_BATCH_SIZES = "1,2,4,8,16,32"


class Quantile(StrEnum):
    """Which latency of each batch size the profile file gives the capacity planner."""

    P50 = "p50"
    P90 = "p90"
    P99 = "p99"


#: seconds between two redraws of the progress bar
_REDRAW_S = 0.1


def parse_batch_sizes(text: str) -> tuple[int, ...]:
    """``"1,2,4"`` as ``(1, 2, 4)``, sorted.

    Raises:
        ConfigError: naming ``--batch-sizes``, for anything but distinct whole numbers >= 1.
    """
    parts = [part.strip() for part in text.split(",")]
    if not all(part.isdigit() and int(part) >= 1 for part in parts):
        raise ConfigError(
            "--batch-sizes: expected whole numbers of at least 1, separated by commas, "
            f"such as 1,2,4,8, got {text!r}"
        )
    sizes = [int(part) for part in parts]
    repeated = sorted({size for size in sizes if sizes.count(size) > 1})
    if repeated:
        twice = ", ".join(map(str, repeated))
        raise ConfigError(f"--batch-sizes: expected each batch size once, got {twice} twice")
    return tuple(sorted(sizes))


def _ms(value: float) -> str:
    return f"{value:.3f}" if value < 100 else f"{value:,.1f}"


def _bytes(value: float | None) -> str:
    """A size in decimal units (the planner's MB is 10⁶ bytes): ``6.5 kB``, ``136.4 MB``."""
    if value is None:
        return "n/a"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:,.1f} {unit}"
    return f"{value:,.0f} B"


def _seconds(value: float) -> str:
    return f"{value * 1000:,.1f} ms" if value < 1 else f"{value:,.2f} s"


def _print(profile: ModelProfile) -> None:
    console = stdout_console()
    peak = f"{profile.peak_rows_per_s:,.0f} rows/s at batch size {profile.peak.batch_size}"
    console.print(heading(f"Profile of {profile.ref} at {profile.location} ({profile.host})"))
    console.print(
        key_value_table(
            [
                ("flavor", profile.flavor),
                ("platform", profile.platform),
                (
                    "load",
                    f"{_seconds(profile.load_s)} median, {_seconds(profile.first_load_s)} first",
                ),
                ("memory", f"{_bytes(profile.ram_mb * 1e6)} (the larger of the two below)"),
                ("  RSS growth", _bytes(profile.rss_growth_bytes)),
                ("  Python peak", _bytes(profile.python_peak_bytes)),
                ("  model held", _bytes(profile.python_retained_bytes)),
                ("package", f"{_bytes(profile.package_bytes)} ({profile.package_bytes:,} bytes)"),
                ("peak throughput", peak),
            ]
        )
    )
    timing = ("batch size", "p50 ms", "p90 ms", "p99 ms", "rows/s")
    table = plain_table(*timing, right=timing)
    for entry in profile.latency:
        table.add_row(
            str(entry.batch_size),
            _ms(entry.p50_ms),
            _ms(entry.p90_ms),
            _ms(entry.p99_ms),
            f"{entry.rows_per_s:,.0f}",
        )
    console.print(heading(f"\nLatency of model.predict ({profile.latency[0].runs} calls each)"))
    console.print(table)
    if profile.wire:
        sizes = ("protocol", "rows", "request bytes", "response bytes")
        table = plain_table(*sizes, right=sizes[1:])
        for size in sorted(profile.wire, key=lambda s: (s.batch_size, PROTOCOLS.index(s.protocol))):
            table.add_row(
                size.protocol,
                str(size.batch_size),
                f"{size.request_bytes:,}",
                f"{size.response_bytes:,}",
            )
        console.print(heading("\nBody sizes per protocol"))
        console.print(table)


def _component_yaml(profile: ModelProfile, name: str) -> str:
    """The component block as YAML, with a comment saying what it holds and where from."""
    one = profile.latency_at(1)
    header = (
        f"# roost profile {profile.ref} at {profile.location} "
        f"({profile.host}; {profile.platform})\n"
        f"# compute_s: one row's p50 (best) and p99 (worst) in seconds, over {one.runs} calls;\n"
        "# size_mb: the package; ram_mb: memory growth of the process. Paste under components:\n"
    )
    block = yaml.safe_dump(profile.component_block(name), sort_keys=False)
    return header + block


def profile(
    ctx: typer.Context,
    ref: RefArgument,
    batch_sizes: Annotated[
        str,
        typer.Option(
            "--batch-sizes", metavar="B,B,...", help="The batch sizes to time, comma-separated."
        ),
    ] = _DEFAULT_BATCH_SIZES,
    repeat: Annotated[
        int, typer.Option("--repeat", metavar="N", help="Timed calls per batch size.")
    ] = 100,
    location: Annotated[
        str,
        typer.Option("--location", metavar="NAME", help="The planner's name for this machine."),
    ] = "this-machine",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", metavar="FILE", help="Write the profile here, as JSON.", show_default=False
        ),
    ] = None,
    quantile: Annotated[
        Quantile,
        typer.Option(
            "--quantile",
            help="The latency the JSON's latency_ms_by_batch gives `roost plan capacity`.",
        ),
    ] = Quantile.P99,
    yaml_out: Annotated[
        Path | None,
        typer.Option(
            "--yaml",
            metavar="FILE",
            help="Write the planner's component block here (needs batch size 1).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Measure a version on this machine: load time, memory, size, latency, body sizes.

    Everything runs in this process, with rows drawn from the version's stored
    example: no server is started. --out writes the JSON that `roost plan capacity
    --profile` reads (each batch size's p99, or --quantile); --yaml writes a component
    of the planner's YAML (one row's p50 as best, p99 as worst).
    """
    # checked before anything is measured, so a mistake costs no waiting
    sizes = parse_batch_sizes(batch_sizes)
    if repeat < 1:
        raise ConfigError(f"--repeat: expected at least 1 timed call, got {repeat}")
    if not location.strip() or location != location.strip():
        raise ConfigError(
            f"--location: expected a name without surrounding spaces, got {location!r}"
        )
    if yaml_out is not None and 1 not in sizes:
        raise ConfigError(
            "--yaml: the component block takes one row's latency; add 1 to --batch-sizes"
        )
    registry = session_of(ctx).registry()
    columns = (
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    console = Console(stderr=True)
    # redrawn only between timed calls (auto_refresh off): a redraw thread running
    # during a call would add its time to that call's latency. Off unless stderr is
    # a terminal, where Rich would still write a blank line when it stops.
    progress_bar = Progress(
        *columns,
        console=console,
        transient=True,
        auto_refresh=False,
        disable=not console.is_terminal,
    )
    with progress_bar as bar:
        task = bar.add_task(f"profiling {ref}", total=None)
        redrawn = 0.0

        def on_step(what: str, done: int, total: int) -> None:
            nonlocal redrawn
            bar.update(task, description=f"{ref}: {what}", completed=done, total=total)
            now = time.monotonic()
            if now - redrawn >= _REDRAW_S or done == total:
                bar.refresh()
                redrawn = now

        measured = profile_model(
            registry, ref, batch_sizes=sizes, repeat=repeat, location=location, progress=on_step
        )
    document = measured.to_dict(quantile.value)
    written = []
    if out is not None:
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        out.expanduser().write_text(text, encoding="utf-8")
        written.append(f"wrote the profile of {measured.ref} to {out}")
    if yaml_out is not None:
        name = measured.name
        yaml_out.expanduser().write_text(_component_yaml(measured, name), encoding="utf-8")
        written.append(f"wrote component {name!r} to {yaml_out}")
    if as_json:
        print_json(document)
        return
    _print(measured)
    for line in written:
        typer.echo(line)
