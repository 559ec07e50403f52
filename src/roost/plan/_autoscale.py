"""Autoscaler settings from capacity plans: the HPA's rule, and minReplicas, maxReplicas, target.

docs/capacity.md explains the mapping from a plan to ``minReplicas``, ``maxReplicas`` and a
per-pod target, and where the HPA's dead band bites.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from roost.errors import PlanError
from roost.plan.capacity import _is_number, _require

if TYPE_CHECKING:
    from roost.plan._batching import BatchingPlan
    from roost.plan.capacity import CapacityPlan

__all__ = ["AutoscalerSettings", "autoscaler_settings", "hpa_desired_replicas"]


def hpa_desired_replicas(current: int, metric: float, target: float, tolerance: float = 0.1) -> int:
    """The replica count a Kubernetes HorizontalPodAutoscaler asks for.

    ``ceil(current × metric / target)``, except that nothing changes while the ratio
    ``metric / target`` is within ``1 ± tolerance`` (the controller's default 0.1).

    Args:
        current: the replicas running now, 0 or more.
        metric: the metric's current value per pod (CPU %, requests per second…), 0 or more.
        target: the metric's target value per pod, above 0.
        tolerance: the dead band around a ratio of 1, 0 or more.

    Raises:
        ConfigError: an argument out of range.

    Example:
        >>> hpa_desired_replicas(50, 90, 75), hpa_desired_replicas(50, 80, 75)
        (60, 50)
    """
    is_count = isinstance(current, int) and not isinstance(current, bool) and current >= 0
    _require(is_count, "current", "an int >= 0", current)
    _require(_is_number(metric) and metric >= 0, "metric", "a finite number >= 0", metric)
    _require(_is_number(target) and target > 0, "target", "a number > 0", target)
    _require(_is_number(tolerance) and tolerance >= 0, "tolerance", "a number >= 0", tolerance)
    if abs(metric / target - 1) <= tolerance:
        return current
    # multiply first, as the controller does: 50 * 90 / 75 is exactly 60
    return math.ceil(current * metric / target)


@dataclass(frozen=True, slots=True)
class AutoscalerSettings:
    """What to give a HorizontalPodAutoscaler that scales on requests per second per pod."""

    #: ``minReplicas``: the low plan's replicas (1, Kubernetes' default, without one)
    min_replicas: int
    #: ``maxReplicas``: the peak plan's replicas, headroom included
    max_replicas: int
    #: the per-pod target for a requests-per-second metric: the peak rate / ``max_replicas``
    target_rps_per_pod: float
    #: rho* * mu: the most a pod carries while the latency target holds at the peak (the
    #: peak rate / ``required_replicas`` for M/M/c; X(b*), saturated, with batching)
    slo_rps_per_pod: float
    #: the HPA's dead band assumed (``--horizontal-pod-autoscaler-tolerance``)
    tolerance: float
    #: warnings a reader should see next to the numbers
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _require(
            1 <= self.min_replicas <= self.max_replicas,
            "min_replicas",
            f"from 1 to max_replicas ({self.max_replicas})",
            self.min_replicas,
        )


def autoscaler_settings(
    peak: CapacityPlan | BatchingPlan,
    low: CapacityPlan | BatchingPlan | None = None,
    *,
    tolerance: float = 0.1,
) -> AutoscalerSettings:
    """Turn a plan for the peak rate (and one for the lowest) into HPA settings.

    ``maxReplicas`` is the peak plan's replicas; ``minReplicas`` the low plan's (or 1).
    The per-pod target is the peak rate spread over ``maxReplicas``, so that at the peak
    the HPA asks for exactly ``maxReplicas``: ``ρ·μ`` (``ρ·X(b*)`` with batching) at the
    peak plan's utilisation. It is at most ``slo_rps_per_pod``, ρ*·μ, the most a pod may
    carry while the target holds; headroom widens the gap.

    Args:
        peak: the plan at the highest rate to serve; feasible, with a rate above 0.
        low: the plan at the lowest rate to serve (or the average), if known.
        tolerance: the HPA's dead band; a pod may carry ``target × (1 + tolerance)``
            before the HPA acts, and a note says so when that exceeds ρ*·μ.

    Raises:
        PlanError: the peak or low plan is infeasible (there are no settings to give).
        ConfigError: the peak rate is 0, the low plan's rate is above the peak's,
            or the tolerance is negative.

    Example:
        >>> from roost.plan import replicas_for
        >>> peak, low = replicas_for(5000, 0.025, 0.1), replicas_for(1041.7, 0.025, 0.1)
        >>> settings = autoscaler_settings(peak, low, tolerance=0.1)
        >>> settings.min_replicas, settings.max_replicas, round(settings.target_rps_per_pod, 1)
        (28, 127, 39.4)
    """
    _require(_is_number(tolerance) and tolerance >= 0, "tolerance", "a number >= 0", tolerance)
    for name, plan in (("peak", peak), ("low", low)):
        if plan is not None and not plan.feasible:
            raise PlanError(f"no autoscaler settings: the {name} plan is infeasible: {plan.reason}")
    _require(peak.rate_rps > 0, "peak.rate_rps", "a rate above 0", peak.rate_rps)
    if low is not None:
        _require(
            low.rate_rps <= peak.rate_rps,
            "low.rate_rps",
            f"at most the peak's {peak.rate_rps:g}",
            low.rate_rps,
        )
    slo_rps = peak.slo_rps_per_replica
    target = peak.rate_rps / peak.replicas
    notes = []
    if low is None:
        notes.append(
            "minReplicas is 1 (Kubernetes' default): give the lowest rate to size it, "
            "since a pod's start-up and model load delay every scale-up"
        )
    if target * (1 + tolerance) > slo_rps * (1 + 1e-9):
        notes.append(
            f"the HPA waits until a pod carries {target * (1 + tolerance):.4g} req/s "
            f"(target + {tolerance:.0%}) before it adds pods, more than the "
            f"{slo_rps:.4g} req/s at which the latency target holds: "
            f"plan with headroom {1 + tolerance:g} or more"
        )
    return AutoscalerSettings(
        min_replicas=min(low.replicas if low is not None else 1, peak.replicas),
        max_replicas=peak.replicas,
        target_rps_per_pod=target,
        slo_rps_per_pod=slo_rps,
        tolerance=tolerance,
        notes=tuple(notes),
    )
