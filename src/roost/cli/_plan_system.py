"""``roost plan SYSTEM.yaml``: where each component of a system should run, and why.

Reads a system spec (``roost.plan.load``), searches the placements of one network
scenario, and prints the feasible ones by Pareto front, the front, a recommendation
with its reasoning, and why the others are infeasible. ``--json`` prints all of it
for scripts; ``--mermaid`` prints only a diagram of the recommended placement.

``PlanGroup`` lets ``roost plan SYSTEM.yaml`` stand for ``roost plan system SYSTEM.yaml``
next to the group's other commands (``roost plan capacity …``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from typer.core import TyperGroup

from roost.cli._output import heading, plain_table, print_json, stdout_console
from roost.cli._params import JsonOption
from roost.errors import PlanError
from roost.plan.load import load_spec
from roost.plan.report import Report, Row, build_report

__all__ = ["PlanGroup", "plan_system"]

_NONE = "–"


class PlanGroup(TyperGroup):
    """A command group whose first argument, when it names no command, goes to ``system``.

    So ``roost plan ar.yaml`` runs ``roost plan system ar.yaml``, while ``roost plan
    capacity …`` still runs ``capacity``. (The pattern of click-default-group.)
    """

    default_command = "system"

    # ``Any``: the parameter is Typer's vendored click Context, which Typer does not export
    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        if (
            args
            and args[0] not in self.commands
            and not args[0].startswith("-")
            and self.default_command in self.commands
        ):
            args = [self.default_command, *args]
        return super().resolve_command(ctx, args)


def plan_system(
    system: Annotated[
        Path,
        typer.Argument(
            metavar="SYSTEM.yaml",
            help="The system spec: locations, links, components, flows, workload, requirements.",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ],
    scenario: Annotated[
        str | None,
        typer.Option(
            help="The network scenario to plan for (default: the spec's first).", show_default=False
        ),
    ] = None,
    as_json: JsonOption = False,
    show_mermaid: Annotated[
        bool,
        typer.Option(
            "--mermaid", help="Print only a Mermaid diagram of the recommended placement."
        ),
    ] = False,
    show_all: Annotated[
        bool,
        typer.Option("--all", help="Evaluate every placement in full instead of cutting branches."),
    ] = False,
) -> None:
    """Plan where each component runs: the feasible placements, their front, a recommendation.

    Latency is best-worst over the links' latencies; energy is per request; operator
    cost is per month, from the replicas at average and at peak load.
    """
    spec = load_spec(system)
    report = build_report(spec, scenario, exhaustive=show_all)
    if as_json:
        print_json(report.to_json())
    elif show_mermaid:
        if report.recommendation is not None:
            typer.echo(report.mermaid(), nl=False)
    else:
        _print(report)
    if not report.rows:
        reasons = sorted({reason for row in report.rejected for reason in row.reasons})
        raise PlanError(
            f"no feasible placement of '{spec.name}' in scenario '{report.scenario}' "
            f"({len(report.rejected)} rejected: {'; '.join(reasons[:3])})"
        )


def _print(report: Report) -> None:
    console = stdout_console()
    spec = report.spec
    console.print(
        heading(
            f"Placements of {spec.name}, network scenario {report.scenario}: "
            f"{len(report.rows)} feasible of {report.evaluated} evaluated, "
            f"{report.pruned} branches cut"
        )
    )
    if report.rows:
        console.print(_table(report, report.rows))
        front = ", ".join(row.label for row in report.front)
        console.print(heading(f"\nFront 1 on {', '.join(report.objectives)}"))
        console.print(front)
    if report.recommendation is not None:
        console.print(heading(f"\nRecommendation: {report.recommendation.label}"))
        for step in report.recommendation.reasoning:
            console.print(f"- {step}")
    if report.rejected:
        console.print(heading(f"\nWhy not ({len(report.rejected)})"))
        why = plain_table("placement", "reasons")
        for row in report.rejected:
            why.add_row(row.label, "; ".join(row.reasons))
        console.print(why)
    for warning in report.warnings:
        console.print(f"note: {warning}")


def _table(report: Report, rows: tuple[Row, ...]) -> Table:
    spec = report.spec
    devices = [name for name, loc in spec.locations.items() if loc.power is not None]
    numbers = (
        "front",
        "latency s",
        "link util",
        "user $/mo",
        *(f"{name} J/req" for name in devices),
        "operator $/mo",
        "replicas",
        "update GB/mo",
        "offline",
        "telemetry",
        "sensitive KB/req",
    )
    table = plain_table("placement", *numbers[:2], "soft", *numbers[2:], right=numbers)
    for row in rows:
        m = row.metrics
        if m is None:  # pragma: no cover - feasible rows are always evaluated
            continue
        busiest = max(m.link_utilization.items(), key=lambda item: item[1], default=None)
        replicas = ", ".join(f"{r.component} {r.average}-{r.peak}" for r in m.replicas)
        table.add_row(
            row.label,
            str(row.rank),
            f"{m.latency.best:.3f}-{m.latency.worst:.3f}",
            "yes" if not m.soft_misses else "no",
            _NONE if busiest is None else f"{busiest[0]} {busiest[1]:.4f}",
            f"{m.user_usd_month:.2f}",
            *(f"{m.energy_j.get(name, 0.0):.4f}" for name in devices),
            f"{m.operator_usd_month_average:,.0f}-{m.operator_usd_month_peak:,.0f}",
            replicas or _NONE,
            f"{m.update_gb_month:,.0f}",
            f"{m.offline_coverage:.0%}",
            str(m.telemetry),
            f"{m.sensitive_bytes_per_request / 1e3:g}",
        )
    return table
