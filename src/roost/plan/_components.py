"""The components section of a spec's YAML: components, their variants and patterns, and flows.

Helpers of ``load.parse_spec``; like it, they raise ``ConfigError`` naming the line.
"""

from __future__ import annotations

from typing import Literal, cast

import yaml

from roost.errors import ConfigError
from roost.plan._yaml import RATE, Field, known
from roost.plan.spec import (
    CachedPattern,
    Component,
    Flow,
    HybridPattern,
    Interval,
    Location,
    Pattern,
    SimplePattern,
    Variant,
)

SimpleKind = Literal["static", "client", "server"]


_COMPONENT = (
    "fixed_at",
    "allowed_at",
    "variants",
    "patterns",
    "updates_per_month",
    "latency_budget_s",
)
_VARIANT = ("compute_s", "size_mb", "ram_mb", "accuracy")


def _components(
    field: Field, locations: dict[str, Location], scenarios: dict[str, tuple[str, ...]]
) -> dict[str, Component]:
    result = {}
    for name, entry in field.mapping().items():
        values = entry.mapping(_COMPONENT)
        fixed = None
        if "fixed_at" in values:
            fixed = known(values["fixed_at"], values["fixed_at"].text(), locations, "locations")
            if "allowed_at" in values:
                values["allowed_at"].fail("no allowed_at next to fixed_at", "both")
        if fixed is None and "variants" not in values:
            entry.fail("a key 'variants' (or 'fixed_at' for a fixed part)", "none")
        variants = _variants(values.get("variants"), locations, fixed)
        runs_at = [loc for loc in locations if any(loc in v.compute_s for v in variants)]
        allowed: tuple[str, ...]
        if fixed is not None:
            allowed = (fixed,)
        elif "allowed_at" in values:
            allowed = tuple(_allowed(values["allowed_at"], locations, runs_at))
        else:
            allowed = tuple(runs_at)
        if not allowed:
            entry.fail("a compute_s time for at least one location", "none")
        patterns = (
            _patterns(values["patterns"], locations, scenarios, variants)
            if "patterns" in values
            else (
                SimplePattern("client"),
                SimplePattern("server"),
            )
        )
        with entry.located():
            result[name] = Component(
                name=name,
                allowed_at=allowed,
                variants=variants,
                patterns=patterns,
                updates_per_month=values["updates_per_month"].number()
                if "updates_per_month" in values
                else 0.0,
                latency_budget_s=values["latency_budget_s"].seconds()
                if "latency_budget_s" in values
                else None,
                is_fixed=fixed is not None,
            )
    if not result:
        field.fail("one or more components", "none")
    return result


def _allowed(field: Field, locations: dict[str, Location], runs_at: list[str]) -> list[str]:
    allowed = []
    for location, item in field.names():
        known(item, location, locations, "locations")
        if location not in runs_at:
            item.fail(
                f"a location some variant has a compute_s time for ({', '.join(runs_at)})",
                repr(location),
            )
        allowed.append(location)
    return allowed


def _variants(
    field: Field | None, locations: dict[str, Location], fixed: str | None
) -> tuple[Variant, ...]:
    if field is None:
        if fixed is None:
            raise ConfigError(
                "components: a component that is not fixed_at a location needs variants"
            )
        return (Variant("default", {fixed: Interval(0.0, 0.0)}),)
    result = []
    for name, entry in field.mapping().items():
        values = entry.mapping(_VARIANT)
        compute: dict[str, Interval] = {}
        if "compute_s" in values:
            times = values["compute_s"]
            is_interval = isinstance(times.node, yaml.MappingNode) and {
                str(k.value) for k, _ in times.node.value
            } <= {"best", "worst"}
            if isinstance(times.node, yaml.ScalarNode) or is_interval:
                if fixed is None:
                    times.fail(
                        "a mapping of location to seconds (the component is not fixed_at one)"
                    )
                compute = {fixed: times.interval()}
            else:
                for location, time in times.mapping().items():
                    known(time, location, locations, "locations")
                    compute[location] = time.interval()
        elif fixed is not None:
            compute = {fixed: Interval(0.0, 0.0)}
        accuracy = None
        if "accuracy" in values and values["accuracy"].value() is not None:
            accuracy = values["accuracy"].number()
        with entry.located():
            result.append(
                Variant(
                    name=name,
                    compute_s=compute,
                    size_bytes=values["size_mb"].size() if "size_mb" in values else 0.0,
                    ram_bytes=values["ram_mb"].size() if "ram_mb" in values else 0.0,
                    accuracy=accuracy,
                )
            )
    if not result:
        field.fail("one or more variants", "none")
    return tuple(result)


