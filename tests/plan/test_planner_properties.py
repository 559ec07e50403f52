"""Properties of the planner on generated systems (Hypothesis), and a planning-time bound at scale.

- it never places a component where it does not fit (RAM and storage at each location);
- it never reports a latency below the sum of the link latencies on the path;
- a dominated placement is never on front 1;
- adding a link never makes a route slower;
- cutting branches finds exactly the placements that exhaustive search finds;
- the chain DP finds the exhaustive optimum.
"""

from __future__ import annotations

import itertools
import math
import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roost.plan.metrics import objective_sense, objective_value
from roost.plan.network import Network
from roost.plan.pareto import Sense, dominates, fronts
from roost.plan.report import build_report
from roost.plan.search import best_chain, search
from roost.plan.spec import (
    Component,
    Flow,
    Interval,
    LatencyRequirement,
    Link,
    Location,
    Power,
    Replica,
    Requirement,
    SimplePattern,
    Spec,
    Variant,
    Workload,
)

MB = 1e6
PATTERNS = (SimplePattern("client"), SimplePattern("server"))
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------------- generators


@st.composite
def links_between(draw: st.DrawFn, names: list[str]) -> list[Link]:
    """A random spanning tree over ``names``, plus a few extra links."""
    pairs = [(names[i], names[draw(st.integers(0, i - 1))]) for i in range(1, len(names))]
    extra = draw(st.lists(st.sampled_from(list(itertools.combinations(names, 2))), max_size=2))
    links = []
    for index, (a, b) in enumerate(pairs + extra):
        best = draw(st.floats(0.001, 0.1))
        spread = draw(st.floats(0.0, 0.1))
        bandwidth = draw(st.sampled_from([1e5, 1e6, 3e6, 1e7, 1e8]))
        cost = draw(st.sampled_from([0.0, 0.0, 10.0]))
        links.append(Link(f"l{index}", (a, b), Interval(best, best + spread), bandwidth, cost))
    return links


@st.composite
def systems(draw: st.DrawFn, *, is_ram_limited: bool = True, max_components: int = 4) -> Spec:
    """A chain of components on 2-4 locations: a device first, a cloud last."""
    count = draw(st.integers(2, 4))
    names = [*["device", "hub", "edge"][: count - 1], "cloud"]
    locations = {}
    for name in names:
        if name == "cloud":
            locations[name] = Location(name, "cloud", replica=Replica("vm", 0.5))
        elif name == "edge":
            locations[name] = Location(
                name, "edge", ram_bytes=2000 * MB, replica=Replica("box", 0.2)
            )
        else:
            ram = draw(st.integers(100, 1000)) * MB if is_ram_limited else None
            power = Power(draw(st.floats(0.5, 3.0)), draw(st.floats(0.05, 1.0)))
            locations[name] = Location(name, "device", 100, ram_bytes=ram, power=power)
    links = draw(links_between(names))
    n = draw(st.integers(2, max_components))
    components = {}
    for i in range(n):
        name = f"c{i}"
        if i == 0:
            variant = Variant("default", {"device": Interval(0.0, 0.0)})
            components[name] = Component(name, ("device",), (variant,), PATTERNS, is_fixed=True)
            continue
        where = draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True))
        compute = {}
        for location in where:
            best = draw(st.floats(0.001, 0.4))
            compute[location] = Interval(best, best * draw(st.floats(1.0, 1.5)))
        variant = Variant(
            "default",
            compute,
            size_bytes=draw(st.integers(1, 100)) * MB,
            ram_bytes=draw(st.integers(10, 600)) * MB,
        )
        components[name] = Component(name, tuple(where), (variant,), PATTERNS, updates_per_month=1)
    flows = tuple(
        Flow(f"f{i}", f"c{i}", f"c{i + 1}", draw(st.integers(100, 2_000_000))) for i in range(n - 1)
    )
    path = tuple(components)
    latency = (LatencyRequirement(path, draw(st.floats(0.2, 5.0)), "worst", True),)
    return Spec(
        name="generated",
        locations=locations,
        links={link.name: link for link in links},
        network_scenarios={"all": tuple(link.name for link in links)},
        components=components,
        flows=flows,
        workload=Workload(0.1, 600, users=100, peak_concurrent_users=20),
        requirements=Requirement(latency=latency),
        objectives=("latency_worst", "device_energy", "operator_usd", "update_gb"),
    )


