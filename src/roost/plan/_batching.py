"""Batching: the batch size that maximises a replica's throughput within the latency target.

A replica that runs batches of b requests in ℓ(b) ms serves ``X(b) = b / ℓ(b)`` requests
per second. Saturated, a request can wait one whole batch and then ride in the next, so
its latency is at most ``2·ℓ(b)`` (Nexus's rule); docs/capacity.md has the details.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from roost.errors import ConfigError
from roost.plan.capacity import _ceil_count, _is_number, _require

__all__ = ["BatchLatencyFit", "BatchingPlan", "batching_plan", "fit_batch_latency"]


def _check_profile(latency_ms_by_batch: Mapping[int, float]) -> dict[int, float]:
    """The profile as a plain dict, or ConfigError naming the first bad entry."""
    _require(
        isinstance(latency_ms_by_batch, Mapping) and len(latency_ms_by_batch) > 0,
        "latency_ms_by_batch",
        "a mapping of batch size to latency in ms, with at least one entry",
        latency_ms_by_batch,
    )
    profile = {}
    for size, latency_ms in latency_ms_by_batch.items():
        is_size = isinstance(size, int) and not isinstance(size, bool) and size >= 1
        _require(is_size, "latency_ms_by_batch", "batch sizes that are ints >= 1", size)
        _require(
            _is_number(latency_ms) and latency_ms > 0,
            f"latency_ms_by_batch[{size}]",
            "a latency in ms above 0",
            latency_ms,
        )
        profile[size] = float(latency_ms)
    return dict(sorted(profile.items()))


@dataclass(frozen=True, slots=True)
class BatchLatencyFit:
    """A least-squares line through a batch-latency profile: ``ℓ(b) ≈ alpha_ms + beta_ms·b``."""

    #: the fixed cost of one batch, in ms
    alpha_ms: float
    #: the cost of each request in a batch, in ms
    beta_ms: float

    def latency_ms(self, batch_size: int) -> float:
        """The fitted latency of one batch of ``batch_size`` requests."""
        return self.alpha_ms + self.beta_ms * batch_size

    @property
    def max_throughput_rps(self) -> float:
        """The throughput large batches approach: ``1000 / beta_ms`` requests per second."""
        return 1000 / self.beta_ms if self.beta_ms > 0 else float("inf")


def fit_batch_latency(latency_ms_by_batch: Mapping[int, float]) -> BatchLatencyFit:
    """Fit ``ℓ(b) ≈ α + β·b`` to a profile by ordinary least squares.

    Args:
        latency_ms_by_batch: the measured latency of one batch, in ms, by batch size.

    Raises:
        ConfigError: a malformed profile, or one with fewer than two batch sizes.

    Example:
        >>> fit = fit_batch_latency({1: 2.73, 2: 4.05, 4: 5.87, 8: 9.93, 16: 17.30})
        >>> round(fit.alpha_ms, 2), round(fit.beta_ms, 3)
        (2.01, 0.963)
    """
    profile = _check_profile(latency_ms_by_batch)
    _require(len(profile) >= 2, "latency_ms_by_batch", "two batch sizes or more", profile)
    n = len(profile)
    mean_b = sum(profile) / n
    mean_l = sum(profile.values()) / n
    spread = sum((b - mean_b) ** 2 for b in profile)
    beta = sum((b - mean_b) * (ell - mean_l) for b, ell in profile.items()) / spread
    return BatchLatencyFit(alpha_ms=mean_l - beta * mean_b, beta_ms=beta)


@dataclass(frozen=True, slots=True)
class BatchingPlan:
    """How many batching replicas serve ``rate_rps`` with every request within ``slo_s``.

    When ``feasible`` is False, ``reason`` says why, and the batch and replica figures are 0.
    """

    #: the inputs: requests per second, the latency bound, the replica-count factor
    rate_rps: float
    slo_s: float
    headroom: float
    #: whether some batch size in the profile meets the bound
    feasible: bool
    #: why not, when not feasible; empty otherwise
    reason: str
    #: b*: the batch size of highest throughput with ``2 * l(b) <= slo``
    batch_size: int
    #: l(b*), the time one batch takes, in ms
    batch_latency_ms: float
    #: X(b*) = b* / l(b*): one saturated replica's requests per second
    throughput_rps: float
    #: replicas to provision: ``ceil(rate / X(b*) * headroom)``, at least 1
    replicas: int
    #: the same without headroom: ``ceil(rate / X(b*))``, at least 1
    required_replicas: int
    #: rate / (replicas * X(b*))
    utilization: float
    #: ``2 * l(b*)``, the worst-case latency of a request on a saturated replica, in ms
    latency_bound_ms: float
    #: replicas at batch size 1 by the same rule; None without b = 1, or if 2 * l(1) > slo
    unbatched_replicas: int | None
    #: the linear fit of the profile; None with fewer than two batch sizes
    fit: BatchLatencyFit | None

    def __post_init__(self) -> None:
        if self.feasible == bool(self.reason):
            raise ConfigError("BatchingPlan: expected a reason exactly when it is not feasible")
        _require(
            0 <= self.required_replicas <= self.replicas,
            "replicas",
            f"at least required_replicas ({self.required_replicas})",
            self.replicas,
        )

    @property
    def slo_rps_per_replica(self) -> float:
        """The most one replica carries within the bound: X(b*), saturated (0 if infeasible).

        The ``2·ℓ(b*)`` bound assumes a saturated replica, so it holds up to ρ* = 1.
        """
        return self.throughput_rps if self.feasible else 0.0


def batching_plan(
    rate_rps: float,
    slo_s: float,
    latency_ms_by_batch: Mapping[int, float],
    headroom: float = 1.0,
) -> BatchingPlan:
    """Choose the batch size and replica count for ``rate_rps`` within ``slo_s``.

    ``b* = argmax X(b)`` over the profiled sizes with ``2·ℓ(b) <= slo`` (the smaller size
    on a tie), then ``replicas = ceil(rate / X(b*) × headroom)``.

    Args:
        rate_rps: requests per second at the load planned for (the peak), 0 or more.
        slo_s: the latency bound every request must meet, in seconds (network not included).
        latency_ms_by_batch: the measured latency of one batch, in ms, by batch size.
        headroom: a factor >= 1 on the replica count, for N+1 or disaster recovery.

    Returns:
        The plan. A profile with no batch size fast enough is not an error: the plan comes
        back with ``feasible=False`` and the reason.

    Raises:
        ConfigError: an argument out of range, or a malformed profile.

    Example:
        >>> profile = {1: 2.73, 2: 4.05, 4: 5.87, 8: 9.93, 16: 17.30}  # resnet50, ms
        >>> plan = batching_plan(5000, 0.050, profile)
        >>> plan.batch_size, round(plan.throughput_rps), plan.replicas, plan.unbatched_replicas
        (16, 925, 6, 14)
    """
    _require(_is_number(rate_rps) and rate_rps >= 0, "rate_rps", "a finite number >= 0", rate_rps)
    _require(_is_number(slo_s) and slo_s > 0, "slo_s", "a number > 0", slo_s)
    _require(_is_number(headroom) and headroom >= 1, "headroom", "a number >= 1", headroom)
    profile = _check_profile(latency_ms_by_batch)
    fit = fit_batch_latency(profile) if len(profile) >= 2 else None
    slo_ms = slo_s * 1000
    fitting = {b: ell for b, ell in profile.items() if 2 * ell <= slo_ms}
    inputs = (rate_rps, slo_s, headroom)
    if not fitting:
        fastest, latency_ms = next(iter(profile.items()))
        reason = (
            f"no batch size meets {slo_ms:g} ms: the smallest profiled, {fastest}, takes "
            f"{latency_ms:g} ms, and a request may wait one batch and ride the next "
            f"(2 × {latency_ms:g} ms); needs faster hardware or a smaller model"
        )
        return BatchingPlan(*inputs, False, reason, 0, 0.0, 0.0, 0, 0, 0.0, 0.0, None, fit)

    def replicas_at(size: int, factor: float) -> int:
        return max(1, _ceil_count(rate_rps * profile[size] / 1000 / size * factor))

    best = max(fitting, key=lambda b: (b / fitting[b], -b))
    throughput = best / profile[best] * 1000
    replicas = replicas_at(best, headroom)
    return BatchingPlan(
        *inputs,
        feasible=True,
        reason="",
        batch_size=best,
        batch_latency_ms=profile[best],
        throughput_rps=throughput,
        replicas=replicas,
        required_replicas=replicas_at(best, 1.0),
        utilization=rate_rps / (replicas * throughput),
        latency_bound_ms=2 * profile[best],
        unbatched_replicas=replicas_at(1, headroom) if 1 in fitting else None,
        fit=fit,
    )
