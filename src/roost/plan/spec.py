"""The system to place: the whole ``Spec``, its flows, workload and requirements.

Frozen dataclasses, validated in ``__post_init__``; ``load.py`` builds them from YAML
(and names the YAML line of a mistake). Units are normalised here, whatever the YAML
said: sizes in bytes (decimal, 1 MB = 10⁶ B), times in seconds, bandwidth in bits per
second, money in USD. A ``{best, worst}`` pair is an ``Interval``.

Locations, links and ``Interval`` live in ``_infra.py``; components, variants and
patterns in ``_patterns.py``; both are re-exported here.

docs/planner.md walks through a whole spec; the research note behind it is
``placement_planner.md`` §4.2.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from roost.errors import ConfigError
from roost.plan._infra import (
    SERVER_KINDS,
    Interval,
    Link,
    Location,
    LocationKind,
    Power,
    Replica,
    _check,
    _non_negative,
    _positive,
)
from roost.plan._infra import (
    ZERO as ZERO,
)
from roost.plan._patterns import (
    DEVICE_PATTERNS,
    SERVER_PATTERNS,
    CachedPattern,
    Component,
    HybridPattern,
    Pattern,
    PatternKind,
    SimplePattern,
    Variant,
)

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
