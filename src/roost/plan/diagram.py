"""A Mermaid flowchart of one placement: a subgraph per location, a labelled edge per flow.

Edges carry the flow's bytes per request and, for each link it crosses, the link's
latency and utilisation. A hybrid's fallback and a cache's miss path are dashed.
"""

from __future__ import annotations

import math
import re

from roost.plan.metrics import Metrics
from roost.plan.network import Network
from roost.plan.spec import CachedPattern, HybridPattern, Spec

__all__ = ["mermaid"]


def _node_id(text: str) -> str:
    return re.sub(r"\W", "_", text)


def _size(size_bytes: float) -> str:
    for unit, factor in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if size_bytes >= factor:
            return f"{size_bytes / factor:.3g} {unit}"
    return f"{size_bytes:.0f} B"


def _seconds(low: float, high: float) -> str:
    if math.isclose(low, high):
        return f"{low * 1000:.3g} ms" if low < 1 else f"{low:.3g} s"
    return f"{low * 1000:.3g}-{high * 1000:.3g} ms" if high < 1 else f"{low:.3g}-{high:.3g} s"


def mermaid(spec: Spec, metrics: Metrics) -> str:
    """A Mermaid flowchart of one placement: a subgraph per location, a labelled edge per flow.

    A hybrid's fallback and a cache's miss path are drawn dashed.
    """
    placement = metrics.placement
    replicas = {(r.component, r.location): r for r in metrics.replicas}
    network = Network(spec.scenario_links(metrics.scenario))
    nodes: dict[str, list[tuple[str, str]]] = {name: [] for name in spec.locations}
    # (node id, location) of each component's main node, and of its dashed alternative
    main: dict[str, tuple[str, str]] = {}
    alternative: dict[str, tuple[str, str]] = {}

    def add(component: str, location: str, suffix: str, note: str) -> tuple[str, str]:
        node = _node_id(f"{component}_{location}{suffix}")
        variant = spec.components[component].variant(placement.of(component).variant)
        compute = variant.compute_s.get(location)
        text = component + note
        if compute is not None and compute.worst > 0:
            text += f" {_seconds(compute.best, compute.worst)}"
        if (component, location) in replicas:
            r = replicas[(component, location)]
            text += f", {r.average}-{r.peak} replicas"
        nodes[location].append((node, text))
        return node, location

    for assignment in placement.assignments:
        name, pattern = assignment.component, assignment.pattern
        if isinstance(pattern, HybridPattern):
            main[name] = add(name, pattern.primary, "", "")
            alternative[name] = add(name, pattern.fallback, "_fallback", " (offline fallback)")
        elif isinstance(pattern, CachedPattern):
            main[name] = add(
                name, pattern.store_at, "_cache", f" cache, hit {pattern.hit_rate:.0%}"
            )
            alternative[name] = add(name, pattern.miss_to, "", " (on a miss)")
        else:
            main[name] = add(name, assignment.location, "", "")

    lines = ["flowchart LR"]
    for location, entries in nodes.items():
        if not entries:
            continue
        lines.append(f"  subgraph {_node_id(location)}[{location}]")
        lines += [f'    {node}["{text}"]' for node, text in entries]
        lines.append("  end")
    for flow in spec.flows:
        for source_map, target_map, arrow in (
            (main, main, "-->"),
            (alternative, main, "-.->"),
            (main, alternative, "-.->"),
        ):
            if flow.source not in source_map or flow.target not in target_map:
                continue
            (source, source_at), (target, target_at) = (
                source_map[flow.source],
                target_map[flow.target],
            )
            label = f"{flow.name} {_size(flow.bytes)}"
            route = network.route(source_at, target_at, flow.bytes)
            for hop in route.hops if route is not None else ():
                utilisation = metrics.link_utilization.get(hop.link.name, 0.0)
                latency = hop.link.one_way_latency_s
                timing = _seconds(latency.best, latency.worst)
                label += f" | {hop.link.name} {timing}, util {utilisation:.2%}"
            if arrow == "-->":
                lines.append(f'  {source} -- "{label}" --> {target}')
            else:
                lines.append(f'  {source} -. "{label}" .-> {target}')
    return "\n".join(lines) + "\n"
