"""Exact DP on chains: ``best_chain``, the polynomial special case of the search.

When the flows form one chain, dynamic programming over (component, candidate) finds
the placement that minimises one additive objective in O(n·k²), ignoring co-location
and link limits. ``search.py`` re-exports it.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from roost.errors import ConfigError, PlanError
from roost.plan._candidates import candidates
from roost.plan.evaluate import Evaluator
from roost.plan.network import Network
from roost.plan.placement import Assignment, Option, Placement
from roost.plan.spec import Flow, Spec


@dataclass(frozen=True, slots=True)
class ChainOptimum:
    """The placement of a chain that minimises one additive objective, and its value."""

    placement: Placement
    objective: str
    value: float


def _chain(spec: Spec, evaluator: Evaluator) -> list[Flow]:
    """The flows in chain order; ConfigError unless they link every component in one line."""
    order = evaluator.order
    links = []
    for start, end in itertools.pairwise(order):
        between = [f for f in spec.flows if (f.source, f.target) == (start, end)]
        if len(between) != 1:
            raise ConfigError(
                f"best_chain: expected one flow from {start!r} to {end!r}, got {len(between)}"
            )
        links.append(between[0])
    if len(spec.flows) != len(links):
        raise ConfigError("best_chain: expected the flows to form a single chain")
    return links


def best_chain(
    spec: Spec, scenario: str | None = None, objective: str = "latency_worst"
) -> ChainOptimum:
    """The exact optimum of one additive objective for a chain of components (DP, O(n·k²)).

    The objective is the expected latency along the whole chain (``latency_worst`` or
    ``latency_best``), or the energy per request at one device (``<location>_energy``).
    Only each candidate's own fit is checked: co-location, link and latency limits are
    not, so check the answer with ``evaluate``. Neurosurgeon's split search is the case
    of two locations.

    Raises:
        ConfigError: the flows are not one chain, or the objective is not additive.
        PlanError: no candidate fits for some component.
    """
    evaluator = Evaluator(spec, scenario)
    flows = _chain(spec, evaluator)
    if objective in ("latency_worst", "latency_best"):
        case = 1 if objective == "latency_worst" else 0
        device = None
    elif objective.endswith("_energy") and objective.removesuffix("_energy") in spec.locations:
        case, device = 1, objective.removesuffix("_energy")
    else:
        raise ConfigError(
            f"best_chain: objective {objective!r} is not additive "
            "(expected latency_worst, latency_best or <location>_energy)"
        )

    def node_cost(assignment: Assignment) -> float:
        total = 0.0
        for option in evaluator.options(assignment):
            if device is None:
                total += option.probability * (
                    option.compute.worst if case else option.compute.best
                )
            elif option.location == device:
                power = spec.locations[device].power
                total += (
                    option.probability * (power.compute_w if power else 0.0) * option.compute.worst
                )
        return total

    def edge_cost(source: Assignment, target: Assignment, flow: Flow) -> float:
        total = 0.0
        for s in evaluator.options(source):
            for t in evaluator.options(target):
                total += (
                    s.probability
                    * t.probability
                    * _edge(evaluator, evaluator.network, s, t, flow, case, device)
                )
        return total

    layers = []
    for name in evaluator.order:
        fitting = [
            a for a, reasons in candidates(spec, spec.components[name], evaluator) if not reasons
        ]
        if not fitting:
            raise PlanError(f"best_chain: no candidate of {name!r} fits anywhere")
        layers.append(fitting)
    cost = [node_cost(a) for a in layers[0]]
    back: list[list[int]] = []
    for depth in range(1, len(layers)):
        flow = flows[depth - 1]
        new_cost, pointers = [], []
        for target in layers[depth]:
            steps = [
                cost[i] + edge_cost(source, target, flow)
                for i, source in enumerate(layers[depth - 1])
            ]
            best = min(range(len(steps)), key=steps.__getitem__)
            new_cost.append(steps[best] + node_cost(target))
            pointers.append(best)
        cost = new_cost
        back.append(pointers)
    index = min(range(len(cost)), key=cost.__getitem__)
    value = cost[index]
    picked = [layers[-1][index]]
    for depth in range(len(layers) - 1, 0, -1):
        index = back[depth - 1][index]
        picked.append(layers[depth - 1][index])
    return ChainOptimum(Placement(tuple(reversed(picked))), objective, value)


def _edge(
    evaluator: Evaluator,
    network: Network,
    source: Option,
    target: Option,
    flow: Flow,
    case: int,
    device: str | None,
) -> float:
    route = evaluator.route(network, source, target, flow)
    if route is None:
        return math.inf
    if device is None:
        time = evaluator.flow_time(route, flow)
        return time.worst if case else time.best
    power = evaluator.spec.locations[device].power
    if power is None:
        return 0.0
    return sum(
        power.radio_on(hop.link.name) * hop.serialise_s(flow.bytes)
        for hop in route.hops
        if device in (hop.source, hop.target)
    )
