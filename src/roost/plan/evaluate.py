"""Evaluating a placement: its metrics in one network scenario (research note §4.3).

For each required path, the critical-path latency, best and worst; each link's
utilisation; bytes and data cost per user per month; device energy per request;
operator cost from the replicas at average and peak load (``capacity.replicas_for``);
model-update bytes per month and the time to push one; offline coverage; the
telemetry opportunity (0, 1, 2); sensitive bytes that reach a cloud.

A cached or hybrid component runs in more than one place (``placement.options``):
metrics are expectations over those ways, and a hard limit is checked on the worst of
them. ``Metrics.reasons`` lists every hard constraint the placement breaks; it is
feasible when there are none.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping

from roost.errors import ConfigError
from roost.plan.capacity import CapacityPlan, replicas_for
from roost.plan.footprint import (
    accuracy,
    device_models,
    memory,
    memory_reasons,
    update_bytes,
    update_lag,
)
from roost.plan.metrics import GB, Metrics, PathLatency, Replicas
from roost.plan.network import Network, Route
from roost.plan.placement import OFFLINE, Assignment, Option, Placement, options
from roost.plan.spec import (
    Flow,
    Interval,
    Spec,
    topological_order,
)

__all__ = ["Evaluator", "evaluate"]


# ------------------------------------------------------------------------ evaluator


class _Outcome:
    """What one way of running the placement costs (one realisation of its options)."""

    __slots__ = (
        "egress",
        "energy",
        "flow_times",
        "link_bytes",
        "missing",
        "sensitive_cloud",
        "stream_bps",
        "telemetry",
        "to_server",
        "unseen",
        "wan",
    )

    def __init__(self) -> None:
        self.flow_times: dict[str, Interval] = {}
        self.missing: list[str] = []
        self.link_bytes: dict[str, float] = {}
        self.stream_bps: dict[str, float] = {}
        self.energy: dict[str, float] = {}
        self.egress: dict[str, float] = {}
        self.sensitive_cloud = 0.0
        self.to_server = 0.0
        self.wan = 0.0
        self.telemetry = 0
        self.unseen = 0.0


def _add(totals: dict[str, float], key: str, value: float) -> None:
    totals[key] = totals.get(key, 0.0) + value


class Evaluator:
    """Evaluates placements of one spec in one scenario, caching routes and replica counts.

    ``evaluate(spec, placement)`` is the one-shot form; the search keeps one of these.
    """

    def __init__(self, spec: Spec, scenario: str | None = None) -> None:
        self.spec = spec
        self.scenario = scenario if scenario is not None else spec.default_scenario
        self.network = Network(spec.scenario_links(self.scenario))
        self.offline_network = Network(spec.offline_links())
        self.order = topological_order(tuple(spec.components), spec.flows)
        self.in_flows: dict[str, list[Flow]] = {name: [] for name in spec.components}
        self.out_flows: dict[str, list[Flow]] = {name: [] for name in spec.components}
        for flow in spec.flows:
            self.in_flows[flow.target].append(flow)
            self.out_flows[flow.source].append(flow)
        self._reach = self._reachability()
        self._segments = [self._segment_nodes(r.path) for r in spec.requirements.latency]
        self._plans: dict[tuple[float, float], CapacityPlan] = {}
        self._options: dict[tuple[Assignment, str], tuple[Option, ...]] = {}

    # -- building blocks the search uses too

    def options(self, assignment: Assignment, scenario: str | None = None) -> tuple[Option, ...]:
        """The ways ``assignment`` runs in ``scenario`` (default: this evaluator's)."""
        key = (assignment, scenario if scenario is not None else self.scenario)
        if key not in self._options:
            self._options[key] = options(self.spec, assignment, key[1])
        return self._options[key]

    def route(self, network: Network, source: Option, target: Option, flow: Flow) -> Route | None:
        """The route of ``flow`` between two options (through a cache's table on a miss)."""
        if target.via is not None and target.via != source.location:
            first = network.route(source.location, target.via, flow.bytes)
            second = network.route(target.via, target.location, flow.bytes)
            return None if first is None or second is None else first + second
        return network.route(source.location, target.location, flow.bytes)

    def flow_time(self, route: Route, flow: Flow) -> Interval:
        """The time ``flow`` takes on ``route``."""
        return route.transfer_time(flow.bytes, cut_through=self.spec.transfer == "cut_through")

    # -- evaluation

    def evaluate(self, placement: Placement) -> Metrics:
        """All metrics of ``placement`` in this evaluator's scenario."""
        spec = self.spec
        workload = spec.workload
        reasons: list[str] = []
        ram, storage = memory(self.spec, placement)
        reasons += memory_reasons(self.spec, ram, storage, placement)

        realisations = self._realisations(placement, self.scenario)
        n_paths = len(spec.requirements.latency)
        expected = [[0.0, 0.0] for _ in range(n_paths)]
        bound = [[0.0, 0.0] for _ in range(n_paths)]
        link_bytes: dict[str, float] = {}
        stream_bps: dict[str, float] = {}
        energy: dict[str, float] = {}
        egress: dict[str, float] = {}
        sensitive = to_server = wan = 0.0
        telemetry = 0
        unseen = 0.0
        shares: dict[tuple[str, str], float] = {}
        services: dict[tuple[str, str], float] = {}
        missing: list[str] = []
        budget_worst: dict[str, float] = {}
        for probability, chosen in realisations:
            outcome = self._outcome(self.network, chosen)
            for index in range(n_paths):
                best, worst = self._path_latency(index, chosen, outcome.flow_times)
                expected[index][0] += probability * best
                expected[index][1] += probability * worst
                bound[index][0] = max(bound[index][0], best)
                bound[index][1] = max(bound[index][1], worst)
            for name, loop in self._budget_loops(chosen, outcome.flow_times).items():
                budget_worst[name] = max(budget_worst.get(name, 0.0), loop)
            for totals, parts in (
                (link_bytes, outcome.link_bytes),
                (stream_bps, outcome.stream_bps),
                (energy, outcome.energy),
                (egress, outcome.egress),
            ):
                for key, value in parts.items():
                    _add(totals, key, probability * value)
            sensitive += probability * outcome.sensitive_cloud
            to_server += probability * outcome.to_server
            wan += probability * outcome.wan
            telemetry = max(telemetry, outcome.telemetry)
            unseen += probability * outcome.unseen
            missing += [m for m in outcome.missing if m not in missing]
            for name, option in chosen.items():
                if spec.locations[option.location].is_server and option.compute.worst > 0:
                    server = (name, option.location)
                    shares[server] = shares.get(server, 0.0) + probability
                    services[server] = option.variant.compute_s[option.location].worst

        reasons += missing
        latencies = tuple(
            PathLatency(requirement, Interval(*expected[i]), Interval(*bound[i]))
            for i, requirement in enumerate(spec.requirements.latency)
        )
        reasons += [
            f"latency {p.requirement.label}: {p.requirement.case} "
            f"{_case(p.bound, p.requirement.case):.3f} s > {p.requirement.max_s:g} s (hard)"
            for p in latencies
            if p.requirement.is_hard and not p.is_met and not missing
        ]
        for name, loop in budget_worst.items():
            limit = spec.components[name].latency_budget_s
            if limit is not None and loop > limit + 1e-12:
                where = placement.of(name).location
                reasons.append(
                    f"{name}@{where}: its loop takes up to {loop:.3f} s > budget {limit:g} s"
                )

        utilization = self.utilization(link_bytes, stream_bps)
        limit_u = spec.requirements.max_link_utilization
        reasons += [
            f"link '{name}' utilisation {value:.3g} > {limit_u:g}"
            for name, value in utilization.items()
            if value > limit_u + 1e-12
        ]
        per_user = workload.requests_per_user_month
        stream_s = workload.active_s_per_user_per_day * workload.days_per_month
        monthly = {
            name: link_bytes.get(name, 0.0) * per_user + stream_bps.get(name, 0.0) / 8 * stream_s
            for name in utilization
        }
        user_usd = sum(monthly[name] * spec.links[name].usd_per_gb / GB for name in monthly)

        replicas, capacity_reasons = self._replicas(shares, services)
        reasons += capacity_reasons
        fleet_requests = workload.users * per_user
        egress_usd = sum(
            egress[loc] * fleet_requests * spec.locations[loc].egress_usd_per_gb / GB
            for loc in egress
        )
        coverage = self._offline_coverage(placement)
        if spec.requirements.offline == "required" and coverage < 1 - 1e-9:
            reasons.append(f"offline required, but {coverage:.0%} of requests work offline")
        if spec.requirements.sensitive_bytes_to_cloud == "forbidden" and sensitive > 0:
            reasons.append(
                f"{sensitive:,.0f} sensitive bytes per request reach a cloud (forbidden)"
            )

        rate = workload.requests_per_s_per_active_user
        power = {loc: joules * rate for loc, joules in energy.items()}
        metrics = Metrics(
            placement=placement,
            scenario=self.scenario,
            reasons=tuple(reasons),
            latencies=latencies,
            link_utilization=utilization,
            link_bytes_per_user_month=monthly,
            wan_bytes_per_user_month=wan * per_user,
            user_usd_month=user_usd,
            energy_j=energy,
            average_power_w=power,
            battery_h=self._battery(power),
            replicas=replicas,
            operator_usd_month_average=sum(r.usd_month_average for r in replicas) + egress_usd,
            operator_usd_month_peak=sum(r.usd_month_peak for r in replicas) + egress_usd,
            update_bytes_month=update_bytes(self.spec, placement),
            update_push_s=self._push_time(placement),
            update_lag=update_lag(self.spec, placement),
            offline_coverage=coverage,
            telemetry=telemetry,
            telemetry_bytes_per_user_month=self._telemetry_uploads(unseen) * per_user,
            sensitive_bytes_per_request=sensitive,
            sensitive_bytes_per_user_month=sensitive * per_user,
            to_server_bytes_month=to_server * fleet_requests,
            ram_bytes=ram,
            accuracy=accuracy(self.spec, placement),
        )
        return metrics

    def _realisations(
        self, placement: Placement, scenario: str
    ) -> list[tuple[float, dict[str, Option]]]:
        """Every combination of the assignments' options, with its probability."""
        names = [a.component for a in placement.assignments]
        choices = [self.options(a, scenario) for a in placement.assignments]
        result = []
        for combination in itertools.product(*choices):
            probability = math.prod(option.probability for option in combination)
            if probability > 0:
                result.append((probability, dict(zip(names, combination, strict=True))))
        return result

    def _outcome(self, network: Network, chosen: Mapping[str, Option]) -> _Outcome:
        spec = self.spec
        locations = spec.locations
        out = _Outcome()
        for option in chosen.values():
            power = locations[option.location].power
            if power is not None:
                _add(out.energy, option.location, power.compute_w * option.compute.worst)
            if locations[option.location].is_server and option.compute.worst > 0:
                out.telemetry = max(out.telemetry, 1)
        for flow in spec.flows:
            source, target = chosen[flow.source], chosen[flow.target]
            route = self.route(network, source, target, flow)
            if route is None:
                out.missing.append(
                    f"no route from {source.location} to {target.via or target.location} "
                    f"for flow '{flow.name}'"
                )
                out.flow_times[flow.name] = Interval(math.inf, math.inf)
                continue
            out.flow_times[flow.name] = self.flow_time(route, flow)
            if locations[target.location].is_server:
                out.telemetry = max(out.telemetry, 2 if flow.is_sensitive else 1)
            elif flow.is_sensitive:
                out.unseen += flow.bytes  # raw input no server sees: telemetry must upload it
            reaches_cloud = False
            for hop in route.hops:
                link = hop.link.name
                _add(out.link_bytes, link, flow.bytes)
                if flow.stream_bps is not None:
                    _add(out.stream_bps, link, flow.stream_bps)
                seconds = hop.serialise_s(flow.bytes)
                for end in (hop.source, hop.target):
                    power = locations[end].power
                    if power is not None:
                        _add(out.energy, end, power.radio_on(link) * seconds)
                from_server = locations[hop.source].is_server
                to_server = locations[hop.target].is_server
                if to_server and not from_server:
                    out.to_server += flow.bytes
                if from_server and not to_server:
                    _add(out.egress, hop.source, flow.bytes)
                if from_server or to_server:
                    out.wan += flow.bytes
                reaches_cloud = reaches_cloud or locations[hop.target].kind == "cloud"
            if flow.is_sensitive and reaches_cloud:
                out.sensitive_cloud += flow.bytes
        return out

    # -- latency

    def _reachability(self) -> dict[str, set[str]]:
        reach: dict[str, set[str]] = {}
        for name in reversed(self.order):
            reach[name] = {name}
            for flow in self.out_flows[name]:
                reach[name] |= reach[flow.target]
        return reach

    def _segment_nodes(self, path: tuple[str, ...]) -> list[list[str]]:
        """For each step of ``path``, the components on some DAG path between its ends."""
        segments = []
        for start, end in itertools.pairwise(path):
            if end not in self._reach[start]:
                raise ConfigError(f"latency path: no flows lead from {start!r} to {end!r}")
            segments.append(
                [n for n in self.order if n in self._reach[start] and end in self._reach[n]]
            )
        return segments

    def _path_latency(
        self, index: int, chosen: Mapping[str, Option], flow_times: Mapping[str, Interval]
    ) -> tuple[float, float]:
        """The critical-path latency of requirement ``index``, best and worst."""
        path = self.spec.requirements.latency[index].path
        first = chosen[path[0]].compute
        best, worst = first.best, first.worst
        for nodes in self._segments[index]:
            start = nodes[0]
            dist: dict[str, tuple[float, float]] = {start: (0.0, 0.0)}
            for node in nodes[1:]:
                arrivals = [
                    (
                        dist[f.source][0] + flow_times[f.name].best,
                        dist[f.source][1] + flow_times[f.name].worst,
                    )
                    for f in self.in_flows[node]
                    if f.source in dist
                ]
                compute = chosen[node].compute
                dist[node] = (
                    max(a[0] for a in arrivals) + compute.best,
                    max(a[1] for a in arrivals) + compute.worst,
                )
            best += dist[nodes[-1]][0]
            worst += dist[nodes[-1]][1]
        return best, worst

    def _budget_loops(
        self, chosen: Mapping[str, Option], flow_times: Mapping[str, Interval]
    ) -> dict[str, float]:
        """For each component with a latency budget: worst inbound + compute + worst outbound."""
        loops = {}
        for name, component in self.spec.components.items():
            if component.latency_budget_s is None:
                continue
            inbound = max((flow_times[f.name].worst for f in self.in_flows[name]), default=0.0)
            outbound = max((flow_times[f.name].worst for f in self.out_flows[name]), default=0.0)
            loops[name] = inbound + chosen[name].compute.worst + outbound
        return loops

    # -- links, memory, money

    def utilization(
        self, link_bytes: Mapping[str, float], stream_bps: Mapping[str, float]
    ) -> dict[str, float]:
        spec = self.spec
        workload = spec.workload
        concurrent = workload.peak_concurrent_users or max(
            1.0, workload.users * workload.active_s_per_user_per_day / 86_400
        )
        result = {}
        for link in self.network.links:
            bits = 8 * link_bytes.get(link.name, 0.0) * workload.requests_per_s_per_active_user
            load = (bits + stream_bps.get(link.name, 0.0)) / link.bandwidth_bps
            result[link.name] = load * concurrent if link.is_shared else load
        return result

    def _replicas(
        self, shares: Mapping[tuple[str, str], float], services: Mapping[tuple[str, str], float]
    ) -> tuple[tuple[Replicas, ...], list[str]]:
        spec = self.spec
        capacity = spec.capacity
        result: list[Replicas] = []
        reasons: list[str] = []
        # the service time is the worst compute time, without the reserved queueing wait
        for (name, location), share in shares.items():
            service = services[(name, location)]
            counts = []
            for rate in (spec.workload.average_rps * share, spec.workload.peak_rps * share):
                key = (rate, service)
                if key not in self._plans:
                    self._plans[key] = replicas_for(
                        rate,
                        service,
                        capacity.slo_s,
                        percentile=capacity.percentile,
                        arrival_cv2=capacity.arrival_cv2,
                        service_cv2=capacity.service_cv2,
                        max_utilization=capacity.max_utilization,
                        headroom=capacity.headroom_factor,
                    )
                counts.append(self._plans[key])
            if not all(plan.feasible for plan in counts):
                reasons.append(f"{name}@{location}: {counts[0].reason}")
                continue
            replica = spec.locations[location].replica
            price = (replica.usd_per_hour if replica else 0.0) * capacity.hours_per_month
            average, peak = counts[0].replicas, counts[1].replicas
            result.append(
                Replicas(name, location, share, average, peak, average * price, peak * price)
            )
        return tuple(result), reasons

    def _offline_coverage(self, placement: Placement) -> float:
        """The share of requests that complete, within the hard limits, without the internet."""
        coverage = 0.0
        for probability, chosen in self._realisations(placement, OFFLINE):
            outcome = self._outcome(self.offline_network, chosen)
            if outcome.missing:
                continue
            paths_ok = all(
                not requirement.is_hard
                or _case(
                    Interval(*self._path_latency(i, chosen, outcome.flow_times)), requirement.case
                )
                <= requirement.max_s + 1e-12
                for i, requirement in enumerate(self.spec.requirements.latency)
            )
            if paths_ok:
                coverage += probability
        return min(1.0, coverage)

    def _telemetry_uploads(self, unseen: float) -> float:
        """Bytes per request of sampled raw inputs uploaded (when an ``upload_on`` link is up)."""
        telemetry = self.spec.telemetry
        up = {link.name for link in self.network.links}
        if telemetry.sample_rate <= 0 or (
            telemetry.upload_on and not up & set(telemetry.upload_on)
        ):
            return 0.0
        return telemetry.sample_rate * unseen

    def _battery(self, power: Mapping[str, float]) -> dict[str, float]:
        result = {}
        for name, watts in power.items():
            location = self.spec.locations[name]
            if location.battery_wh is None or location.power is None:
                continue
            draw = watts + location.power.idle_w
            if draw > 0:
                result[name] = location.battery_wh / draw
        return result

    # -- updates

    def _push_time(self, placement: Placement) -> float | None:
        servers = [name for name, loc in self.spec.locations.items() if loc.is_server]
        worst: float | None = None
        for location, size in device_models(self.spec, placement):
            routes = [self.network.route(s, location, size) for s in servers]
            bandwidths = [r.min_bandwidth_bps for r in routes if r is not None and r.hops]
            if bandwidths:
                seconds = 8 * size / min(b for b in bandwidths if b is not None)
                worst = seconds if worst is None else max(worst, seconds)
        return worst


def _case(interval: Interval, case: str) -> float:
    return interval.worst if case == "worst" else interval.best


def evaluate(spec: Spec, placement: Placement, scenario: str | None = None) -> Metrics:
    """The metrics of ``placement`` in ``scenario`` (default: the spec's first scenario).

    Raises:
        ConfigError: the scenario is not in the spec.

    Example:
        >>> from roost.plan.load import parse_spec
        >>> from roost.plan.spec import SimplePattern
        >>> spec = parse_spec('''
        ... locations: {phone: {kind: device}, cloud: {kind: cloud}}
        ... links: {lte: {ends: [phone, cloud], one_way_latency_s: 50 ms, bandwidth_bps: 8 Mbit/s}}
        ... components:
        ...   mic: {fixed_at: phone}
        ...   asr: {variants: {default: {compute_s: {phone: 0.3, cloud: 0.05}}}}
        ... flows: [{from: mic, to: asr, bytes: 100 KB}]
        ... requirements: {latency: [{path: [mic, asr], max_s: 0.5}]}
        ... workload: {requests_per_s_per_active_user: 0.1, active_s_per_user_per_day: 600}
        ... ''')
        >>> placement = Placement((
        ...     Assignment("mic", "phone", SimplePattern("client")),
        ...     Assignment("asr", "cloud", SimplePattern("server")),
        ... ))
        >>> round(evaluate(spec, placement).latency.worst, 3)  # 50 ms + 0.1 s + 50 ms
        0.2
    """
    return Evaluator(spec, scenario).evaluate(placement)
