"""The ``roost plan`` commands: ``roost plan capacity`` sizes a fleet and its autoscaler."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from roost.cli._output import heading, key_value_table, plain_table, print_json, stdout_console
from roost.cli._params import JsonOption
from roost.cli._plan_system import PlanGroup, plan_system
from roost.errors import ConfigError, PlanError
from roost.plan import (
    AutoscalerSettings,
    BatchingPlan,
    CapacityPlan,
    autoscaler_settings,
    batching_plan,
    replicas_for,
)
from roost.plan.capacity import MAX_OFFERED_LOAD

__all__ = ["plan_app", "read_profile"]

plan_app = typer.Typer(
    cls=PlanGroup,  # `roost plan SYSTEM.yaml` runs `roost plan system SYSTEM.yaml`
    help="Plan where models run and how many replicas they need.",
    no_args_is_help=True,
)
plan_app.command("system")(plan_system)

#: the key of a profile file; ``roost profile REF --out`` writes the same shape
PROFILE_KEY = "latency_ms_by_batch"

_NONE = "–"


def read_profile(path: Path) -> dict[int, float]:
    """A batch-latency profile file as ``{batch size: latency in ms}``.

    The file is JSON: ``{"latency_ms_by_batch": {"1": 2.73, "16": 17.3}}``; other keys
    (where and when it was measured) are ignored.

    Raises:
        ConfigError: the file cannot be read, is not JSON, or does not have that shape.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--profile: cannot read {path}: {exc.strerror or exc}") from exc
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"--profile: {path} is not JSON ({exc})") from exc
    entries = document.get(PROFILE_KEY) if isinstance(document, dict) else None
    if not isinstance(entries, dict) or not entries:
        raise ConfigError(
            f'--profile: expected {path} to hold {{"{PROFILE_KEY}": {{"1": 2.73, ...}}}} '
            "with at least one batch size"
        )
    profile: dict[int, float] = {}
    for key, value in entries.items():
        if not re.fullmatch(r"[1-9][0-9]*", key):
            raise ConfigError(f"--profile: expected batch sizes 1, 2, … in {path}, got {key!r}")
        is_latency = isinstance(value, int | float) and not isinstance(value, bool)
        if not (is_latency and math.isfinite(value) and value > 0):
            raise ConfigError(
                f"--profile: expected a latency in ms above 0 for batch size {key} in {path}, "
                f"got {value!r}"
            )
        profile[int(key)] = float(value)
    return profile


def _check_option(option: str, value: float | None, is_ok: bool, expected: str) -> None:
    """ConfigError naming the option, unless the value is missing or ``is_ok``."""
    if value is not None and not (math.isfinite(value) and is_ok):
        raise ConfigError(f"{option}: expected {expected}, got {value:g}")


