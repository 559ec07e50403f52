"""Where the system runs: locations, the links between them, and the checks spec fields share.

Frozen dataclasses, validated in ``__post_init__``: ``Interval`` (a ``{best, worst}``
pair), ``Power``, ``Replica``, ``Location`` and ``Link``, with the ``_check`` helpers
the other spec dataclasses validate with. ``spec.py`` re-exports the public names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from roost.errors import ConfigError

LocationKind = Literal["device", "edge", "cloud"]

#: location kinds that run replicas an operator pays for
SERVER_KINDS: frozenset[str] = frozenset({"edge", "cloud"})


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
