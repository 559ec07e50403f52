"""Read a system spec from YAML into ``spec.Spec``, naming the line of any mistake.

The YAML is composed into nodes (``yaml.compose``), not loaded into dicts, so that each
value keeps its line: a wrong type, an unknown key or an unknown reference raises
``ConfigError("system.yaml, line 12: components.ocr.variants.default.ram_mb: expected
a size in MB …, got 'lots'")``. Schema errors are ``ConfigError`` (bad input, exit code
2 in the CLI); ``PlanError`` is kept for a valid spec that has no feasible placement.

Units are normalised on the way in. A field's name gives its unit (``ram_mb``,
``bandwidth_bps``, ``one_way_latency_s``), and a plain number is read in it; a string
with a unit overrides it: ``ram_mb: 1 GB``, ``one_way_latency_s: 20 ms``,
``bandwidth_bps: 3 Mbit/s``. Sizes become bytes (decimal: 1 MB = 10⁶ B), times
seconds, rates bits per second. Wherever a ``{best, worst}`` pair is allowed a single
value may stand for both. The schema is in docs/planner.md.

The components section and the flows are read in ``_components.py``.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal, cast

import yaml

from roost.errors import ConfigError
from roost.plan._components import _components, _flows
from roost.plan._yaml import RATE, Field, known
from roost.plan.spec import (
    Capacity,
    Component,
    Flow,
    LatencyRequirement,
    Link,
    Location,
    LocationKind,
    Power,
    Replica,
    Requirement,
    Spec,
    Telemetry,
    Workload,
)

__all__ = ["load_spec", "parse_spec"]

Case = Literal["best", "worst"]
Offline = Literal["required", "preferred", "ignore"]
Sensitive = Literal["allowed", "discouraged", "forbidden"]
Transfer = Literal["store_and_forward", "cut_through"]
# ------------------------------------------------------------------------ sections

_TOP = (
    "version",
    "name",
    "locations",
    "links",
    "network_scenarios",
    "components",
    "flows",
    "workload",
    "requirements",
    "capacity",
    "telemetry",
    "objectives",
    "transfer",
)


def parse_spec(text: str, source: str = "<spec>") -> Spec:
    """Read a spec from YAML text; ``source`` names it in error messages.

    Raises:
        ConfigError: the YAML is malformed, or does not follow the schema; the message
            names the line and the field.

    Example:
        >>> spec = parse_spec('''
        ... locations: {phone: {kind: device, fleet_size: 10}}
        ... components: {model: {variants: {default: {compute_s: {phone: 0.1}}}}}
        ... workload: {requests_per_s_per_active_user: 1, active_s_per_user_per_day: 60}
        ... ''')
        >>> spec.workload.users, spec.components["model"].allowed_at
        (10, ('phone',))
    """
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}{where}: not valid YAML: {problem}") from exc
    if root is None:
        raise ConfigError(f"{source}: expected a system spec, got an empty document")
    top = Field(root, "", source).mapping(_TOP, required=("locations", "components", "workload"))
    if "version" in top and top["version"].integer(1) != 1:
        top["version"].fail("1")
    locations = _locations(top["locations"])
    links = _links(top["links"], locations) if "links" in top else {}
    scenarios = _scenarios(top.get("network_scenarios"), links)
    components = _components(top["components"], locations, scenarios)
    flows = _flows(top["flows"], components) if "flows" in top else ()
    workload = _workload(top["workload"], locations)
    requirements = (
        _requirements(top["requirements"], components, flows)
        if "requirements" in top
        else Requirement()
    )
    capacity = _capacity(top["capacity"]) if "capacity" in top else Capacity()
    telemetry = _telemetry(top["telemetry"], links) if "telemetry" in top else Telemetry()
    name = top["name"].text() if "name" in top else Path(source).stem
    transfer = (
        top["transfer"].choice("store_and_forward", "cut_through")
        if "transfer" in top
        else "store_and_forward"
    )
    with Field(root, "", source).located():
        spec = Spec(
            name=name,
            locations=locations,
            links=links,
            network_scenarios=scenarios,
            components=components,
            flows=flows,
            workload=workload,
            requirements=requirements,
            capacity=capacity,
            telemetry=telemetry,
            transfer=cast(Transfer, transfer),
        )
    if "objectives" in top:
        spec = _with_objectives(spec, top["objectives"])
    return spec


def load_spec(path: str | Path) -> Spec:
    """Read a spec from a YAML file.

    Raises:
        ConfigError: the file does not follow the schema (the message names the line).
        OSError: the file cannot be read.
    """
    path = Path(path)
    return parse_spec(path.read_text(encoding="utf-8"), source=str(path))


def _locations(field: Field) -> dict[str, Location]:
    keys = (
        "kind",
        "fleet_size",
        "ram_available_mb",
        "storage_available_mb",
        "power_w",
        "battery_wh",
        "replica",
        "egress_usd_per_gb",
    )
    result = {}
    for name, entry in field.mapping().items():
        values = entry.mapping(keys, required=("kind",))
        kind = values["kind"].choice("device", "edge", "cloud")
        power = _power(values["power_w"]) if "power_w" in values else None
        replica = None
        if "replica" in values:
            fields = values["replica"].mapping(("name", "usd_per_hour"), required=("usd_per_hour",))
            replica = Replica(
                fields["name"].text() if "name" in fields else "replica",
                fields["usd_per_hour"].number(),
            )
        with entry.located():
            result[name] = Location(
                name=name,
                kind=cast(LocationKind, kind),
                fleet_size=values["fleet_size"].integer(1) if "fleet_size" in values else 1,
                ram_bytes=values["ram_available_mb"].size()
                if "ram_available_mb" in values
                else None,
                storage_bytes=(
                    values["storage_available_mb"].size()
                    if "storage_available_mb" in values
                    else None
                ),
                power=power,
                battery_wh=values["battery_wh"].number() if "battery_wh" in values else None,
                replica=replica,
                egress_usd_per_gb=(
                    values["egress_usd_per_gb"].number() if "egress_usd_per_gb" in values else 0.0
                ),
            )
    if not result:
        field.fail("one or more locations", "none")
    return result


def _power(field: Field) -> Power:
    values = field.mapping(("compute", "radio", "idle"), required=("compute",))
    radio, by_link = 0.0, {}
    if "radio" in values:
        if isinstance(values["radio"].node, yaml.MappingNode):
            by_link = {link: value.number() for link, value in values["radio"].mapping().items()}
        else:
            radio = values["radio"].number()
    idle = values["idle"].number() if "idle" in values else 0.0
    return Power(values["compute"].number(), radio, by_link, idle)


def _links(field: Field, locations: dict[str, Location]) -> dict[str, Link]:
    keys = ("ends", "one_way_latency_s", "bandwidth_bps", "usd_per_gb", "shared")
    result = {}
    for name, entry in field.mapping().items():
        values = entry.mapping(keys, required=("ends", "one_way_latency_s", "bandwidth_bps"))
        ends = values["ends"].names()
        if len(ends) != 2:
            values["ends"].fail("two locations", f"{len(ends)}")
        for end, item in ends:
            known(item, end, locations, "locations")
        with entry.located():
            result[name] = Link(
                name=name,
                ends=(ends[0][0], ends[1][0]),
                one_way_latency_s=values["one_way_latency_s"].interval(),
                bandwidth_bps=values["bandwidth_bps"].number(units=RATE, unit="bps"),
                usd_per_gb=values["usd_per_gb"].number() if "usd_per_gb" in values else 0.0,
                is_shared=values["shared"].boolean() if "shared" in values else False,
            )
    return result


def _scenarios(field: Field | None, links: dict[str, Link]) -> dict[str, tuple[str, ...]]:
    if field is None:
        return {"all": tuple(links)}
    result = {}
    for name, entry in field.mapping().items():
        result[name] = tuple(known(item, link, links, "links") for link, item in entry.names())
    if not result:
        field.fail("one or more scenarios", "none")
    return result


def _workload(field: Field, locations: dict[str, Location]) -> Workload:
    keys = (
        "requests_per_s_per_active_user",
        "active_s_per_user_per_day",
        "days_per_month",
        "peak_concurrent_users",
        "users",
    )
    values = field.mapping(
        keys, required=("requests_per_s_per_active_user", "active_s_per_user_per_day")
    )
    if "users" in values:
        users = values["users"].integer(1)
    else:
        fleets = [loc.fleet_size for loc in locations.values() if loc.kind == "device"]
        if not fleets:
            field.fail("a key 'users' (there is no device location to count them from)", "none")
        users = max(fleets)
    with field.located():
        return Workload(
            requests_per_s_per_active_user=values["requests_per_s_per_active_user"].number(),
            active_s_per_user_per_day=values["active_s_per_user_per_day"].seconds(),
            users=users,
            days_per_month=values["days_per_month"].number()
            if "days_per_month" in values
            else 30.0,
            peak_concurrent_users=(
                values["peak_concurrent_users"].integer(1)
                if "peak_concurrent_users" in values
                else None
            ),
        )


def _downstream(start: str, flows: tuple[Flow, ...]) -> set[str]:
    """The components the flows lead to from ``start``."""
    seen, todo = set(), [start]
    while todo:
        here = todo.pop()
        for flow in flows:
            if flow.source == here and flow.target not in seen:
                seen.add(flow.target)
                todo.append(flow.target)
    return seen


def _requirements(
    field: Field, components: dict[str, Component], flows: tuple[Flow, ...]
) -> Requirement:
    keys = ("latency", "max_link_utilization", "offline", "sensitive_bytes_to_cloud")
    values = field.mapping(keys)
    latency = []
    for item in values["latency"].sequence() if "latency" in values else []:
        entry = item.mapping(("path", "max_s", "case", "hard"), required=("path", "max_s"))
        steps = entry["path"].names()
        path = tuple(known(step, name, components, "components") for name, step in steps)
        for (start, _), (end, step) in itertools.pairwise(steps):
            if end not in _downstream(start, flows):
                step.fail(f"a component the flows lead to from '{start}'", repr(end))
        with item.located():
            latency.append(
                LatencyRequirement(
                    path=path,
                    max_s=entry["max_s"].seconds(),
                    case=cast(
                        Case, entry["case"].choice("best", "worst") if "case" in entry else "worst"
                    ),
                    is_hard=entry["hard"].boolean() if "hard" in entry else True,
                )
            )
    with field.located():
        return Requirement(
            latency=tuple(latency),
            max_link_utilization=(
                values["max_link_utilization"].number() if "max_link_utilization" in values else 1.0
            ),
            offline=cast(Offline, _choice(values, "offline", "required", "preferred", "ignore")),
            sensitive_bytes_to_cloud=cast(
                Sensitive,
                _choice(values, "sensitive_bytes_to_cloud", "allowed", "discouraged", "forbidden"),
            ),
        )


def _capacity(field: Field) -> Capacity:
    numbers = (
        "percentile",
        "arrival_cv2",
        "service_cv2",
        "max_utilization",
        "headroom_factor",
        "hours_per_month",
    )
    keys = ("slo_s", *numbers, "reserve_queue_wait", "batch_profile_ms")
    values = field.mapping(keys)
    if "batch_profile_ms" in values:
        profile = values["batch_profile_ms"]
        if not isinstance(profile.node, yaml.MappingNode) or profile.node.value:
            profile.fail(
                "an empty mapping (batching is planned by `roost plan capacity --profile`)"
            )
    kwargs: dict[str, Any] = {name: values[name].number() for name in numbers if name in values}
    if "slo_s" in values:
        kwargs["slo_s"] = values["slo_s"].seconds()
    if "reserve_queue_wait" in values:
        kwargs["reserve_queue_wait"] = values["reserve_queue_wait"].boolean()
    with field.located():
        return Capacity(**kwargs)


def _choice(values: dict[str, Field], key: str, *allowed: str) -> str:
    """The value of ``key``, one of ``allowed``; the last one when the key is absent."""
    return values[key].choice(*allowed) if key in values else allowed[-1]


def _telemetry(field: Field, links: dict[str, Link]) -> Telemetry:
    values = field.mapping(("sample_rate", "upload_on"))
    upload_on: tuple[str, ...] = ()
    if "upload_on" in values:
        upload_on = tuple(
            known(item, name, links, "links") for name, item in values["upload_on"].names()
        )
    with field.located():
        return Telemetry(
            sample_rate=values["sample_rate"].number() if "sample_rate" in values else 0.0,
            upload_on=upload_on,
        )


def _with_objectives(spec: Spec, field: Field) -> Spec:

    from roost.plan.metrics import objective_sense

    names = []
    for name, item in field.names():
        with item.located():
            objective_sense(spec, name)
        names.append(name)
    if not names:
        field.fail("one or more objectives", "none")
    return replace(spec, objectives=tuple(names))
