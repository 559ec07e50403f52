"""Routes on the link graph of one network scenario, and the time a flow takes on them.

A hop of flow f over link h takes ``ℓ_h + 8·B_f / BW_h`` seconds (store and forward:
the whole object crosses each hop before the next starts). ``cut_through`` pays the
serialisation once, on the slowest hop. Latencies are intervals: the best case uses
every link's best one-way latency, the worst case every link's worst.

A route is the path of least worst-case time for the flow's size (Dijkstra); in a
tree it is the only path. ``Network`` caches the routes it has found.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass

from roost.plan.spec import Interval, Link

__all__ = ["Hop", "Network", "Route", "hop_time"]


def hop_time(link: Link, size_bytes: float) -> Interval:
    """``ℓ + 8·B/BW`` on one link, best and worst."""
    serialise = 8 * size_bytes / link.bandwidth_bps
    latency = link.one_way_latency_s
    return Interval(latency.best + serialise, latency.worst + serialise)


@dataclass(frozen=True, slots=True)
class Hop:
    """One link crossed in one direction."""

    link: Link
    source: str
    target: str

    def serialise_s(self, size_bytes: float) -> float:
        """Seconds to put ``size_bytes`` on this link: ``8·B/BW``."""
        return 8 * size_bytes / self.link.bandwidth_bps


@dataclass(frozen=True, slots=True)
class Route:
    """The hops from ``source`` to ``target`` (none when they are the same location)."""

    source: str
    target: str
    hops: tuple[Hop, ...] = ()

    @property
    def latency(self) -> Interval:
        """The sum of the hops' one-way latencies: what no flow on this route can beat."""
        best = sum(hop.link.one_way_latency_s.best for hop in self.hops)
        worst = sum(hop.link.one_way_latency_s.worst for hop in self.hops)
        return Interval(best, worst)

    def transfer_time(self, size_bytes: float, *, cut_through: bool = False) -> Interval:
        """The time to move ``size_bytes`` along the route, best and worst.

        Example:
            >>> bt = Link("bt", ("glasses", "phone"), Interval(0.02, 0.1), 3e6)
            >>> t = Route("glasses", "phone", (Hop(bt, "glasses", "phone"),)).transfer_time(2000)
            >>> round(t.best, 5), round(t.worst, 5)
            (0.02533, 0.10533)
        """
        if not self.hops:
            return Interval(0.0, 0.0)
        serialise = [hop.serialise_s(size_bytes) for hop in self.hops]
        total = max(serialise) if cut_through else sum(serialise)
        latency = self.latency
        return Interval(latency.best + total, latency.worst + total)

    @property
    def min_bandwidth_bps(self) -> float | None:
        """The bandwidth of the slowest hop (None for an empty route)."""
        return min((hop.link.bandwidth_bps for hop in self.hops), default=None)

    def __add__(self, other: Route) -> Route:
        return Route(self.source, other.target, self.hops + other.hops)


class Network:
    """The links that are up in one scenario, with a cache of the routes between locations.

    Example:
        >>> bt = Link("bt", ("glasses", "phone"), Interval(0.02, 0.1), 3e6)
        >>> cell = Link("cell", ("phone", "cloud"), Interval(0.05, 0.05), 10e6)
        >>> route = Network([bt, cell]).route("glasses", "cloud", 2000)
        >>> [hop.link.name for hop in route.hops]
        ['bt', 'cell']
    """

    __slots__ = ("_adjacent", "_cache", "links")

    def __init__(self, links: Iterable[Link]) -> None:
        self.links = tuple(links)
        self._adjacent: dict[str, list[tuple[int, Link]]] = {}
        for order, link in enumerate(self.links):
            for end in link.ends:
                self._adjacent.setdefault(end, []).append((order, link))
        self._cache: dict[tuple[str, str, float], Route | None] = {}

    def route(self, source: str, target: str, size_bytes: float = 0.0) -> Route | None:
        """The quickest route in the worst case for ``size_bytes``, or None if there is none.

        Ties go to the links listed first, so the answer never depends on hashing.
        """
        key = (source, target, size_bytes)
        if key not in self._cache:
            self._cache[key] = self._shortest(source, target, size_bytes)
        return self._cache[key]

    def _shortest(self, source: str, target: str, size_bytes: float) -> Route | None:
        if source == target:
            return Route(source, target)
        best: dict[str, float] = {source: 0.0}
        previous: dict[str, Hop] = {}
        queue: list[tuple[float, int, str]] = [(0.0, 0, source)]
        pushed = 1
        done: set[str] = set()
        while queue:
            cost, _, here = heapq.heappop(queue)
            if here in done:
                continue
            done.add(here)
            if here == target:
                break
            for _, link in self._adjacent.get(here, []):
                there = link.other_end(here)
                step = cost + hop_time(link, size_bytes).worst
                if there not in best or step < best[there]:
                    best[there] = step
                    previous[there] = Hop(link, here, there)
                    heapq.heappush(queue, (step, pushed, there))
                    pushed += 1
        if target not in previous:
            return None
        hops: list[Hop] = []
        here = target
        while here != source:
            hop = previous[here]
            hops.append(hop)
            here = hop.source
        return Route(source, target, tuple(reversed(hops)))
