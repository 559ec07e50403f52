"""The system to place: locations, links, components, flows, workload and requirements.

Frozen dataclasses, validated in ``__post_init__``; ``load.py`` builds them from YAML
(and names the YAML line of a mistake). Units are normalised here, whatever the YAML
said: sizes in bytes (decimal, 1 MB = 10⁶ B), times in seconds, bandwidth in bits per
second, money in USD. A ``{best, worst}`` pair is an ``Interval``.

docs/planner.md walks through a whole spec; the research note behind it is
``placement_planner.md`` §4.2.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from roost.errors import ConfigError

__all__ = [
    "DEVICE_PATTERNS",
    "SERVER_KINDS",
    "SERVER_PATTERNS",
    "CachedPattern",
    "Capacity",
    "Component",
    "Flow",
    "HybridPattern",
    "Interval",
    "LatencyRequirement",
    "Link",
    "Location",
    "LocationKind",
    "Pattern",
    "PatternKind",
    "Power",
    "Replica",
    "Requirement",
    "SimplePattern",
    "Spec",
    "Telemetry",
    "Variant",
    "Workload",
    "topological_order",
]

LocationKind = Literal["device", "edge", "cloud"]
PatternKind = Literal["static", "client", "server", "cached", "hybrid"]

#: location kinds that run replicas an operator pays for
SERVER_KINDS: frozenset[str] = frozenset({"edge", "cloud"})
#: the simple patterns allowed on a device, and on a server
DEVICE_PATTERNS: frozenset[str] = frozenset({"static", "client"})
SERVER_PATTERNS: frozenset[str] = frozenset({"server"})


_REAL = (float, int)


def _check(is_ok: bool, name: str, expected: str, value: object) -> None:
    """Raise ``ConfigError("NAME: expected …, got …")`` unless ``is_ok``."""
    if not is_ok:
        raise ConfigError(f"{name}: expected {expected}, got {value!r}")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _non_negative(name: str, value: float) -> None:
    _check(_is_number(value) and value >= 0, name, "a finite number >= 0", value)


def _positive(name: str, value: float) -> None:
    _check(_is_number(value) and value > 0, name, "a finite number > 0", value)


@dataclass(frozen=True, slots=True)
class Interval:
    """A value known to lie between ``best`` and ``worst`` (both >= 0, best <= worst)."""

    best: float
    worst: float

    def __post_init__(self) -> None:
        best, worst = self.best, self.worst
        # the fast path: the planner makes hundreds of thousands of these
        if type(best) in _REAL and type(worst) in _REAL and 0 <= best <= worst:
            return
        # infinite is allowed: the time of a flow that has no route
        for name in ("best", "worst"):
            value = getattr(self, name)
            is_ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
            _check(is_ok, name, "a number >= 0", value)
        _check(self.best <= self.worst, "interval", "best <= worst", (self.best, self.worst))

    @classmethod
    def exactly(cls, value: float) -> Interval:
        """The interval holding one value."""
        return cls(value, value)

    def __add__(self, other: Interval) -> Interval:
        return Interval(self.best + other.best, self.worst + other.worst)


ZERO = Interval(0.0, 0.0)


@dataclass(frozen=True, slots=True)
class Power:
    """A battery device's power draw in watts: computing, with a radio on, and idle."""

    compute_w: float
    #: the radio's draw on any link not named in ``radio_w_by_link``
    radio_w: float = 0.0
    radio_w_by_link: Mapping[str, float] = field(default_factory=dict)
    idle_w: float = 0.0

    def __post_init__(self) -> None:
        _non_negative("power_w.compute", self.compute_w)
        _non_negative("power_w.radio", self.radio_w)
        _non_negative("power_w.idle", self.idle_w)
        for link, watts in self.radio_w_by_link.items():
            _non_negative(f"power_w.radio.{link}", watts)

    def radio_on(self, link: str) -> float:
        """The radio's draw, in watts, while it sends or receives on ``link``."""
        return self.radio_w_by_link.get(link, self.radio_w)


