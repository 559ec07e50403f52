"""What the profiler measured: the value objects ``profile_model`` returns.

``ModelProfile`` holds one model version's measurements at one location, and turns
them into the two documents the planner reads: ``to_dict()`` (its
``latency_ms_by_batch`` is what ``roost plan capacity --profile`` reads) and
``component_block(name)`` (a component of the planner's YAML, research note §4.2).
How each number is measured: ``roost.plan.profile``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from roost.errors import ConfigError
from roost.types import JSONDict

__all__ = ["LATENCY_QUANTILES", "PROTOCOLS", "BatchLatency", "ModelProfile", "WireSize"]

#: the quantiles ``to_dict`` may write as ``latency_ms_by_batch``
LATENCY_QUANTILES = ("p50", "p90", "p99")

#: the protocols whose request and response sizes are measured, in the order reported
PROTOCOLS = ("kserve-v1", "oip-v2-json", "oip-v2-binary", "mlflow")

_MB = 1_000_000  # the planner's schema counts decimal megabytes


@dataclass(frozen=True, slots=True)
class BatchLatency:
    """The latency of ``model.predict`` on batches of one size.

    Attributes:
        batch_size: rows per call.
        p50_ms: the median call, in milliseconds.
        p90_ms: the 90th percentile.
        p99_ms: the 99th percentile.
        runs: the timed calls the percentiles come from.
    """

    batch_size: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    runs: int

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.runs < 1:
            raise ConfigError(
                f"batch latency: expected a batch size and runs of at least 1, "
                f"got {self.batch_size} and {self.runs}"
            )
        if not 0 <= self.p50_ms <= self.p90_ms <= self.p99_ms < math.inf:
            raise ConfigError(
                f"batch size {self.batch_size}: expected 0 <= p50 <= p90 <= p99 ms, got "
                f"{self.p50_ms}, {self.p90_ms}, {self.p99_ms}"
            )

    @property
    def rows_per_s(self) -> float:
        """Throughput of one replica at this batch size: ``batch_size / p50``."""
        return self.batch_size / (self.p50_ms / 1000) if self.p50_ms > 0 else math.inf

    def to_dict(self) -> JSONDict:
        return {
            "batch_size": self.batch_size,
            "p50_ms": self.p50_ms,
            "p90_ms": self.p90_ms,
            "p99_ms": self.p99_ms,
            "rows_per_s": self.rows_per_s,
            "runs": self.runs,
        }


@dataclass(frozen=True, slots=True)
class WireSize:
    """The body sizes of one request of ``batch_size`` rows and of its response.

    Attributes:
        protocol: one of ``PROTOCOLS``.
        batch_size: the rows the request carries.
        request_bytes: the request body, as sent.
        response_bytes: the response body the server writes.
    """

    protocol: str
    batch_size: int
    request_bytes: int
    response_bytes: int

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ConfigError(
                f"protocol: expected one of {', '.join(PROTOCOLS)}, got {self.protocol!r}"
            )
        if self.batch_size < 1 or self.request_bytes < 1 or self.response_bytes < 1:
            raise ConfigError(
                f"{self.protocol}: expected a batch size and body sizes above 0, got "
                f"{self.batch_size} rows, {self.request_bytes} and {self.response_bytes} bytes"
            )

    def to_dict(self) -> JSONDict:
        return {
            "protocol": self.protocol,
            "batch_size": self.batch_size,
            "request_bytes": self.request_bytes,
            "response_bytes": self.response_bytes,
        }


@dataclass(frozen=True, slots=True)
class ModelProfile:
    """What ``profile_model`` measured for one model version at one location.

    Attributes:
        ref: the version measured, ``iris:1``.
        flavor: its framework flavor.
        location: the planner's name for where it was measured.
        host: the machine's network name.
        platform: operating system, machine and Python version.
        loads: how many loads were timed.
        first_load_s: the first load (framework import included).
        load_s: the median of the later loads (the first, when there is one load).
        rss_growth_bytes: resident-set growth across loads and predictions; None
            without ``/proc``.
        python_peak_bytes: the tracemalloc peak of one load.
        python_retained_bytes: what tracemalloc still counts once that load is done.
        package_bytes: the package folder's size.
        latency: one entry per batch size, smallest first.
        wire: request and response sizes per protocol, for 1 row and the largest batch.
    """

    ref: str
    flavor: str
    location: str
    host: str
    platform: str
    loads: int
    first_load_s: float
    load_s: float
    rss_growth_bytes: int | None
    python_peak_bytes: int
    python_retained_bytes: int
    package_bytes: int
    latency: tuple[BatchLatency, ...]
    wire: tuple[WireSize, ...] = ()

    def __post_init__(self) -> None:
        if not self.latency:
            raise ConfigError(f"profile of {self.ref}: expected at least one batch size measured")
        sizes = [entry.batch_size for entry in self.latency]
        if sizes != sorted(set(sizes)):
            raise ConfigError(
                f"profile of {self.ref}: expected distinct batch sizes in order, got {sizes}"
            )

    @property
    def name(self) -> str:
        """The model's name (``iris`` of ``iris:1``), the component's name by default."""
        return self.ref.rpartition(":")[0] or self.ref

    @property
    def size_mb(self) -> float:
        return self.package_bytes / _MB

    @property
    def rss_growth_mb(self) -> float | None:
        return None if self.rss_growth_bytes is None else self.rss_growth_bytes / _MB

    @property
    def python_peak_mb(self) -> float:
        return self.python_peak_bytes / _MB

    @property
    def python_retained_mb(self) -> float:
        return self.python_retained_bytes / _MB

    @property
    def ram_mb(self) -> float:
        """The memory the planner counts: the larger of RSS growth and the Python peak."""
        return max(self.rss_growth_mb or 0.0, self.python_peak_mb)

    @property
    def peak(self) -> BatchLatency:
        """The batch size of highest throughput (the smallest such, on a tie)."""
        return max(self.latency, key=lambda entry: (entry.rows_per_s, -entry.batch_size))

    @property
    def peak_rows_per_s(self) -> float:
        return self.peak.rows_per_s

    def latency_at(self, batch_size: int) -> BatchLatency:
        """The measurement at one batch size.

        Raises:
            ConfigError: that batch size was not measured.
        """
        for entry in self.latency:
            if entry.batch_size == batch_size:
                return entry
        measured = ", ".join(str(entry.batch_size) for entry in self.latency)
        raise ConfigError(
            f"profile of {self.ref}: batch size {batch_size} was not measured "
            f"(measured: {measured})"
        )

    def latency_ms_by_batch(self, quantile: str = "p99") -> dict[int, float]:
        """One latency per batch size, ``{1: 2.73, 8: 9.93}``: the planner's ℓ(b).

        Args:
            quantile: ``p99`` (default: a plan for a tail target should rest on the
                tail), ``p90`` or ``p50`` (the textbook M/M/c service time is a mean).

        Raises:
            ConfigError: another quantile.
        """
        if quantile not in LATENCY_QUANTILES:
            raise ConfigError(
                f"latency quantile: expected one of {', '.join(LATENCY_QUANTILES)}, "
                f"got {quantile!r}"
            )
        return {e.batch_size: float(getattr(e, f"{quantile}_ms")) for e in self.latency}

    def to_dict(self, latency_quantile: str = "p99") -> JSONDict:
        """The profile as JSON.

        ``latency_ms_by_batch`` (keys are batch sizes as strings) is what ``roost plan
        capacity --profile`` reads; ``latency_quantile`` says which quantile it holds.

        Raises:
            ConfigError: an unknown quantile.
        """
        by_batch = self.latency_ms_by_batch(latency_quantile)
        return {
            "ref": self.ref,
            "flavor": self.flavor,
            "location": self.location,
            "host": self.host,
            "platform": self.platform,
            "load": {"loads": self.loads, "first_s": self.first_load_s, "median_s": self.load_s},
            "memory": {
                "ram_mb": self.ram_mb,
                "rss_growth_mb": self.rss_growth_mb,
                "python_peak_mb": self.python_peak_mb,
                "python_retained_mb": self.python_retained_mb,
            },
            "package": {"bytes": self.package_bytes, "size_mb": self.size_mb},
            "latency_quantile": latency_quantile,
            "latency_ms_by_batch": {str(size): ms for size, ms in by_batch.items()},
            "latency": [entry.to_dict() for entry in self.latency],
            "peak_rows_per_s": self.peak_rows_per_s,
            "peak_batch_size": self.peak.batch_size,
            "wire": [size.to_dict() for size in self.wire],
        }

    def component_block(self, name: str) -> JSONDict:
        """The planner's component entry (research note §4.2) from the one-row latency.

        ``compute_s`` is ``{best: p50, worst: p99}`` at batch size 1, in seconds.

        Raises:
            ConfigError: an empty name, or batch size 1 was not measured.

        Example:
            >>> profile.component_block("ocr")  # doctest: +SKIP
            {'ocr': {'allowed_at': ['phone'], 'variants': {'default': {'compute_s':
             {'phone': {'best': 0.12, 'worst': 0.19}}, 'size_mb': 30.1, 'ram_mb': 250.0}}}}
        """
        if not name.strip():
            raise ConfigError("component name: expected a non-empty name, got an empty one")
        one = self.latency_at(1)
        variant = {
            "compute_s": {
                self.location: {
                    "best": _significant(one.p50_ms / 1000),
                    "worst": _significant(one.p99_ms / 1000),
                }
            },
            "size_mb": _significant(self.size_mb),
            "ram_mb": _significant(self.ram_mb),
        }
        return {name: {"allowed_at": [self.location], "variants": {"default": variant}}}


def _significant(value: float, digits: int = 4) -> float:
    """``value`` to a few significant digits (monotonic, so best <= worst survives)."""
    return float(f"{value:.{digits}g}")
