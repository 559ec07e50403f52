"""Aggregate views: entity-keyed summaries of event data over a time window, with a TTL.

``spend_30d`` below is, for one card at time ``t``, the sum and count of its payments
in the 30 days up to and including ``t``::

    spend_30d = AggregateView(
        "spend_30d", version=1, events=payments, window=timedelta(days=30),
        aggregates=[Aggregate("amount", "sum", name="spend_30d"),
                    Aggregate("amount", "count", name="payments_30d")],
        ttl=timedelta(days=7), defaults={"spend_30d": 0.0, "payments_30d": 0},
    )

**One computation, every path.** ``as_of`` is the only code that turns events into
values: training frames call it at each row's timestamp, materialization at the
materialization time, compute-on-miss at the request's time. Only events at or before
``t`` are read, so nothing from a row's future can leak into its training features.

**Event time and TTL.** A value carries the time of the entity's newest event at or
before ``t``. It is *present* while ``t - event_time < ttl``, *expired* from then on (so
with ``ttl == window`` a value expires exactly when its newest event leaves the window), and
*missing* when the entity has no event at all by then. The ttl may not exceed the window.
Training frames and online reads apply the same rule; a declared default then stands in
for a missing or expired value (status *defaulted*).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from roost.errors import ConfigError, FeatureError
from roost.features._source_hash import spec_hash
from roost.features.entities import Events, check_name
from roost.features.transforms import coerce
from roost.types import JSONDict, JSONValue

__all__ = ["FUNCTIONS", "STATUSES", "Aggregate", "AggregateView", "ViewValue"]

#: what an aggregate may compute over the window, and the dtype it gives
FUNCTIONS = {
    "sum": "float64",
    "mean": "float64",
    "min": "float64",
    "max": "float64",
    "count": "int64",
}
#: every status a feature value can have, in training frames and online
STATUSES = ("present", "missing", "expired", "defaulted")
_US = 1_000_000


@dataclass(frozen=True, slots=True)
class Aggregate:
    """One output of an aggregate view: ``function`` of an event column over the window.

    Args:
        column: the event column (numeric; any column for ``count``).
        function: ``sum``, ``mean``, ``min``, ``max`` or ``count`` (non-null values).
        name: the output's name (``<column>_<function>`` by default).
    """

    column: str
    function: str
    name: str = ""

    def __post_init__(self) -> None:
        if self.function not in FUNCTIONS:
            raise ConfigError(
                f"aggregate of {self.column!r}: function must be one of "
                f"{', '.join(FUNCTIONS)}, got {self.function!r}"
            )
        object.__setattr__(
            self, "name", check_name("aggregate", self.name or f"{self.column}_{self.function}")
        )

    @property
    def dtype(self) -> str:
        return FUNCTIONS[self.function]


@dataclass(frozen=True, slots=True)
class ViewValue:
    """An aggregate view's values for one entity at one time.

    Attributes:
        values: each output's value; None where unknown.
        status: ``present``, ``missing``, ``expired`` or ``defaulted``.
        event_time_us: the newest event the values reflect (UTC µs), None if none did.
    """

    values: dict[str, JSONValue]
    status: str
    event_time_us: int | None


@dataclass(frozen=True, slots=True)
class AggregateView:
    """Entity-keyed aggregates over an event table (see the module docstring).

    Args:
        name: the view's name.
        version: bumped whenever the definition changes (checked against its hash).
        events: the event table it reads.
        aggregates: its outputs.
        window: how far back from ``t`` events count.
        ttl: how long after its newest event a value stays valid (the window by default).
        defaults: the value that stands in for a missing or expired output.
        compute_on_miss: when the online store has no valid value, compute it from the
            offline store's events (and write it back) instead of answering missing.
        description: what the view means, for the catalog and the model card.
    """

    name: str
    version: int
    events: Events
    aggregates: tuple[Aggregate, ...]
    window: timedelta
    ttl: timedelta | None = None
    defaults: Mapping[str, Any] | None = field(default=None, compare=False)
    compute_on_miss: bool = False
    description: str | None = None
    source_hash: str = field(init=False, compare=False)

    kind = "aggregate"

    def __post_init__(self) -> None:
        check_name("aggregate view", self.name)
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise ConfigError(
                f"{self.name!r}: version must be a whole number >= 1, got {self.version!r}"
            )
        if not isinstance(self.events, Events):
            raise ConfigError(f"aggregate view {self.name!r}: events must be an Events table")
        aggregates = tuple(self.aggregates)
        if not aggregates or not all(isinstance(a, Aggregate) for a in aggregates):
            raise ConfigError(f"aggregate view {self.name!r}: expected at least one Aggregate")
        object.__setattr__(self, "aggregates", aggregates)
        for aggregate in aggregates:
            dtype = self.events.dtype_of(aggregate.column)
            if aggregate.function != "count" and dtype not in ("int64", "float64"):
                raise ConfigError(
                    f"aggregate view {self.name!r}: {aggregate.function} of {aggregate.column!r} "
                    f"needs a numeric column, it is {dtype}"
                )
        names = [a.name for a in aggregates]
        if len(set(names)) != len(names):
            raise ConfigError(f"aggregate view {self.name!r}: duplicate output names {names}")
        for label, span in (("window", self.window), ("ttl", self.ttl)):
            if (span is not None or label == "window") and (
                not isinstance(span, timedelta) or span <= timedelta(0)
            ):
                raise ConfigError(
                    f"aggregate view {self.name!r}: {label} must be a positive timedelta, "
                    f"got {span!r}"
                )
        if self.ttl is not None and self.ttl > self.window:
            # past the window the values are those of an empty window: a longer ttl would
            # keep serving a stale sum the training path never sees
            raise ConfigError(
                f"aggregate view {self.name!r}: ttl ({self.ttl}) must not exceed the window "
                f"({self.window})"
            )
        defaults = dict(self.defaults or {})
        unknown = sorted(set(defaults) - set(names))
        if unknown:
            raise ConfigError(
                f"aggregate view {self.name!r}: defaults for unknown outputs {unknown} "
                f"(outputs: {names})"
            )
        try:
            checked = {
                a.name: coerce(
                    defaults[a.name], a.dtype, f"aggregate view {self.name!r} default {a.name!r}"
                )
                for a in aggregates
                if a.name in defaults
            }
        except FeatureError as exc:  # a definition's mistake, like every other one here
            raise ConfigError(str(exc)) from None
        object.__setattr__(self, "defaults", checked)
        object.__setattr__(self, "source_hash", spec_hash(self.to_spec()))

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def entity(self) -> Any:
        return self.events.entity

    @property
    def inputs(self) -> tuple[tuple[str, str], ...]:
        return self.events.entity.keys

    @property
    def outputs(self) -> tuple[tuple[str, str], ...]:
        return tuple((a.name, a.dtype) for a in self.aggregates)

    @property
    def ttl_us(self) -> int:
        return (self.ttl or self.window) // timedelta(microseconds=1)  # exact, unlike floats

    @property
    def window_us(self) -> int:
        return self.window // timedelta(microseconds=1)

    @property
    def source(self) -> str:
        lines = [
            f"AggregateView({self.name!r}, version={self.version}, events={self.events.name!r},"
        ]
        lines += [
            f"    {a.name} = {a.function}({a.column}) over {self.window}," for a in self.aggregates
        ]
        lines.append(f"    ttl={self.ttl or self.window}, defaults={self.defaults})")
        return "\n".join(lines)

    def to_spec(self) -> JSONDict:
        return {
            "kind": self.kind,
            "name": self.name,
            "version": self.version,
            "events": self.events.to_spec(),
            "aggregates": [[a.name, a.function, a.column] for a in self.aggregates],
            "window_s": self.window.total_seconds(),
            "ttl_s": (self.ttl or self.window).total_seconds(),
            "defaults": dict(self.defaults or {}),
        }

    def as_of(
        self, times_us: Sequence[int] | Any, columns: Mapping[str, Any], t_us: int
    ) -> ViewValue:
        """The view's values at ``t_us`` from one entity's events, defaults applied.

        Args:
            times_us: the entity's event times (UTC µs), sorted ascending.
            columns: each aggregated column's values, in the same order (numpy arrays).
            t_us: the time to compute at; events after it are never read.
        """
        return self.finish(self.raw_as_of(times_us, columns, t_us))

    def raw_as_of(
        self, times_us: Sequence[int] | Any, columns: Mapping[str, Any], t_us: int
    ) -> ViewValue:
        """As ``as_of``, before defaults: what materialization stores (the one computation).

        The status is *missing* when no event is at or before ``t``; otherwise the newest
        such event decides *present* or *expired*, and the values summarise the events in
        the window (an empty window sums to 0 and counts 0; its mean, min and max are None).
        """
        import numpy as np

        times = np.asarray(times_us, dtype=np.int64)
        stop = int(np.searchsorted(times, t_us, side="right"))  # events at or before t
        if stop == 0:
            return ViewValue({a.name: None for a in self.aggregates}, "missing", None)
        start = int(np.searchsorted(times, t_us - self.window_us, side="right"))
        values: dict[str, JSONValue] = {}
        for aggregate in self.aggregates:
            window = np.asarray(columns[aggregate.column][start:stop])
            values[aggregate.name] = _apply(aggregate.function, window)
        event_time = int(times[stop - 1])
        return ViewValue(values, self.status_at(event_time, t_us), event_time)

    def finish(self, value: ViewValue) -> ViewValue:
        """Apply the defaults to a missing or expired value (both paths call this)."""
        if value.status not in ("missing", "expired") or not self.defaults:
            return value
        values = dict(value.values)
        values.update(self.defaults)
        return ViewValue(values, "defaulted", value.event_time_us)

    def status_at(self, event_time_us: int, t_us: int) -> str:
        """``present`` or ``expired``: a stored value read at ``t_us``."""
        return "expired" if t_us - event_time_us >= self.ttl_us else "present"


def _apply(function: str, window: Any) -> JSONValue:
    import numpy as np

    if function == "count":
        if window.dtype.kind == "f":
            return int(np.count_nonzero(~np.isnan(window)))
        return (
            int(sum(v is not None for v in window))
            if window.dtype.kind == "O"
            else int(window.size)
        )
    numbers = window.astype(np.float64)
    numbers = numbers[~np.isnan(numbers)]
    if numbers.size == 0:
        return 0.0 if function == "sum" else None
    reduce: Any = {"sum": np.sum, "mean": np.mean, "min": np.min, "max": np.max}[function]
    return float(reduce(numbers))