@dataclass(frozen=True, slots=True)
class Replica:
    """The server type a cloud or edge location runs models on, and its price."""

    name: str
    usd_per_hour: float

    def __post_init__(self) -> None:
        _non_negative("replica.usd_per_hour", self.usd_per_hour)


@dataclass(frozen=True, slots=True)
class Location:
    """A place components can run: a device kind (a fleet of them), an edge site or a cloud.

    ``ram_bytes`` and ``storage_bytes`` of None mean unconstrained (a cloud).
    """

    name: str
    kind: LocationKind
    #: how many of these exist; drives the volume of model updates (devices only)
    fleet_size: int = 1
    ram_bytes: float | None = None
    storage_bytes: float | None = None
    power: Power | None = None
    battery_wh: float | None = None
    replica: Replica | None = None
    egress_usd_per_gb: float = 0.0

    def __post_init__(self) -> None:
        _check(self.kind in ("device", "edge", "cloud"), "kind", "device, edge or cloud", self.kind)
        _check(
            isinstance(self.fleet_size, int) and self.fleet_size >= 1,
            f"locations.{self.name}.fleet_size",
            "an int >= 1",
            self.fleet_size,
        )
        for name in ("ram_bytes", "storage_bytes", "battery_wh"):
            value = getattr(self, name)
            if value is not None:
                _non_negative(f"locations.{self.name}.{name}", value)
        _non_negative(f"locations.{self.name}.egress_usd_per_gb", self.egress_usd_per_gb)

    @property
    def is_server(self) -> bool:
        """Whether this location runs replicas an operator pays for (edge or cloud)."""
        return self.kind in SERVER_KINDS


@dataclass(frozen=True, slots=True)
class Link:
    """An undirected network link between two locations."""

    name: str
    ends: tuple[str, str]
    one_way_latency_s: Interval
    bandwidth_bps: float
    usd_per_gb: float = 0.0
    #: whether all concurrent users share the link (utilisation is then multiplied by them)
    is_shared: bool = False

    def __post_init__(self) -> None:
        _check(
            len(self.ends) == 2 and self.ends[0] != self.ends[1],
            f"links.{self.name}.ends",
            "two different locations",
            self.ends,
        )
        _positive(f"links.{self.name}.bandwidth_bps", self.bandwidth_bps)
        _non_negative(f"links.{self.name}.usd_per_gb", self.usd_per_gb)

    def other_end(self, location: str) -> str:
        """The end of the link that is not ``location``."""
        return self.ends[1] if self.ends[0] == location else self.ends[0]


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


@dataclass(frozen=True, slots=True)
class Flow:
    """Data sent from one component to the next for each request (an edge of the DAG)."""

    name: str
    source: str
    target: str
    bytes: float
    is_sensitive: bool = False
    #: a continuous stream (video) of this many bits per second while a user is active
    stream_bps: float | None = None

    def __post_init__(self) -> None:
        _non_negative(f"flows.{self.name}.bytes", self.bytes)
        if self.stream_bps is not None:
            _positive(f"flows.{self.name}.stream_bps", self.stream_bps)


