"""Capacity: how many replicas meet a latency target at a request rate (M/M/c, Erlang C).

The model is M/M/c with an Allen–Cunneen correction for G/G/c traffic; batching is in
``_batching.py`` and autoscaler settings in ``_autoscale.py``. docs/capacity.md has the
formulas, the worked numbers and the caveats. Everything here is a pure function of its
arguments: numbers in, frozen dataclasses out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from roost.errors import ConfigError

__all__ = [
    "MAX_OFFERED_LOAD",
    "CapacityPlan",
    "erlang_b",
    "erlang_c",
    "replicas_for",
]

#: the largest offered load (Erlangs) planned for: the Erlang-B recursion takes c steps,
#: and one pool of a million busy replicas is past what this model is good for anyway
MAX_OFFERED_LOAD = 1_000_000.0


def _require(is_ok: bool, name: str, expected: str, value: object) -> None:
    """Raise ``ConfigError("NAME: expected …, got …")`` unless ``is_ok``."""
    if not is_ok:
        raise ConfigError(f"{name}: expected {expected}, got {value!r}")


def _is_number(value: object) -> bool:
    """A finite int or float, not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _ceil_count(value: float) -> int:
    """``ceil``, forgiving float noise: ``100 * 1.1`` is 110.00000000000001, not 111 replicas."""
    return math.ceil(value - 1e-9 * max(1.0, abs(value)))


# ---------------------------------------------------------------- Erlang B and C


def erlang_b(c: int, a: float) -> float:
    """The probability that all ``c`` servers are busy and a request is lost (Erlang B).

    Computed with the recursion ``B₀ = 1``, ``B_k = a·B_{k−1} / (k + a·B_{k−1})``, which
    stays accurate for c in the thousands where ``aᶜ/c!`` overflows.

    Args:
        c: the number of servers (replicas), 0 or more.
        a: the offered load in Erlangs (rate × mean service time), 0 or more.

    Raises:
        ConfigError: ``c`` is not a whole number >= 0, or ``a`` not a finite number >= 0.

    Example:
        >>> round(erlang_b(3, 2.5), 4)
        0.2822
    """
    _require(isinstance(c, int) and not isinstance(c, bool) and c >= 0, "c", "an int >= 0", c)
    _require(_is_number(a) and a >= 0, "a", "a finite number >= 0", a)
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def _erlang_c_from_b(b: float, c: int, a: float) -> float:
    if c <= a:
        return 1.0
    rho = a / c
    return b / (1 - rho * (1 - b))


def erlang_c(c: int, a: float) -> float:
    """The probability that a request waits in an M/M/c queue (Erlang C).

    ``C = B / (1 − ρ(1 − B))`` with ``B = erlang_b(c, a)`` and ``ρ = a/c``. When
    ``c <= a`` the queue grows without bound and every request waits: the result is 1.

    Args:
        c: the number of servers (replicas), 0 or more.
        a: the offered load in Erlangs, 0 or more.

    Raises:
        ConfigError: as ``erlang_b``.

    Example:
        >>> [round(erlang_c(c, 2.5), 4) for c in (3, 4, 5, 6)]
        [0.7022, 0.3199, 0.1304, 0.0474]
    """
    return _erlang_c_from_b(erlang_b(c, a), c, a)


# ------------------------------------------------------------------ replicas (M/M/c)


@dataclass(frozen=True, slots=True)
class CapacityPlan:
    """How many replicas serve ``rate_rps`` within ``slo_s`` at ``percentile``, and how they queue.

    The queue figures (``utilization`` to ``in_system``) describe ``replicas``, the fleet
    provisioned with its headroom. When ``feasible`` is False, ``reason`` says why, and
    ``replicas``, ``required_replicas`` and the queue figures are all 0.
    """

    #: the inputs: requests per second, mean service time, latency target and its percentile
    rate_rps: float
    service_s: float
    slo_s: float
    percentile: float
    #: the factor applied to ``required_replicas`` (1.0 is none; 1.25 is 25% spare)
    headroom: float
    #: whether any number of replicas meets the target
    feasible: bool
    #: why not, when not feasible; empty otherwise
    reason: str
    #: replicas to provision: ``ceil(required_replicas * headroom)``
    replicas: int
    #: the fewest replicas that meet the target within the utilisation cap
    required_replicas: int
    #: a = rate * service time, in Erlangs: the replicas kept busy on average
    offered_load: float
    #: rho = a / replicas
    utilization: float
    #: the probability that a request waits (Erlang C)
    p_wait: float
    #: the mean time in the queue, G/G/c-corrected
    mean_wait_s: float
    #: the ``percentile`` of the time in the queue, G/G/c-corrected
    wait_quantile_s: float
    #: requests in the system on average, by Little's law: rate * (mean wait + service)
    in_system: float
    #: beta in ``required_replicas = a + beta * sqrt(a)`` (Halfin-Whitt; 1.5-2.5 is usual);
    #: None without load
    sqrt_staffing_beta: float | None

    def __post_init__(self) -> None:
        if self.feasible == bool(self.reason):
            raise ConfigError("CapacityPlan: expected a reason exactly when it is not feasible")
        _require(
            0 <= self.required_replicas <= self.replicas,
            "replicas",
            f"at least required_replicas ({self.required_replicas})",
            self.replicas,
        )
        _require(0 <= self.p_wait <= 1, "p_wait", "a probability", self.p_wait)

    @property
    def slo_rps_per_replica(self) -> float:
        """The rate one replica carries while the target still holds: ρ*·μ (0 if infeasible)."""
        if not self.feasible:
            return 0.0
        return self.rate_rps / self.required_replicas