def _patterns(
    field: Field,
    locations: dict[str, Location],
    scenarios: dict[str, tuple[str, ...]],
    variants: tuple[Variant, ...],
) -> tuple[Pattern, ...]:
    result: list[Pattern] = []
    for item in field.sequence():
        if isinstance(item.node, yaml.ScalarNode):
            kind = item.choice("static", "client", "server")
            result.append(SimplePattern(cast(SimpleKind, kind)))
            continue
        entries = item.mapping(("cached", "hybrid"))
        if len(entries) != 1:
            item.fail("static, client, server, or one of {cached: …}, {hybrid: …}")
        kind, body = next(iter(entries.items()))
        if kind == "cached":
            result.append(_cached(body, locations, variants))
        else:
            result.append(_hybrid(body, locations, scenarios, variants))
    if not result:
        field.fail("one or more patterns", "none")
    return tuple(result)


def _runs(field: Field, location: str, variants: tuple[Variant, ...]) -> None:
    if not any(location in v.compute_s for v in variants):
        field.fail("a location some variant has a compute_s time for", repr(location))


def _cached(
    field: Field, locations: dict[str, Location], variants: tuple[Variant, ...]
) -> CachedPattern:
    keys = ("store_at", "miss_to", "hit_rate", "table_mb", "refresh_per_month", "lookup_s")
    values = field.mapping(keys, required=("store_at", "miss_to", "hit_rate"))
    store_at = known(values["store_at"], values["store_at"].text(), locations, "locations")
    miss_to = known(values["miss_to"], values["miss_to"].text(), locations, "locations")
    _runs(values["miss_to"], miss_to, variants)
    hit_rate = values["hit_rate"].number()
    if hit_rate > 1:
        values["hit_rate"].fail("a share in [0, 1]")
    with field.located():
        return CachedPattern(
            store_at=store_at,
            miss_to=miss_to,
            hit_rate=hit_rate,
            table_bytes=values["table_mb"].size() if "table_mb" in values else 0.0,
            refresh_per_month=values["refresh_per_month"].number()
            if "refresh_per_month" in values
            else 0.0,
            lookup_s=values["lookup_s"].seconds() if "lookup_s" in values else 0.0,
        )


def _hybrid(
    field: Field,
    locations: dict[str, Location],
    scenarios: dict[str, tuple[str, ...]],
    variants: tuple[Variant, ...],
) -> HybridPattern:
    values = field.mapping(
        ("primary", "fallback", "use_primary_in"), required=("primary", "fallback")
    )
    primary = known(values["primary"], values["primary"].text(), locations, "locations")
    fallback = known(values["fallback"], values["fallback"].text(), locations, "locations")
    _runs(values["primary"], primary, variants)
    _runs(values["fallback"], fallback, variants)
    if "use_primary_in" in values:
        use = tuple(
            known(item, name, scenarios, "network scenarios")
            for name, item in values["use_primary_in"].names()
        )
    else:
        use = tuple(name for name in scenarios if name != "offline")
    with field.located():
        return HybridPattern(primary, fallback, use)


def _flows(field: Field, components: dict[str, Component]) -> tuple[Flow, ...]:
    keys = ("name", "from", "to", "bytes", "sensitive", "stream_bps")
    result = []
    for item in field.sequence():
        values = item.mapping(keys, required=("from", "to", "bytes"))
        source = known(values["from"], values["from"].text(), components, "components")
        target = known(values["to"], values["to"].text(), components, "components")
        name = values["name"].text() if "name" in values else f"{source}->{target}"
        with item.located():
            result.append(
                Flow(
                    name=name,
                    source=source,
                    target=target,
                    bytes=values["bytes"].size("B"),
                    is_sensitive=values["sensitive"].boolean() if "sensitive" in values else False,
                    stream_bps=(
                        values["stream_bps"].number(units=RATE, unit="bps")
                        if "stream_bps" in values
                        else None
                    ),
                )
            )
    return tuple(result)
