"""How a component can run: its variants, its patterns (simple, cached, hybrid), itself.

Frozen dataclasses, validated in ``__post_init__``; ``spec.py`` re-exports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from roost.errors import ConfigError
from roost.plan._infra import Interval, _check, _non_negative, _positive

PatternKind = Literal["static", "client", "server", "cached", "hybrid"]

#: the simple patterns allowed on a device, and on a server
DEVICE_PATTERNS: frozenset[str] = frozenset({"static", "client"})
SERVER_PATTERNS: frozenset[str] = frozenset({"server"})


@dataclass(frozen=True, slots=True)
class Variant:
    """One way to build a component: its compute time per location, size and accuracy."""

    name: str
    #: seconds per request at each location it can run at; absent: it cannot run there
    compute_s: Mapping[str, Interval]
    size_bytes: float = 0.0
    ram_bytes: float = 0.0
    accuracy: float | None = None

    def __post_init__(self) -> None:
        _non_negative(f"variants.{self.name}.size_mb", self.size_bytes)
        _non_negative(f"variants.{self.name}.ram_mb", self.ram_bytes)
        if self.accuracy is not None:
            _non_negative(f"variants.{self.name}.accuracy", self.accuracy)


@dataclass(frozen=True, slots=True)
class SimplePattern:
    """Hulten's static (bundled, never updated), client (on device, updated) or server."""

    kind: Literal["static", "client", "server"]

    def __post_init__(self) -> None:
        _check(
            self.kind in ("static", "client", "server"),
            "pattern",
            "static, client or server",
            self.kind,
        )


@dataclass(frozen=True, slots=True)
class CachedPattern:
    """A table of precomputed answers at ``store_at``; a miss goes on to ``miss_to``."""

    store_at: str
    miss_to: str
    hit_rate: float
    table_bytes: float = 0.0
    refresh_per_month: float = 0.0
    lookup_s: float = 0.0
    kind: Literal["cached"] = "cached"

    def __post_init__(self) -> None:
        _check(0 <= self.hit_rate <= 1, "cached.hit_rate", "a share in [0, 1]", self.hit_rate)
        _non_negative("cached.table_mb", self.table_bytes)
        _non_negative("cached.refresh_per_month", self.refresh_per_month)
        _non_negative("cached.lookup_s", self.lookup_s)


@dataclass(frozen=True, slots=True)
class HybridPattern:
    """Runs at ``primary`` in the scenarios in ``use_primary_in``, at ``fallback`` elsewhere."""

    primary: str
    fallback: str
    use_primary_in: tuple[str, ...]
    kind: Literal["hybrid"] = "hybrid"

    def __post_init__(self) -> None:
        _check(self.primary != self.fallback, "hybrid", "primary != fallback", self.primary)


Pattern = SimplePattern | CachedPattern | HybridPattern


@dataclass(frozen=True, slots=True)
class Component:
    """A step of the request: a model, or a fixed part such as a camera or a renderer."""

    name: str
    #: where it may run; a fixed component has exactly one location
    allowed_at: tuple[str, ...]
    variants: tuple[Variant, ...]
    patterns: tuple[Pattern, ...]
    updates_per_month: float = 0.0
    #: a hard limit on the loop through this component (inbound flow, compute, outbound flow)
    latency_budget_s: float | None = None
    is_fixed: bool = False

    def __post_init__(self) -> None:
        _check(len(self.allowed_at) >= 1, f"components.{self.name}.allowed_at", "a location", ())
        _check(len(self.variants) >= 1, f"components.{self.name}.variants", "a variant", ())
        _check(len(self.patterns) >= 1, f"components.{self.name}.patterns", "a pattern", ())
        _non_negative(f"components.{self.name}.updates_per_month", self.updates_per_month)
        if self.latency_budget_s is not None:
            _positive(f"components.{self.name}.latency_budget_s", self.latency_budget_s)

    def variant(self, name: str) -> Variant:
        """The variant called ``name``."""
        for variant in self.variants:
            if variant.name == name:
                return variant
        known = ", ".join(v.name for v in self.variants)
        raise ConfigError(f"component {self.name!r} has no variant {name!r} (known: {known})")