@dataclass(frozen=True, slots=True)
class Workload:
    """How much each user asks for, how many users there are, and the peak."""

    requests_per_s_per_active_user: float
    active_s_per_user_per_day: float
    users: int
    days_per_month: float = 30.0
    peak_concurrent_users: int | None = None

    def __post_init__(self) -> None:
        _positive("workload.requests_per_s_per_active_user", self.requests_per_s_per_active_user)
        _check(
            0 <= self.active_s_per_user_per_day <= 86_400,
            "workload.active_s_per_user_per_day",
            "seconds in [0, 86400]",
            self.active_s_per_user_per_day,
        )
        _check(self.users >= 1, "workload.users", "an int >= 1", self.users)
        _positive("workload.days_per_month", self.days_per_month)
        if self.peak_concurrent_users is not None:
            _check(
                self.peak_concurrent_users >= 1,
                "workload.peak_concurrent_users",
                "an int >= 1",
                self.peak_concurrent_users,
            )

    @property
    def requests_per_user_month(self) -> float:
        """Requests one user makes in a month."""
        per_day = self.requests_per_s_per_active_user * self.active_s_per_user_per_day
        return per_day * self.days_per_month

    @property
    def average_rps(self) -> float:
        """Requests per second over the whole fleet, averaged over the day."""
        per_day = self.requests_per_s_per_active_user * self.active_s_per_user_per_day
        return self.users * per_day / 86_400

    @property
    def peak_rps(self) -> float:
        """Requests per second at the peak (the average when no peak is given)."""
        if self.peak_concurrent_users is None:
            return self.average_rps
        return self.peak_concurrent_users * self.requests_per_s_per_active_user


@dataclass(frozen=True, slots=True)
class LatencyRequirement:
    """A limit on the latency of a path of components (the critical path between them)."""

    path: tuple[str, ...]
    max_s: float
    case: Literal["best", "worst"] = "worst"
    is_hard: bool = True

    def __post_init__(self) -> None:
        _check(len(self.path) >= 1, "latency.path", "one or more components", self.path)
        _positive("latency.max_s", self.max_s)
        _check(self.case in ("best", "worst"), "latency.case", "best or worst", self.case)

    @property
    def label(self) -> str:
        """The path as ``camera → … → renderer``."""
        return " → ".join(self.path)


@dataclass(frozen=True, slots=True)
class Requirement:
    """What a placement must (hard) or should (soft, preferred) do."""

    latency: tuple[LatencyRequirement, ...] = ()
    max_link_utilization: float = 1.0
    offline: Literal["required", "preferred", "ignore"] = "ignore"
    sensitive_bytes_to_cloud: Literal["allowed", "discouraged", "forbidden"] = "allowed"

    def __post_init__(self) -> None:
        _positive("requirements.max_link_utilization", self.max_link_utilization)
        _check(
            self.offline in ("required", "preferred", "ignore"),
            "requirements.offline",
            "required, preferred or ignore",
            self.offline,
        )
        _check(
            self.sensitive_bytes_to_cloud in ("allowed", "discouraged", "forbidden"),
            "requirements.sensitive_bytes_to_cloud",
            "allowed, discouraged or forbidden",
            self.sensitive_bytes_to_cloud,
        )


@dataclass(frozen=True, slots=True)
class Capacity:
    """How server-hosted components are sized (``roost.plan.capacity.replicas_for``)."""

    slo_s: float = 0.100
    percentile: float = 0.99
    arrival_cv2: float = 1.0
    service_cv2: float = 1.0
    max_utilization: float = 1.0
    headroom_factor: float = 1.0
    #: add the reserved queueing wait (slo_s - service time) to server compute in latencies
    reserve_queue_wait: bool = False
    hours_per_month: float = 730.0

    def __post_init__(self) -> None:
        _positive("capacity.slo_s", self.slo_s)
        _check(0 < self.percentile < 1, "capacity.percentile", "in (0, 1)", self.percentile)
        _non_negative("capacity.arrival_cv2", self.arrival_cv2)
        _non_negative("capacity.service_cv2", self.service_cv2)
        _check(
            0 < self.max_utilization <= 1,
            "capacity.max_utilization",
            "in (0, 1]",
            self.max_utilization,
        )
        _check(self.headroom_factor >= 1, "capacity.headroom_factor", ">= 1", self.headroom_factor)
        _positive("capacity.hours_per_month", self.hours_per_month)


@dataclass(frozen=True, slots=True)
class Telemetry:
    """Sampled uploads of device-side inputs, for placements that keep them on the device."""

    sample_rate: float = 0.0
    upload_on: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check(0 <= self.sample_rate <= 1, "telemetry.sample_rate", "in [0, 1]", self.sample_rate)


