"""A placement: for each component, where it runs, in which pattern and which variant.

A composite pattern runs in more than one place: a ``cached`` component answers at its
table with probability ``hit_rate`` and goes on to ``miss_to`` otherwise; a ``hybrid``
runs at its primary in some network scenarios and at its fallback in the others.
``options`` turns one assignment into the ways it can run in a scenario, each with
its probability; ``evaluate.py`` takes expectations over them.
"""

from __future__ import annotations

from dataclasses import dataclass

from roost.plan.spec import (
    CachedPattern,
    HybridPattern,
    Interval,
    Pattern,
    SimplePattern,
    Spec,
    Variant,
)

__all__ = ["Assignment", "Option", "Placement", "options"]

#: the scenario name a hybrid is evaluated under when the internet is gone
OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class Assignment:
    """Where one component runs (a cache's table, a hybrid's primary), its pattern and variant."""

    component: str
    location: str
    pattern: Pattern
    variant: str = "default"

    @property
    def locations(self) -> tuple[str, ...]:
        """Every location this assignment occupies (both ends of a cache or a hybrid)."""
        if isinstance(self.pattern, CachedPattern):
            return (self.pattern.store_at, self.pattern.miss_to)
        if isinstance(self.pattern, HybridPattern):
            return (self.pattern.primary, self.pattern.fallback)
        return (self.location,)

    def describe(self) -> str:
        """``ocr@glasses (client)``, ``translate cached@phone, miss→cloud``, …"""
        pattern = self.pattern
        variant = "" if self.variant == "default" else f" [{self.variant}]"
        if isinstance(pattern, CachedPattern):
            text = f"{self.component} cached@{pattern.store_at}, miss→{pattern.miss_to}"
        elif isinstance(pattern, HybridPattern):
            text = f"{self.component} hybrid {pattern.primary}|{pattern.fallback}"
        else:
            text = f"{self.component}@{self.location} ({pattern.kind})"
        return text + variant


@dataclass(frozen=True, slots=True)
class Placement:
    """An assignment for every component, in the spec's topological order."""

    assignments: tuple[Assignment, ...]

    def of(self, component: str) -> Assignment:
        """The assignment of ``component``."""
        for assignment in self.assignments:
            if assignment.component == component:
                return assignment
        raise KeyError(component)

    def describe(self) -> str:
        """Every assignment, comma-separated."""
        return ", ".join(a.describe() for a in self.assignments)


@dataclass(frozen=True, slots=True)
class Option:
    """One way an assignment runs in a scenario, with its probability."""

    probability: float
    location: str
    compute: Interval
    variant: Variant
    #: inbound flows pass here first (a cache miss goes through the table)
    via: str | None = None


def _compute(spec: Spec, variant: Variant, location: str) -> Interval:
    """The variant's compute time at ``location``, with the reserved queueing wait if asked."""
    compute = variant.compute_s[location]
    capacity = spec.capacity
    if capacity.reserve_queue_wait and spec.locations[location].is_server:
        reserve = max(0.0, capacity.slo_s - compute.worst)
        return Interval(compute.best, compute.worst + reserve)
    return compute


def options(spec: Spec, assignment: Assignment, scenario: str) -> tuple[Option, ...]:
    """The ways ``assignment`` runs in ``scenario``, with probabilities that sum to 1."""
    component = spec.components[assignment.component]
    variant = component.variant(assignment.variant)
    pattern = assignment.pattern
    if isinstance(pattern, CachedPattern):
        lookup = Interval.exactly(pattern.lookup_s)
        hit = Option(pattern.hit_rate, pattern.store_at, lookup, variant)
        miss = Option(
            1 - pattern.hit_rate,
            pattern.miss_to,
            _compute(spec, variant, pattern.miss_to) + lookup,
            variant,
            via=pattern.store_at,
        )
        return tuple(option for option in (hit, miss) if option.probability > 0)
    if isinstance(pattern, HybridPattern):
        where = pattern.primary if scenario in pattern.use_primary_in else pattern.fallback
        return (Option(1.0, where, _compute(spec, variant, where), variant),)
    if not isinstance(pattern, SimplePattern):  # pragma: no cover - the union is exhaustive
        raise TypeError(pattern)
    location = assignment.location
    return (Option(1.0, location, _compute(spec, variant, location), variant),)
