"""Finding the feasible placements: branch and bound over each component's candidates.

``search`` walks the components in topological order (depth first). At each step it
adds one component's candidate and checks what is already decided:

- memory: RAM and storage used at each location so far (co-location, which checking
  components one at a time misses);
- links: the utilisation of the flows whose two ends are placed;
- latency: a lower bound on each hard path, the placed compute and flows plus the
  cheapest compute of every component still to place;
- latency budgets and missing routes.

A branch that breaks one is cut, and recorded with its reasons ("why not"). Complete
placements are evaluated in full (``evaluate.py``). ``exhaustive=True`` cuts nothing
and evaluates every placement: slower, and the reference the pruning is tested against.

``best_chain`` is the exact polynomial special case: when the flows form one chain,
dynamic programming over (component, candidate) finds the placement that minimises
one additive objective in O(n·k²), ignoring co-location and link limits. It lives in
``_chain.py``, and ``candidates`` in ``_candidates.py``; both are re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from roost.errors import PlanError
from roost.plan._candidates import candidates
from roost.plan._chain import ChainOptimum, best_chain
from roost.plan.evaluate import Evaluator
from roost.plan.footprint import memory, memory_reasons
from roost.plan.metrics import Metrics
from roost.plan.placement import Assignment, Placement
from roost.plan.spec import (
    Flow,
    Spec,
)

__all__ = [
    "MAX_NODES",
    "ChainOptimum",
    "Rejection",
    "SearchResult",
    "best_chain",
    "candidates",
    "search",
]

#: the search stops (PlanError) after this many partial placements
MAX_NODES = 2_000_000
_EPS = 1e-12


@dataclass(frozen=True, slots=True)
class Rejection:
    """A placement, or a whole branch of them, that breaks a hard constraint, and why.

    ``assignments`` are the components decided when the branch was cut; every
    placement that extends them is infeasible. ``metrics`` is set when a complete
    placement was evaluated.
    """

    assignments: tuple[Assignment, ...]
    reasons: tuple[str, ...]
    metrics: Metrics | None = None

    @property
    def is_branch(self) -> bool:
        """Whether this stands for every completion of a partial placement."""
        return self.metrics is None


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The feasible placements of one scenario, and the rejected ones with their reasons."""

    scenario: str
    feasible: tuple[Metrics, ...]
    rejected: tuple[Rejection, ...]
    #: complete placements evaluated in full
    evaluated: int
    #: branches cut before they were complete
    pruned: int


