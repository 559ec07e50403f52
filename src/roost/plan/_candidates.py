"""A component's candidates: every (location × pattern × variant), each with its misfit reasons.

Shared by ``search`` (branch and bound) and ``best_chain`` (``_chain.py``).
"""

from __future__ import annotations

from roost.plan.evaluate import Evaluator
from roost.plan.footprint import memory, memory_reasons
from roost.plan.placement import Assignment, Placement
from roost.plan.spec import (
    DEVICE_PATTERNS,
    SERVER_PATTERNS,
    CachedPattern,
    Component,
    HybridPattern,
    Spec,
)


def candidates(
    spec: Spec, component: Component, evaluator: Evaluator | None = None
) -> list[tuple[Assignment, tuple[str, ...]]]:
    """Every (location × pattern × variant) of ``component``, each with its misfit reasons.

    Patterns apply where they make sense: ``static`` and ``client`` on devices,
    ``server`` on edge or cloud, a cache or a hybrid where it says. A candidate whose
    RAM or storage alone exceeds a location's has reasons; the others have none.
    """
    evaluator = evaluator or Evaluator(spec)
    found: list[Assignment] = []
    for pattern in component.patterns:
        for variant in component.variants:
            if isinstance(pattern, CachedPattern):
                if pattern.miss_to in variant.compute_s:
                    found.append(
                        Assignment(component.name, pattern.store_at, pattern, variant.name)
                    )
                continue
            if isinstance(pattern, HybridPattern):
                if {pattern.primary, pattern.fallback} <= set(variant.compute_s):
                    found.append(Assignment(component.name, pattern.primary, pattern, variant.name))
                continue
            for location in component.allowed_at:
                fits = SERVER_PATTERNS if spec.locations[location].is_server else DEVICE_PATTERNS
                if pattern.kind in fits and location in variant.compute_s:
                    found.append(Assignment(component.name, location, pattern, variant.name))
    result = []
    for assignment in found:
        single = Placement((assignment,))
        ram, storage = memory(spec, single)
        result.append((assignment, tuple(memory_reasons(spec, ram, storage, single))))
    return result
