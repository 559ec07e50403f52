"""A report's rows, and the recommendation among them, with its reasoning.

``Row`` is one placement as the report shows it; ``_recommend`` picks one of the
front's rows step by step (the steps are listed in ``report.py``), and ``_warnings``
notes what the reader should know about the rows. ``report.py`` re-exports the rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from roost.plan.metrics import Metrics, objective_sense, objective_value
from roost.plan.placement import Assignment
from roost.plan.spec import Spec


@dataclass(frozen=True, slots=True)
class Row:
    """One placement (or a cut branch of them) as the report shows it."""

    label: str
    assignments: tuple[Assignment, ...]
    #: None for a branch cut before it was complete
    metrics: Metrics | None
    reasons: tuple[str, ...]
    #: the Pareto front of a feasible placement (1 is non-dominated); None if infeasible
    rank: int | None

    @property
    def is_feasible(self) -> bool:
        """Whether the placement breaks no hard constraint."""
        return not self.reasons


@dataclass(frozen=True, slots=True)
class Recommendation:
    """The placement the planner suggests, and why, step by step."""

    label: str
    metrics: Metrics
    reasoning: tuple[str, ...]


def _recommend(spec: Spec, names: Sequence[str], rows: Sequence[Row]) -> Recommendation | None:
    pool = [row for row in rows if row.rank == 1 and row.metrics is not None]
    if not pool:
        return None
    reasoning = [
        f"{len(pool)} of {len(rows)} feasible placements are on front 1 of: {', '.join(names)}"
    ]

    def metrics(row: Row) -> Metrics:
        if row.metrics is None:  # pragma: no cover - the pool holds evaluated rows only
            raise ValueError(row.label)
        return row.metrics

    if spec.requirements.offline == "preferred":
        most = max(metrics(row).offline_coverage for row in pool)
        pool = [row for row in pool if metrics(row).offline_coverage >= most - 1e-9]
        reasoning.append(
            f"offline is preferred: kept the {len(pool)} that work offline "
            f"for {most:.0%} of requests"
        )
    if spec.requirements.sensitive_bytes_to_cloud == "discouraged":
        fewest = min(metrics(row).sensitive_bytes_per_request for row in pool)
        kept = [row for row in pool if metrics(row).sensitive_bytes_per_request <= fewest + 1e-9]
        if len(kept) < len(pool):
            reasoning.append(
                f"sensitive bytes to a cloud are discouraged: kept the {len(kept)} that send "
                f"{fewest:,.0f} B per request"
            )
        pool = kept
    soft = [row for row in pool if not metrics(row).soft_misses]
    targets = [r for r in spec.requirements.latency if not r.is_hard]
    if soft and len(soft) < len(pool):
        reasoning.append(f"kept the {len(soft)} that meet every soft latency target")
        pool = soft
    elif targets and not soft:
        missed = "; ".join(f"{r.max_s:g} s ({r.case}) on {r.label}" for r in targets)
        reasoning.append(f"none of them meets the soft target {missed}")

    def key(row: Row) -> tuple[float, ...]:
        m = metrics(row)
        rest = [
            objective_value(m, name) * (1 if objective_sense(spec, name) == "min" else -1)
            for name in names
        ]
        return (round(m.latency.worst, 9), float(m.update_lag), *rest)

    pool.sort(key=key)
    chosen = pool[0]
    m = metrics(chosen)
    reasoning.append(
        f"lowest worst-case latency: {m.latency.worst:.3f} s "
        f"(best case {m.latency.best:.3f} s); ties go to models that can be updated, "
        "then to the objectives in order"
    )
    if len(pool) > 1:
        reasoning.append(_compare(spec, names, chosen, pool[1]))
    return Recommendation(chosen.label, m, tuple(reasoning))


def _compare(spec: Spec, names: Sequence[str], chosen: Row, other: Row) -> str:
    """How the pick and the runner-up differ, objective by objective."""
    if chosen.metrics is None or other.metrics is None:  # pragma: no cover
        return ""
    gains: list[str] = []
    losses: list[str] = []
    for name in names:
        mine, theirs = objective_value(chosen.metrics, name), objective_value(other.metrics, name)
        if math.isclose(mine, theirs, rel_tol=1e-9, abs_tol=1e-12):
            continue
        better = mine < theirs if objective_sense(spec, name) == "min" else mine > theirs
        (gains if better else losses).append(f"{name} {_short(mine)} vs {_short(theirs)}")
    text = f"against the runner-up {other.label}: better on {', '.join(gains) or 'nothing'}"
    return text + (f"; worse on {', '.join(losses)}" if losses else "")


def _short(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.0f}"


def _warnings(spec: Spec, rows: Sequence[Row]) -> list[str]:
    if spec.requirements.sensitive_bytes_to_cloud != "discouraged":
        return []
    warnings = []
    for row in rows:
        if row.metrics is not None and row.metrics.sensitive_bytes_per_request > 0:
            m = row.metrics
            warnings.append(
                f"{row.label} sends {m.sensitive_bytes_per_request / 1e3:,.4g} KB of sensitive "
                "data "
                f"per request to a cloud ({m.sensitive_bytes_per_user_month / 1e9:.3g} GB per user "
                "per month)"
            )
    return warnings