@plan_app.command("capacity")
def capacity(
    rate: Annotated[
        float, typer.Option(help="Requests per second at the peak.", show_default=False)
    ],
    p99_ms: Annotated[
        float,
        typer.Option(
            "--p99-ms",
            "--slo-ms",
            help="The latency target at --percentile (p99 by default), in ms.",
            show_default=False,
        ),
    ],
    service_ms: Annotated[
        float | None,
        typer.Option(help="One request's service time on one replica, in ms.", show_default=False),
    ] = None,
    profile: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help='A batch-latency profile, JSON: {"latency_ms_by_batch": {"1": 2.73, …}}.',
            show_default=False,
        ),
    ] = None,
    percentile: Annotated[
        float, typer.Option(help="The share of requests that must meet the target.")
    ] = 0.99,
    arrival_cv2: Annotated[
        float,
        typer.Option(help="Squared coefficient of variation of request gaps (1: Poisson)."),
    ] = 1.0,
    service_cv2: Annotated[
        float,
        typer.Option(help="Squared coefficient of variation of service times (0: constant)."),
    ] = 1.0,
    max_utilization: Annotated[
        float, typer.Option(help="The cap on a replica's utilisation, in (0, 1].")
    ] = 1.0,
    headroom: Annotated[
        float, typer.Option(help="A factor on the replica count (1.25: 25% spare).")
    ] = 1.0,
    min_rate: Annotated[
        float | None,
        typer.Option(
            help="Requests per second at the quietest time, to size minReplicas.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Size a fleet for a rate and a latency target, with and without batching.

    Give the service time (--service-ms) for an M/M/c plan, or a measured batch-latency
    profile (--profile) to compare batch size 1 with the best batch size. Prints the
    replicas, their queueing and the HorizontalPodAutoscaler settings to use.
    """
    if (service_ms is None) == (profile is None):
        raise ConfigError("--service-ms, --profile: expected exactly one of them")
    _check_option("--rate", rate, rate > 0, "a number > 0")
    _check_option("--p99-ms", p99_ms, p99_ms > 0, "a number > 0")
    _check_option("--service-ms", service_ms, (service_ms or 0) > 0, "a number > 0")
    _check_option("--percentile", percentile, 0 < percentile < 1, "a share in (0, 1)")
    _check_option("--arrival-cv2", arrival_cv2, arrival_cv2 >= 0, "a number >= 0")
    _check_option("--service-cv2", service_cv2, service_cv2 >= 0, "a number >= 0")
    _check_option(
        "--max-utilization", max_utilization, 0 < max_utilization <= 1, "a share in (0, 1]"
    )
    _check_option("--headroom", headroom, headroom >= 1, "a number >= 1")
    _check_option(
        "--min-rate", min_rate, 0 <= (min_rate or 0) <= rate, f"a number from 0 to --rate {rate:g}"
    )
    latency_ms_by_batch = read_profile(profile) if profile is not None else None

    # without batching: the M/M/c plan on the service time, or on the profile's batch of 1
    service_s: float | None = None
    if service_ms is not None:
        service_s = service_ms / 1000
    elif latency_ms_by_batch is not None and 1 in latency_ms_by_batch:
        service_s = latency_ms_by_batch[1] / 1000
    if service_s is not None and rate * service_s > MAX_OFFERED_LOAD:
        raise ConfigError(
            f"--rate: expected at most {MAX_OFFERED_LOAD / service_s:g} req/s for a service "
            f"time of {service_s * 1000:g} ms ({MAX_OFFERED_LOAD:g} Erlangs), got {rate:g}"
        )

    def unbatched(at_rate: float) -> CapacityPlan | None:
        if service_s is None:
            return None
        return replicas_for(
            at_rate,
            service_s,
            p99_ms / 1000,
            percentile=percentile,
            arrival_cv2=arrival_cv2,
            service_cv2=service_cv2,
            max_utilization=max_utilization,
            headroom=headroom,
        )

    def batched(at_rate: float) -> BatchingPlan | None:
        if latency_ms_by_batch is None:
            return None
        return batching_plan(at_rate, p99_ms / 1000, latency_ms_by_batch, headroom=headroom)

    plain, batching = unbatched(rate), batched(rate)
    chosen = _choose(plain, batching)
    if chosen is None:
        reasons = [plan.reason for plan in (plain, batching) if plan is not None]
        raise PlanError(f"no fleet meets {p99_ms:g} ms at {rate:g} req/s: {'; '.join(reasons)}")
    low = None
    if min_rate is not None:
        low = batched(min_rate) if isinstance(chosen, BatchingPlan) else unbatched(min_rate)
    settings = autoscaler_settings(chosen, low)
    uses = "with_batching" if isinstance(chosen, BatchingPlan) else "without_batching"
    if as_json:
        print_json(
            {
                "without_batching": _as_dict(plain),
                "with_batching": _as_dict(batching),
                "autoscaler": {**dataclasses.asdict(settings), "plan": uses},
            }
        )
        return
    _print(rate, p99_ms, percentile, plain, batching, settings, uses)


def _choose(
    plain: CapacityPlan | None, batching: BatchingPlan | None
) -> CapacityPlan | BatchingPlan | None:
    """The feasible plan with fewer replicas (without batching on a tie); None if neither."""
    feasible = [plan for plan in (plain, batching) if plan is not None and plan.feasible]
    return min(feasible, key=lambda plan: plan.replicas, default=None)


def _as_dict(plan: CapacityPlan | BatchingPlan | None) -> dict[str, Any] | None:
    return None if plan is None else dataclasses.asdict(plan)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3g} ms"


def _print(
    rate: float,
    p99_ms: float,
    percentile: float,
    plain: CapacityPlan | None,
    batching: BatchingPlan | None,
    settings: AutoscalerSettings,
    uses: str,
) -> None:
    console = stdout_console()
    label = f"p{percentile * 100:g}"
    console.print(heading(f"Capacity for {rate:g} req/s, {label} within {p99_ms:g} ms"))
    console.print(_plans_table(label, plain, batching))
    notes = [
        f"{name}: infeasible: {plan.reason}"
        for name, plan in (("without batching", plain), ("with batching", batching))
        if plan is not None and not plan.feasible
    ]
    if plain is None:
        notes.append("without batching: the profile has no batch size 1")
    if batching is not None and batching.feasible:
        notes.append(
            "with batching: a worst-case bound on a saturated replica (a request waits one "
            "batch, then rides the next); --percentile and the cv2 options shape the "
            "column without batching only"
        )
    for note in notes:
        console.print(f"note: {note}")
    which = "with batching" if uses == "with_batching" else "without batching"
    console.print(heading(f"\nAutoscaler (HPA on requests per second per pod, {which})"))
    console.print(
        key_value_table(
            [
                ("minReplicas", settings.min_replicas),
                ("maxReplicas", settings.max_replicas),
                ("target per pod", f"{settings.target_rps_per_pod:.4g} req/s"),
                ("target holds up to", f"{settings.slo_rps_per_pod:.4g} req/s per pod"),
            ]
        )
    )
    for note in settings.notes:
        console.print(f"note: {note}")


def _plans_table(label: str, plain: CapacityPlan | None, batching: BatchingPlan | None) -> Table:
    headers = [
        name
        for name, plan in (("without batching", plain), ("with batching", batching))
        if plan is not None
    ]
    table = plain_table("", *headers, right=tuple(headers))
    columns = [_plain_column(plain)] if plain is not None else []
    if batching is not None:
        columns.append(_batching_column(batching))
    for row, *cells in zip(_ROWS, *columns, strict=True):
        if any(cell != _NONE for cell in cells):
            table.add_row(row.format(label=label), *cells)
    return table


_ROWS = (
    "batch size",
    "service time",
    "per replica",
    "replicas",
    "before headroom",
    "utilisation",
    "P(wait)",
    "mean wait",
    "{label} wait",
    "{label} latency",
    "in system (Little)",
    "sqrt-staffing beta",
)


def _plain_column(plan: CapacityPlan) -> list[str]:
    if not plan.feasible:
        return [_NONE, _ms(plan.service_s), _NONE, "infeasible", *[_NONE] * 8]
    return [
        "1",
        _ms(plan.service_s),
        f"{1 / plan.service_s:.4g} req/s",
        str(plan.replicas),
        str(plan.required_replicas) if plan.headroom > 1 else _NONE,
        f"{plan.utilization:.2f}",
        f"{plan.p_wait:.2f}",
        _ms(plan.mean_wait_s),
        _ms(plan.wait_quantile_s),
        _ms(plan.wait_quantile_s + plan.service_s),
        f"{plan.in_system:.4g}",
        _NONE if plan.sqrt_staffing_beta is None else f"{plan.sqrt_staffing_beta:.2f}",
    ]


def _batching_column(plan: BatchingPlan) -> list[str]:
    if not plan.feasible:
        return [_NONE, _NONE, _NONE, "infeasible", *[_NONE] * 8]
    batch_s = plan.batch_latency_ms / 1000
    return [
        str(plan.batch_size),
        _ms(batch_s),
        f"{plan.throughput_rps:.4g} req/s",
        str(plan.replicas),
        str(plan.required_replicas) if plan.headroom > 1 else _NONE,
        f"{plan.utilization:.2f}",
        _NONE,
        f"≤ {_ms(batch_s)}",
        f"≤ {_ms(batch_s)}",
        f"≤ {_ms(2 * batch_s)}",
        _NONE,
        _NONE,
    ]