# ----------------------------------------------------------------------- properties


@SETTINGS
@given(systems())
def test_planner_never_places_a_component_where_it_does_not_fit(spec: Spec) -> None:
    for metrics in search(spec).feasible:
        used: dict[str, float] = {}
        for assignment in metrics.placement.assignments:
            variant = spec.components[assignment.component].variant(assignment.variant)
            used[assignment.location] = used.get(assignment.location, 0.0) + variant.ram_bytes
        for location, ram in used.items():
            available = spec.locations[location].ram_bytes
            assert available is None or ram <= available + 1e-6


@SETTINGS
@given(systems())
def test_latency_is_never_below_the_link_latencies_on_the_path(spec: Spec) -> None:
    network = Network(spec.scenario_links("all"))
    result = search(spec, exhaustive=True)
    evaluated = [*result.feasible, *(r.metrics for r in result.rejected if r.metrics is not None)]
    assert evaluated
    for metrics in evaluated:
        placement = metrics.placement
        floor_best = floor_worst = 0.0
        for flow in spec.flows:
            route = network.route(
                placement.of(flow.source).location, placement.of(flow.target).location, flow.bytes
            )
            latency = route.latency if route is not None else Interval(math.inf, math.inf)
            floor_best += latency.best
            floor_worst += latency.worst
        (path,) = metrics.latencies
        assert path.expected.best >= floor_best - 1e-9
        assert path.expected.worst >= floor_worst - 1e-9


@SETTINGS
@given(systems())
def test_branch_and_bound_finds_what_exhaustive_search_finds(spec: Spec) -> None:
    pruned, exhaustive = search(spec), search(spec, exhaustive=True)
    assert {m.placement for m in pruned.feasible} == {m.placement for m in exhaustive.feasible}
    assert pruned.evaluated <= exhaustive.evaluated


@SETTINGS
@given(systems(is_ram_limited=False))
def test_chain_dp_finds_the_exhaustive_optimum(spec: Spec) -> None:
    optimum = best_chain(spec, objective="latency_worst")
    result = search(spec, exhaustive=True)
    evaluated = [*result.feasible, *(r.metrics for r in result.rejected if r.metrics is not None)]
    best = min(objective_value(m, "latency_worst") for m in evaluated)
    assert optimum.value == pytest.approx(best, rel=1e-9, abs=1e-12)
    energy = best_chain(spec, objective="device_energy")
    assert energy.value == pytest.approx(
        min(objective_value(m, "device_energy") for m in evaluated), rel=1e-9, abs=1e-12
    )


points = st.lists(
    st.lists(st.integers(0, 5).map(float), min_size=3, max_size=3), min_size=1, max_size=25
)
senses = st.lists(st.sampled_from(["min", "max"]), min_size=3, max_size=3)


@settings(max_examples=200, deadline=None)
@given(points, senses)
def test_a_dominated_point_is_never_on_front_1(
    values: list[list[float]], sense: list[Sense]
) -> None:
    ranks = fronts(values, sense)
    for i, j in itertools.permutations(range(len(values)), 2):
        if dominates(values[i], values[j], sense):
            assert ranks[j] > ranks[i]
            assert ranks[j] != 1
    assert 1 in ranks
    for rank in set(ranks) - {1}:  # every later front is dominated by the one before it
        for j in (k for k, r in enumerate(ranks) if r == rank):
            assert any(
                dominates(values[i], values[j], sense) for i, r in enumerate(ranks) if r == rank - 1
            )


@SETTINGS
@given(systems())
def test_a_dominated_placement_is_never_on_front_1_of_a_report(spec: Spec) -> None:
    report = build_report(spec)
    vectors = {
        row.label: [objective_value(row.metrics, n) for n in report.objectives]
        for row in report.rows
        if row.metrics is not None
    }
    sense = [objective_sense(spec, n) for n in report.objectives]
    for row in report.front:
        assert not any(dominates(other, vectors[row.label], sense) for other in vectors.values())


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_adding_a_link_never_makes_a_route_slower(data: st.DataObject) -> None:
    names = ["a", "b", "c", "d", "e"]
    links = data.draw(links_between(names))
    extra = data.draw(links_between(names))[0]
    extra = Link("new", extra.ends, extra.one_way_latency_s, extra.bandwidth_bps)
    before, after = Network(links), Network([*links, extra])
    size = data.draw(st.sampled_from([0.0, 1000.0, 1e6]))
    for source, target in itertools.permutations(names, 2):
        old, new = before.route(source, target, size), after.route(source, target, size)
        assert old is not None
        assert new is not None
        assert new.transfer_time(size).worst <= old.transfer_time(size).worst + 1e-12


