"""What the planner measures for a placement, and the objectives ranked on.

``Metrics`` holds one placement's numbers in one network scenario (``evaluate.py``
computes them). An objective is a named number read off them, minimised or maximised:
``latency_worst``, ``operator_usd``, ``<device>_energy``, ``offline``, … (``OBJECTIVES``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from roost.errors import ConfigError
from roost.plan.pareto import Sense
from roost.plan.placement import Placement
from roost.plan.spec import Interval, LatencyRequirement, Spec

__all__ = [
    "GB",
    "MB",
    "OBJECTIVES",
    "Metrics",
    "PathLatency",
    "Replicas",
    "objective_sense",
    "objective_value",
]

GB = 1e9
MB = 1e6


@dataclass(frozen=True, slots=True)
class PathLatency:
    """One latency requirement's path: its expected latency, and the bound checked against it."""

    requirement: LatencyRequirement
    #: the expectation over a cache's hits and misses (the plain latency otherwise)
    expected: Interval
    #: the worst over hits and misses, as a hard limit sees it
    bound: Interval

    @property
    def is_met(self) -> bool:
        """Whether the bound's ``case`` is within ``max_s``."""
        value = self.bound.worst if self.requirement.case == "worst" else self.bound.best
        return value <= self.requirement.max_s + 1e-12


@dataclass(frozen=True, slots=True)
class Replicas:
    """The replicas one server-hosted component needs, at average and at peak load."""

    component: str
    location: str
    #: the share of requests that reach it here (below 1 behind a cache)
    share: float
    average: int
    peak: int
    usd_month_average: float
    usd_month_peak: float


@dataclass(frozen=True, slots=True)
class Metrics:
    """Everything the planner computes for one placement in one network scenario."""

    placement: Placement
    scenario: str
    #: why the placement is infeasible; empty when it is feasible
    reasons: tuple[str, ...]
    latencies: tuple[PathLatency, ...]
    link_utilization: Mapping[str, float]
    link_bytes_per_user_month: Mapping[str, float]
    #: bytes per user per month on links with a cloud or edge end
    wan_bytes_per_user_month: float
    user_usd_month: float
    #: joules per request on each battery device
    energy_j: Mapping[str, float]
    average_power_w: Mapping[str, float]
    battery_h: Mapping[str, float]
    replicas: tuple[Replicas, ...]
    operator_usd_month_average: float
    operator_usd_month_peak: float
    update_bytes_month: float
    #: seconds to push the largest device-side model over the slowest hop (None: none to push)
    update_push_s: float | None
    update_lag: int
    offline_coverage: float
    telemetry: int
    #: sampled raw inputs uploaded per user per month (``telemetry.sample_rate``)
    telemetry_bytes_per_user_month: float
    sensitive_bytes_per_request: float
    sensitive_bytes_per_user_month: float
    #: bytes sent into cloud or edge locations per month, over the whole fleet
    to_server_bytes_month: float
    ram_bytes: Mapping[str, float]
    accuracy: float | None

    @property
    def is_feasible(self) -> bool:
        """Whether the placement breaks no hard constraint."""
        return not self.reasons

    @property
    def latency(self) -> Interval:
        """The expected latency of the slowest required path (0 when none is required)."""
        best = max((p.expected.best for p in self.latencies), default=0.0)
        worst = max((p.expected.worst for p in self.latencies), default=0.0)
        return Interval(best, worst)

    @property
    def soft_misses(self) -> tuple[LatencyRequirement, ...]:
        """The soft latency targets this placement misses."""
        return tuple(
            p.requirement for p in self.latencies if not p.requirement.is_hard and not p.is_met
        )

    @property
    def distribution_bytes_month(self) -> float:
        """Hulten's cost of distributing: model updates plus the inputs sent to servers."""
        return self.update_bytes_month + self.to_server_bytes_month

    @property
    def update_gb_month(self) -> float:
        """``update_bytes_month`` in GB."""
        return self.update_bytes_month / GB


# ----------------------------------------------------------------------- objectives


#: the objectives by name, each with its sense; ``<location>_energy`` is added per device
OBJECTIVES: dict[str, Sense] = {
    "latency_worst": "min",
    "latency_best": "min",
    "energy": "min",
    "user_data_usd": "min",
    "operator_usd": "min",
    "operator_usd_peak": "min",
    "update_gb": "min",
    "update_lag": "min",
    "wan_mb": "min",
    "offline": "max",
    "telemetry": "max",
    "sensitive_bytes": "min",
    "accuracy": "max",
}


def objective_sense(spec: Spec, name: str) -> Sense:
    """Whether ``name`` is minimised or maximised.

    Raises:
        ConfigError: no objective has that name.
    """
    if name in OBJECTIVES:
        return OBJECTIVES[name]
    location = name.removesuffix("_energy")
    if name.endswith("_energy") and location in spec.locations:
        return "min"
    devices = [f"{n}_energy" for n, loc in spec.locations.items() if not loc.is_server]
    known = ", ".join([*OBJECTIVES, *devices])
    raise ConfigError(f"objective {name!r} not known (known: {known})")


_VALUES: dict[str, Callable[[Metrics], float]] = {
    "latency_worst": lambda m: m.latency.worst,
    "latency_best": lambda m: m.latency.best,
    "energy": lambda m: sum(m.energy_j.values()),
    "user_data_usd": lambda m: m.user_usd_month,
    "operator_usd": lambda m: m.operator_usd_month_average,
    "operator_usd_peak": lambda m: m.operator_usd_month_peak,
    "update_gb": lambda m: m.update_gb_month,
    "update_lag": lambda m: float(m.update_lag),
    "wan_mb": lambda m: m.wan_bytes_per_user_month / MB,
    "offline": lambda m: m.offline_coverage,
    "telemetry": lambda m: float(m.telemetry),
    "sensitive_bytes": lambda m: m.sensitive_bytes_per_request,
    "accuracy": lambda m: 1.0 if m.accuracy is None else m.accuracy,
}


def objective_value(metrics: Metrics, name: str) -> float:
    """The value of objective ``name`` for ``metrics`` (unknown names raise KeyError).

    ``<location>_energy`` is the energy per request at that location (0 if none).
    """
    if name in _VALUES:
        return _VALUES[name](metrics)
    if name.endswith("_energy"):
        return metrics.energy_j.get(name.removesuffix("_energy"), 0.0)
    raise KeyError(name)