@dataclass(frozen=True, slots=True)
class Spec:
    """A whole system to place. ``load.load_spec`` reads one from YAML.

    Mappings keep the YAML's order; the first network scenario is the default one.
    """

    name: str
    locations: Mapping[str, Location]
    links: Mapping[str, Link]
    network_scenarios: Mapping[str, tuple[str, ...]]
    components: Mapping[str, Component]
    flows: tuple[Flow, ...]
    workload: Workload
    requirements: Requirement = field(default_factory=Requirement)
    capacity: Capacity = field(default_factory=Capacity)
    telemetry: Telemetry = field(default_factory=Telemetry)
    objectives: tuple[str, ...] = ("latency_worst", "operator_usd")
    #: store_and_forward: each hop sends the whole object; cut_through: serialise once
    transfer: Literal["store_and_forward", "cut_through"] = "store_and_forward"

    def __post_init__(self) -> None:
        _check(len(self.locations) >= 1, "locations", "one or more", {})
        topological_order(tuple(self.components), self.flows)
        _check(len(self.components) >= 1, "components", "one or more", {})
        _check(len(self.network_scenarios) >= 1, "network_scenarios", "one or more", {})
        for link in self.links.values():
            for end in link.ends:
                _check(end in self.locations, f"links.{link.name}.ends", "known locations", end)
        for scenario, links in self.network_scenarios.items():
            for link_name in links:
                _check(
                    link_name in self.links,
                    f"network_scenarios.{scenario}",
                    "known links",
                    link_name,
                )
        for component in self.components.values():
            for where in component.allowed_at:
                _check(
                    where in self.locations,
                    f"components.{component.name}.allowed_at",
                    "known locations",
                    where,
                )
        for flow in self.flows:
            for end in (flow.source, flow.target):
                _check(end in self.components, f"flows.{flow.name}", "known components", end)
        for requirement in self.requirements.latency:
            for name in requirement.path:
                _check(
                    name in self.components, "requirements.latency.path", "known components", name
                )

    @property
    def default_scenario(self) -> str:
        """The first network scenario listed."""
        return next(iter(self.network_scenarios))

    def scenario_links(self, scenario: str) -> tuple[Link, ...]:
        """The links that are up in ``scenario``."""
        if scenario not in self.network_scenarios:
            known = ", ".join(self.network_scenarios)
            raise ConfigError(f"network scenario {scenario!r} not found (known: {known})")
        return tuple(self.links[name] for name in self.network_scenarios[scenario])

    def offline_links(self) -> tuple[Link, ...]:
        """The links up without the internet: the ``offline`` scenario, else device-to-device."""
        if "offline" in self.network_scenarios:
            return self.scenario_links("offline")
        return tuple(
            link
            for link in self.links.values()
            if all(not self.locations[end].is_server for end in link.ends)
        )


def topological_order(components: tuple[str, ...], flows: tuple[Flow, ...]) -> tuple[str, ...]:
    """The components in an order where every flow goes forwards; ties keep the given order.

    Raises:
        ConfigError: the flows form a cycle.
    """
    indegree = dict.fromkeys(components, 0)
    for flow in flows:
        indegree[flow.target] = indegree.get(flow.target, 0) + 1
    order: list[str] = []
    ready = [name for name in components if indegree[name] == 0]
    while ready:
        name = ready.pop(0)
        order.append(name)
        for flow in flows:
            if flow.source == name:
                indegree[flow.target] -= 1
                if indegree[flow.target] == 0:
                    ready.append(flow.target)
        ready.sort(key=components.index)
    if len(order) != len(components):
        cycle = sorted(name for name in components if name not in order)
        raise ConfigError(f"flows: expected no cycle, got one through {', '.join(cycle)}")
    return tuple(order)