# ---------------------------------------------------------------------------- scale


def generated_system(seed: int = 8) -> Spec:
    """12 components on 4 locations (watch, phone, edge, cloud): a pipeline like a DNN split.

    Early flows are large (raw sensor data) and later ones small; each middle component
    may run at two or three of the four locations.
    """
    rng = random.Random(seed)
    locations = {
        "watch": Location("watch", "device", 10_000, ram_bytes=300 * MB, power=Power(1.0, 0.1)),
        "phone": Location("phone", "device", 10_000, ram_bytes=2000 * MB, power=Power(3.0, 1.0)),
        "edge": Location("edge", "edge", ram_bytes=8000 * MB, replica=Replica("box", 0.3)),
        "cloud": Location("cloud", "cloud", replica=Replica("gpu", 0.75)),
    }
    links = {
        "bt": Link("bt", ("watch", "phone"), Interval(0.02, 0.1), 3e6),
        "wifi": Link("wifi", ("phone", "edge"), Interval(0.005, 0.01), 50e6),
        "cell": Link("cell", ("phone", "cloud"), Interval(0.05, 0.08), 10e6, usd_per_gb=10),
        "backbone": Link("backbone", ("edge", "cloud"), Interval(0.01, 0.01), 1e9),
    }
    speed = {"watch": 1.0, "phone": 0.25, "edge": 0.05, "cloud": 0.02}
    components = {
        "sensor": Component(
            "sensor",
            ("watch",),
            (Variant("default", {"watch": Interval(0, 0)}),),
            PATTERNS,
            is_fixed=True,
        )
    }
    for i in range(10):
        where = rng.sample(list(speed), rng.choice([2, 3]))
        work = rng.uniform(0.05, 0.3)
        compute = {loc: Interval(work * speed[loc], work * speed[loc] * 1.2) for loc in where}
        variant = Variant(
            "default",
            compute,
            size_bytes=rng.randint(5, 80) * MB,
            ram_bytes=rng.randint(50, 250) * MB,
        )
        components[f"m{i}"] = Component(
            f"m{i}", tuple(where), (variant,), PATTERNS, updates_per_month=1
        )
    components["display"] = Component(
        "display",
        ("watch",),
        (Variant("default", {"watch": Interval(0, 0)}),),
        PATTERNS,
        is_fixed=True,
    )
    names = list(components)
    flows = tuple(
        Flow(f"f{i}", a, b, max(500.0, 2e5 / (2**i)))
        for i, (a, b) in enumerate(itertools.pairwise(names))
    )
    return Spec(
        name="twelve",
        locations=locations,
        links=links,
        network_scenarios={"online": ("bt", "wifi", "cell", "backbone"), "offline": ("bt",)},
        components=components,
        flows=flows,
        workload=Workload(0.2, 3600, users=10_000, peak_concurrent_users=2_000),
        requirements=Requirement(latency=(LatencyRequirement(tuple(names), 3.0),)),
        objectives=("latency_worst", "watch_energy", "phone_energy", "operator_usd", "update_gb"),
    )


def test_twelve_components_on_four_locations_plan_in_seconds() -> None:
    spec = generated_system()
    assert len(spec.components) == 12
    assert len(spec.locations) == 4
    started = time.perf_counter()
    report = build_report(spec)
    elapsed = time.perf_counter() - started
    print(
        f"\nplanned 12 components on 4 locations in {elapsed:.2f} s: "
        f"{report.evaluated} evaluated, {report.pruned} branches cut, "
        f"{len(report.rows)} feasible, {len(report.front)} on front 1"
    )
    assert report.evaluated > 1000  # a real search, not one that pruning ends at once
    assert report.rows
    assert report.recommendation is not None
    assert elapsed < 20