class _Search:
    """The state of one depth-first search (kept off the call stack for readability)."""

    def __init__(
        self, spec: Spec, scenario: str | None, *, exhaustive: bool, max_nodes: int
    ) -> None:
        self.spec = spec
        self.evaluator = Evaluator(spec, scenario)
        self.scenario = self.evaluator.scenario
        self.exhaustive = exhaustive
        self.max_nodes = max_nodes
        self.order = self.evaluator.order
        self.feasible: list[Metrics] = []
        self.rejected: list[Rejection] = []
        self.evaluated = self.pruned = self.nodes = 0
        self.candidates: dict[str, list[Assignment]] = {}
        for name in self.order:
            kept = []
            for assignment, reasons in candidates(spec, spec.components[name], self.evaluator):
                if reasons and not exhaustive:
                    self.rejected.append(Rejection((assignment,), reasons))
                    self.pruned += 1
                else:
                    kept.append(assignment)
            self.candidates[name] = kept
        # the cheapest compute of each component, best and worst, over all its candidates
        self.cheapest: dict[str, tuple[float, float]] = {}
        for name, kept in self.candidates.items():
            opts = [o for a in kept for o in self.evaluator.options(a)]
            self.cheapest[name] = (
                min((o.compute.best for o in opts), default=math.inf),
                min((o.compute.worst for o in opts), default=math.inf),
            )
        self.hard = [r for r in spec.requirements.latency if r.is_hard]
        self.direct: dict[tuple[str, str], list[Flow]] = {}
        for flow in spec.flows:
            self.direct.setdefault((flow.source, flow.target), []).append(flow)

    def run(self) -> SearchResult:
        self._visit(0, [], {}, {}, {}, {})
        return SearchResult(
            scenario=self.scenario,
            feasible=tuple(self.feasible),
            rejected=tuple(self.rejected),
            evaluated=self.evaluated,
            pruned=self.pruned,
        )

    def _visit(
        self,
        depth: int,
        chosen: list[Assignment],
        ram: dict[str, float],
        storage: dict[str, float],
        link_bytes: dict[str, float],
        flow_min: dict[str, tuple[float, float]],
    ) -> None:
        if depth == len(self.order):
            self.evaluated += 1
            metrics = self.evaluator.evaluate(Placement(tuple(chosen)))
            if metrics.is_feasible:
                self.feasible.append(metrics)
            else:
                self.rejected.append(Rejection(tuple(chosen), metrics.reasons, metrics))
            return
        name = self.order[depth]
        for assignment in self.candidates[name]:
            self.nodes += 1
            if self.nodes > self.max_nodes:
                raise PlanError(
                    f"the search passed {self.max_nodes:,} partial placements; restrict "
                    "allowed_at, patterns or variants, or plan a chain with best_chain"
                )
            placed = [*chosen, assignment]
            state = (dict(ram), dict(storage), dict(link_bytes), dict(flow_min))
            reasons = [] if self.exhaustive else self._check(placed, *state)
            if reasons:
                self.pruned += 1
                self.rejected.append(Rejection(tuple(placed), tuple(reasons)))
                continue
            self._visit(depth + 1, placed, *state)

    # -- the bounds

    def _check(
        self,
        placed: list[Assignment],
        ram: dict[str, float],
        storage: dict[str, float],
        link_bytes: dict[str, float],
        flow_min: dict[str, tuple[float, float]],
    ) -> list[str]:
        """Add the newest assignment to the running totals; the reasons to cut, if any."""
        evaluator = self.evaluator
        newest = placed[-1]
        by_name = {a.component: a for a in placed}
        new_ram, new_storage = memory(self.spec, Placement((newest,)))
        for totals, extra in ((ram, new_ram), (storage, new_storage)):
            for location, value in extra.items():
                totals[location] = totals.get(location, 0.0) + value
        reasons = memory_reasons(self.spec, ram, storage, Placement(tuple(placed)))

        touched: set[str] = set()
        for flow in evaluator.in_flows[newest.component]:
            sources = evaluator.options(by_name[flow.source])
            targets = evaluator.options(newest)
            best = worst = math.inf
            for source in sources:
                for target in targets:
                    route = evaluator.route(evaluator.network, source, target, flow)
                    if route is None:
                        reasons.append(
                            f"no route from {source.location} to {target.via or target.location} "
                            f"for flow '{flow.name}'"
                        )
                        continue
                    time = evaluator.flow_time(route, flow)
                    best, worst = min(best, time.best), min(worst, time.worst)
                    for hop in route.hops:
                        share = source.probability * target.probability * flow.bytes
                        link_bytes[hop.link.name] = link_bytes.get(hop.link.name, 0.0) + share
                        touched.add(hop.link.name)
                        if flow.stream_bps is not None:
                            link_bytes[f"stream:{hop.link.name}"] = (
                                link_bytes.get(f"stream:{hop.link.name}", 0.0)
                                + source.probability * target.probability * flow.stream_bps
                            )
            flow_min[flow.name] = (best, worst)
        reasons += self._link_reasons(link_bytes, touched)
        reasons += self._latency_reasons(by_name, flow_min)
        reasons += self._budget_reasons(by_name, flow_min)
        return list(dict.fromkeys(reasons))

    def _link_reasons(self, link_bytes: Mapping[str, float], touched: set[str]) -> list[str]:
        utilisation = self.evaluator.utilization(
            {k: v for k, v in link_bytes.items() if not k.startswith("stream:")},
            {
                k.removeprefix("stream:"): v
                for k, v in link_bytes.items()
                if k.startswith("stream:")
            },
        )
        limit = self.spec.requirements.max_link_utilization
        return [
            f"link '{name}' utilisation {utilisation[name]:.3g} > {limit:g}"
            for name in sorted(touched)
            if utilisation[name] > limit + _EPS
        ]

    def _compute_floor(self, name: str, by_name: Mapping[str, Assignment], case: int) -> float:
        if name in by_name:
            options = self.evaluator.options(by_name[name])
            return min(o.compute.worst if case else o.compute.best for o in options)
        return self.cheapest[name][case]

    def _latency_reasons(
        self, by_name: Mapping[str, Assignment], flow_min: Mapping[str, tuple[float, float]]
    ) -> list[str]:
        reasons = []
        for requirement in self.hard:
            case = 1 if requirement.case == "worst" else 0
            bound = sum(self._compute_floor(name, by_name, case) for name in requirement.path)
            for start, end in zip(requirement.path, requirement.path[1:], strict=False):
                times = [
                    flow_min[f.name][case]
                    for f in self.direct.get((start, end), [])
                    if f.name in flow_min
                ]
                bound += max(times, default=0.0)
            # an infinite bound is a missing route, reported as such
            if math.isfinite(bound) and bound > requirement.max_s + _EPS:
                reasons.append(
                    f"latency {requirement.label}: {requirement.case} ≥ {bound:.3f} s "
                    f"> {requirement.max_s:g} s (hard)"
                )
        return reasons

    def _budget_reasons(
        self, by_name: Mapping[str, Assignment], flow_min: Mapping[str, tuple[float, float]]
    ) -> list[str]:
        reasons = []
        evaluator = self.evaluator
        for name, assignment in by_name.items():
            budget = self.spec.components[name].latency_budget_s
            if budget is None:
                continue
            inbound = max(
                (flow_min[f.name][1] for f in evaluator.in_flows[name] if f.name in flow_min),
                default=0.0,
            )
            outbound = max(
                (flow_min[f.name][1] for f in evaluator.out_flows[name] if f.name in flow_min),
                default=0.0,
            )
            loop = inbound + self._compute_floor(name, by_name, 1) + outbound
            if math.isfinite(loop) and loop > budget + _EPS:
                reasons.append(
                    f"{name}@{assignment.location}: its loop takes ≥ {loop:.3f} s "
                    f"> budget {budget:g} s"
                )
        return reasons


def search(
    spec: Spec,
    scenario: str | None = None,
    *,
    exhaustive: bool = False,
    max_nodes: int = MAX_NODES,
) -> SearchResult:
    """Every feasible placement of ``spec`` in ``scenario``, and the rejected ones with reasons.

    Args:
        spec: the system.
        scenario: a network scenario (default: the spec's first).
        exhaustive: evaluate every complete placement instead of cutting branches.
        max_nodes: stop with ``PlanError`` after this many partial placements.

    Raises:
        ConfigError: the scenario is not in the spec.
        PlanError: the search space passed ``max_nodes``.

    Example:
        >>> from roost.plan.load import load_spec
        >>> result = search(load_spec("examples/ar_translation.yaml"))  # doctest: +SKIP
        >>> len(result.feasible), result.evaluated, result.pruned  # doctest: +SKIP
        (10, 10, 7)
    """
    return _Search(spec, scenario, exhaustive=exhaustive, max_nodes=max_nodes).run()
