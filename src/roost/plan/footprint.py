"""A placement's footprint: the memory it takes at each location, and its model updates.

Neither depends on the network scenario. RAM and storage are summed per location (a
cache's table counts where it is stored, a hybrid's model at both of its locations);
update bytes are each model's size × its updates per month × the fleet that holds a
copy (a static model is never updated; a cache's table is refreshed instead).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from roost.plan.placement import Placement
from roost.plan.spec import CachedPattern, HybridPattern, SimplePattern, Spec

__all__ = [
    "accuracy",
    "device_models",
    "memory",
    "memory_reasons",
    "update_bytes",
    "update_lag",
]

MB = 1e6
#: update lag by pattern, an ordinal (Hulten's "latency in updating"): lower is fresher
_LAG = {"server": 0, "client": 1, "cached": 1, "static": 2}


def _add(totals: dict[str, float], key: str, value: float) -> None:
    totals[key] = totals.get(key, 0.0) + value


def memory(spec: Spec, placement: Placement) -> tuple[dict[str, float], dict[str, float]]:
    """RAM and storage used at each location (a cache's table counts at its store)."""
    ram: dict[str, float] = {}
    storage: dict[str, float] = {}
    for assignment in placement.assignments:
        variant = spec.components[assignment.component].variant(assignment.variant)
        pattern = assignment.pattern
        if isinstance(pattern, CachedPattern):
            _add(ram, pattern.store_at, pattern.table_bytes)
            _add(storage, pattern.store_at, pattern.table_bytes)
            where: tuple[str, ...] = (pattern.miss_to,)
        else:
            where = assignment.locations
        for location in where:
            _add(ram, location, variant.ram_bytes)
            _add(storage, location, variant.size_bytes)
    return ram, storage


def memory_reasons(
    spec: Spec, ram: Mapping[str, float], storage: Mapping[str, float], placement: Placement
) -> list[str]:
    reasons = []
    for name, location in spec.locations.items():
        for what, used, available in (
            ("RAM", ram.get(name, 0.0), location.ram_bytes),
            ("storage", storage.get(name, 0.0), location.storage_bytes),
        ):
            if available is not None and used > available + 1e-6:
                parts = ", ".join(
                    f"{component} {size / MB:g} MB"
                    for component, size in _users_of(spec, placement, name, what)
                )
                needed = f"{name} {what} {used / MB:g} MB > {available / MB:g} MB"
                reasons.append(f"{needed} available ({parts})")
    return reasons


def _users_of(
    spec: Spec, placement: Placement, location: str, what: str
) -> list[tuple[str, float]]:
    """(component, bytes) of the components using RAM (or storage) at ``location``."""
    users = []
    for assignment in placement.assignments:
        single = Placement((assignment,))
        ram, storage = memory(spec, single)
        used = (ram if what == "RAM" else storage).get(location, 0.0)
        if used > 0:
            users.append((assignment.component, used))
    return users


def update_bytes(spec: Spec, placement: Placement) -> float:
    total = 0.0
    for assignment in placement.assignments:
        component = spec.components[assignment.component]
        size = component.variant(assignment.variant).size_bytes
        per_month = component.updates_per_month
        pattern = assignment.pattern
        if isinstance(pattern, SimplePattern) and pattern.kind == "static":
            continue
        if isinstance(pattern, CachedPattern):
            fleet = spec.locations[pattern.store_at].fleet_size
            total += pattern.table_bytes * pattern.refresh_per_month * fleet
            total += size * per_month * spec.locations[pattern.miss_to].fleet_size
            continue
        for location in assignment.locations:
            total += size * per_month * spec.locations[location].fleet_size
    return total


def device_models(spec: Spec, placement: Placement) -> list[tuple[str, float]]:
    """(location, bytes) of every model or table kept on a device and updated there."""
    models = []
    for assignment in placement.assignments:
        size = spec.components[assignment.component].variant(assignment.variant).size_bytes
        pattern = assignment.pattern
        if isinstance(pattern, SimplePattern) and pattern.kind == "static":
            continue
        if isinstance(pattern, CachedPattern):
            models.append((pattern.store_at, pattern.table_bytes))
            continue
        models += [(loc, size) for loc in assignment.locations if not spec.locations[loc].is_server]
    return [(loc, size) for loc, size in models if size > 0]


def update_lag(spec: Spec, placement: Placement) -> int:
    lag = 0
    for assignment in placement.assignments:
        if spec.components[assignment.component].variant(assignment.variant).size_bytes <= 0:
            continue
        pattern = assignment.pattern
        if isinstance(pattern, HybridPattern):
            kinds = [
                "server" if spec.locations[loc].is_server else "client"
                for loc in assignment.locations
            ]
            lag += max(_LAG[k] for k in kinds)
        else:
            lag += _LAG[pattern.kind]
    return lag


def accuracy(spec: Spec, placement: Placement) -> float | None:
    values = [
        variant.accuracy
        for a in placement.assignments
        if (variant := spec.components[a.component].variant(a.variant)).accuracy is not None
    ]
    return math.prod(values) if values else None