def replicas_for(
    rate_rps: float,
    service_s: float,
    slo_s: float,
    percentile: float = 0.99,
    arrival_cv2: float = 1.0,
    service_cv2: float = 1.0,
    max_utilization: float = 1.0,
    headroom: float = 1.0,
) -> CapacityPlan:
    """Plan the replicas that answer ``percentile`` of requests within ``slo_s``.

    The smallest c above the offered load ``a = rate × service`` for which the wait tail
    ``C(c, a)·exp(−(c/s − rate)·(slo − s)·k)`` is at most ``1 − percentile`` and
    ``a/c <= max_utilization``; then ``ceil(c × headroom)``. ``k = 2/(arrival_cv2 +
    service_cv2)`` is the Allen–Cunneen factor: 1 for M/M/c, 2 for Poisson arrivals and
    deterministic service.

    Args:
        rate_rps: requests per second at the load planned for (the peak), 0 or more.
        service_s: one request's service time on one replica, in seconds. The mean gives
            the textbook M/M/c plan; a measured high quantile gives a safer one.
        slo_s: the latency target at ``percentile``, in seconds (queue plus service).
        percentile: the share of requests that must meet ``slo_s``, between 0 and 1.
        arrival_cv2: the squared coefficient of variation of the gaps between requests
            (1 for Poisson arrivals, more for bursty traffic).
        service_cv2: the same for service times (1 for exponential, about 0 for DNN inference).
        max_utilization: the cap on ρ, in (0, 1]; for example 0.8 to leave room for bursts.
        headroom: a factor >= 1 on the replica count, for N+1 or disaster recovery.

    Returns:
        The plan. A service time that alone reaches the target is not an error: the plan
        comes back with ``feasible=False`` and the reason.

    Raises:
        ConfigError: an argument out of range, or an offered load above ``MAX_OFFERED_LOAD``.

    Example:
        >>> plan = replicas_for(5000, 0.025, 0.100)  # OCR at 25 ms, p99 within 100 ms
        >>> plan.replicas, round(plan.utilization, 2), round(plan.p_wait, 2)
        (127, 0.98, 0.8)
    """
    _require(_is_number(rate_rps) and rate_rps >= 0, "rate_rps", "a finite number >= 0", rate_rps)
    _require(_is_number(service_s) and service_s > 0, "service_s", "a number > 0", service_s)
    _require(_is_number(slo_s) and slo_s > 0, "slo_s", "a number > 0", slo_s)
    _require(_is_number(percentile) and 0 < percentile < 1, "percentile", "in (0, 1)", percentile)
    for name, cv2 in (("arrival_cv2", arrival_cv2), ("service_cv2", service_cv2)):
        _require(_is_number(cv2) and cv2 >= 0, name, "a finite number >= 0", cv2)
    _require(
        _is_number(max_utilization) and 0 < max_utilization <= 1,
        "max_utilization",
        "in (0, 1]",
        max_utilization,
    )
    _require(_is_number(headroom) and headroom >= 1, "headroom", "a number >= 1", headroom)
    offered = rate_rps * service_s
    inputs = (rate_rps, service_s, slo_s, percentile, headroom)
    budget_s = slo_s - service_s
    if budget_s <= 0:
        reason = (
            f"the service time {service_s * 1000:g} ms alone reaches the "
            f"p{percentile * 100:g} target of {slo_s * 1000:g} ms: "
            "needs faster hardware, a smaller model or batching"
        )
        return CapacityPlan(*inputs, False, reason, 0, 0, offered, 0.0, 0.0, 0.0, 0.0, 0.0, None)
    _require(
        offered <= MAX_OFFERED_LOAD,
        "rate_rps × service_s",
        f"an offered load up to {MAX_OFFERED_LOAD:g} Erlangs",
        offered,
    )
    # Poisson arrivals and exponential service (k = 1) are M/M/c; k = ∞ (both
    # deterministic) never waits while c > a
    variability = arrival_cv2 + service_cv2
    k = 2 / variability if variability > 0 else math.inf
    mu = 1 / service_s
    c = math.floor(offered) + 1
    b = erlang_b(c, offered)
    while True:
        p_wait = _erlang_c_from_b(b, c, offered)
        tail = p_wait * math.exp(-(c * mu - rate_rps) * budget_s * k)
        if tail <= 1 - percentile and offered / c <= max_utilization:
            break
        c += 1
        b = offered * b / (c + offered * b)  # one more step of the Erlang-B recursion
    replicas = max(c, _ceil_count(c * headroom))
    p_wait = erlang_c(replicas, offered)
    drain = (replicas * mu - rate_rps) * k  # the rate at which the queue's tail decays
    mean_wait_s = p_wait / drain
    miss = 1 - percentile
    wait_quantile_s = math.log(p_wait / miss) / drain if p_wait > miss else 0.0
    return CapacityPlan(
        *inputs,
        feasible=True,
        reason="",
        replicas=replicas,
        required_replicas=c,
        offered_load=offered,
        utilization=offered / replicas,
        p_wait=p_wait,
        mean_wait_s=mean_wait_s,
        wait_quantile_s=wait_quantile_s,
        in_system=rate_rps * (mean_wait_s + service_s),
        sqrt_staffing_beta=(c - offered) / math.sqrt(offered) if offered > 0 else None,
    )
