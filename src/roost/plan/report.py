"""What the planner tells a reader: table rows, the Pareto front, a recommendation, a diagram.

``build_report`` searches one network scenario, ranks the feasible placements into
Pareto fronts on the spec's objectives, and recommends one, with its reasoning:

1. the candidates are front 1;
2. ``offline: preferred`` keeps those that work offline for the most requests;
3. ``sensitive_bytes_to_cloud: discouraged`` keeps those that send the fewest;
4. if any meet every soft latency target, only those are kept;
5. the lowest worst-case latency wins; ties go to the freshest models (update lag:
   a model that can be updated beats one bundled for good), then to the objectives
   in the order the spec lists them.

``Row``, ``Recommendation`` and the picking live in ``_recommend.py``.
Nothing here prints: the CLI renders the rows with Rich, or prints ``to_json()``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from roost.plan._recommend import Recommendation, Row, _recommend, _warnings
from roost.plan.diagram import mermaid
from roost.plan.metrics import Metrics, objective_sense, objective_value
from roost.plan.pareto import fronts
from roost.plan.placement import Assignment
from roost.plan.search import search
from roost.plan.spec import CachedPattern, HybridPattern, Spec

__all__ = [
    "Recommendation",
    "Report",
    "Row",
    "build_report",
    "metrics_json",
    "placement_label",
    "project_front",
]

MB = 1e6


@dataclass(frozen=True, slots=True)
class Report:
    """A planned system in one scenario: feasible rows by front, rejected rows, the pick."""

    spec: Spec
    scenario: str
    objectives: tuple[str, ...]
    #: feasible placements, front 1 first, quickest first within a front
    rows: tuple[Row, ...]
    #: infeasible placements and cut branches, with their reasons ("why not")
    rejected: tuple[Row, ...]
    recommendation: Recommendation | None
    #: things the reader should know that break no hard constraint
    warnings: tuple[str, ...]
    evaluated: int
    pruned: int

    @property
    def front(self) -> tuple[Row, ...]:
        """The non-dominated feasible rows."""
        return tuple(row for row in self.rows if row.rank == 1)

    def to_json(self) -> dict[str, Any]:
        """The report as plain JSON values (infinite numbers become null)."""
        recommendation = self.recommendation
        return {
            "system": self.spec.name,
            "scenario": self.scenario,
            "objectives": {name: objective_sense(self.spec, name) for name in self.objectives},
            "evaluated": self.evaluated,
            "pruned": self.pruned,
            "placements": [_row_json(row) for row in self.rows],
            "front": [row.label for row in self.front],
            "rejected": [_row_json(row) for row in self.rejected],
            "recommendation": None
            if recommendation is None
            else {"placement": recommendation.label, "reasoning": list(recommendation.reasoning)},
            "warnings": list(self.warnings),
            "mermaid": self.mermaid() if recommendation is not None else None,
        }

    def mermaid(self) -> str:
        """A Mermaid flowchart of the recommended placement (empty if there is none)."""
        if self.recommendation is None:
            return ""
        return mermaid(self.spec, self.recommendation.metrics)


def build_report(
    spec: Spec,
    scenario: str | None = None,
    *,
    objectives: Sequence[str] | None = None,
    exhaustive: bool = False,
) -> Report:
    """Search ``scenario``, rank the feasible placements, and recommend one.

    Args:
        spec: the system.
        scenario: the network scenario (default: the spec's first).
        objectives: the objectives to rank on (default: the spec's).
        exhaustive: evaluate every placement rather than cutting branches.

    Raises:
        ConfigError: an unknown scenario or objective.

    Example:
        >>> from roost.plan.load import load_spec
        >>> report = build_report(load_spec("examples/ar_translation.yaml"))  # doctest: +SKIP
        >>> report.recommendation.label  # doctest: +SKIP
        'G-hybrid(C|P)'
    """
    names = tuple(objectives) if objectives is not None else spec.objectives
    senses = [objective_sense(spec, name) for name in names]
    result = search(spec, scenario, exhaustive=exhaustive)
    points = [[objective_value(m, name) for name in names] for m in result.feasible]
    ranks = fronts(points, senses)
    rows = sorted(
        (
            Row(
                placement_label(spec, m.placement.assignments), m.placement.assignments, m, (), rank
            )
            for m, rank in zip(result.feasible, ranks, strict=True)
        ),
        key=lambda row: (
            row.rank or 0,
            row.metrics.latency.worst if row.metrics else 0.0,
            row.label,
        ),
    )
    rejected = tuple(
        Row(placement_label(spec, r.assignments), r.assignments, r.metrics, r.reasons, None)
        for r in result.rejected
    )
    return Report(
        spec=spec,
        scenario=result.scenario,
        objectives=names,
        rows=tuple(rows),
        rejected=rejected,
        recommendation=_recommend(spec, names, rows),
        warnings=tuple(_warnings(spec, rows)),
        evaluated=result.evaluated,
        pruned=result.pruned,
    )


def project_front(report: Report, objectives: Sequence[str]) -> tuple[Row, ...]:
    """The feasible rows that are non-dominated on a few objectives only (a projection)."""
    senses = [objective_sense(report.spec, name) for name in objectives]
    metrics = [row.metrics for row in report.rows if row.metrics is not None]
    points = [[objective_value(m, name) for name in objectives] for m in metrics]
    ranks = fronts(points, senses)
    return tuple(row for row, rank in zip(report.rows, ranks, strict=True) if rank == 1)


# ------------------------------------------------------------------------- labels


def _initials(spec: Spec) -> dict[str, str]:
    """Each location's initial, upper case, when the initials tell them apart; else the name."""
    initials = {name: name[:1].upper() for name in spec.locations}
    if len(set(initials.values())) == len(initials):
        return initials
    return {name: name for name in spec.locations}


def placement_label(spec: Spec, assignments: Sequence[Assignment]) -> str:
    """A short label, the note's style: ``G-C`` (OCR on the glasses, translation in the cloud).

    Components fixed at one location are left out; an undecided one is ``*``; a pattern
    other than client or server is spelled out: ``G(static)``, ``cached(P→C)``,
    ``hybrid(C|P)``.
    """
    short = _initials(spec)
    by_name = {a.component: a for a in assignments}
    parts = []
    for name, component in spec.components.items():
        if component.is_fixed and len(component.allowed_at) == 1:
            continue
        assignment = by_name.get(name)
        if assignment is None:
            parts.append("*")
            continue
        pattern = assignment.pattern
        if isinstance(pattern, CachedPattern):
            text = f"cached({short[pattern.store_at]}→{short[pattern.miss_to]})"
        elif isinstance(pattern, HybridPattern):
            text = f"hybrid({short[pattern.primary]}|{short[pattern.fallback]})"
        else:
            text = short[assignment.location]
            if pattern.kind == "static":
                text += "(static)"
        if assignment.variant != "default":
            text += f"[{assignment.variant}]"
        parts.append(text)
    return "-".join(parts) or "fixed"


# ---------------------------------------------------------------------------- JSON


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def _mapping(values: Mapping[str, float], scale: float = 1.0) -> dict[str, float | None]:
    return {key: _number(value / scale) for key, value in values.items()}


def _assignment_json(assignment: Assignment) -> dict[str, Any]:
    pattern = assignment.pattern
    data: dict[str, Any] = {
        "component": assignment.component,
        "location": assignment.location,
        "pattern": pattern.kind,
        "variant": assignment.variant,
    }
    if isinstance(pattern, CachedPattern):
        data |= {
            "store_at": pattern.store_at,
            "miss_to": pattern.miss_to,
            "hit_rate": pattern.hit_rate,
        }
    elif isinstance(pattern, HybridPattern):
        data |= {
            "primary": pattern.primary,
            "fallback": pattern.fallback,
            "use_primary_in": list(pattern.use_primary_in),
        }
    return data


def metrics_json(metrics: Metrics) -> dict[str, Any]:
    """One placement's metrics as plain JSON values, units in the keys."""
    return {
        "latency": [
            {
                "path": list(p.requirement.path),
                "max_s": p.requirement.max_s,
                "case": p.requirement.case,
                "hard": p.requirement.is_hard,
                "expected_best_s": _number(p.expected.best),
                "expected_worst_s": _number(p.expected.worst),
                "bound_best_s": _number(p.bound.best),
                "bound_worst_s": _number(p.bound.worst),
                "met": p.is_met,
            }
            for p in metrics.latencies
        ],
        "latency_best_s": _number(metrics.latency.best),
        "latency_worst_s": _number(metrics.latency.worst),
        "link_utilization": _mapping(metrics.link_utilization),
        "link_mb_per_user_month": _mapping(metrics.link_bytes_per_user_month, MB),
        "wan_mb_per_user_month": metrics.wan_bytes_per_user_month / MB,
        "user_usd_month": metrics.user_usd_month,
        "energy_j_per_request": _mapping(metrics.energy_j),
        "average_power_w": _mapping(metrics.average_power_w),
        "battery_h": _mapping(metrics.battery_h),
        "replicas": [
            {
                "component": r.component,
                "location": r.location,
                "share": r.share,
                "average": r.average,
                "peak": r.peak,
                "usd_month_average": r.usd_month_average,
                "usd_month_peak": r.usd_month_peak,
            }
            for r in metrics.replicas
        ],
        "operator_usd_month": {
            "average": metrics.operator_usd_month_average,
            "peak": metrics.operator_usd_month_peak,
        },
        "update_gb_month": metrics.update_gb_month,
        "update_push_s": _number(metrics.update_push_s),
        "update_lag": metrics.update_lag,
        "offline_coverage": metrics.offline_coverage,
        "telemetry": metrics.telemetry,
        "telemetry_mb_per_user_month": metrics.telemetry_bytes_per_user_month / MB,
        "sensitive_bytes_per_request": metrics.sensitive_bytes_per_request,
        "sensitive_bytes_per_user_month": metrics.sensitive_bytes_per_user_month,
        "to_server_gb_month": metrics.to_server_bytes_month / 1e9,
        "ram_mb": _mapping(metrics.ram_bytes, MB),
        "accuracy": metrics.accuracy,
    }


def _row_json(row: Row) -> dict[str, Any]:
    return {
        "placement": row.label,
        "assignments": [_assignment_json(a) for a in row.assignments],
        "feasible": row.is_feasible,
        "reasons": list(row.reasons),
        "rank": row.rank,
        "metrics": None if row.metrics is None else metrics_json(row.metrics),
    }
