"""Pareto dominance, non-dominated sorting into fronts, and projections onto fewer objectives.

A point dominates another when it is no worse in every objective and better in one.
Front 1 holds the points nothing dominates; front 2 what only front 1 dominates; and
so on. Each objective has a sense, ``"min"`` or ``"max"``. Values closer than a
relative 1e-9 count as equal, so float noise never decides dominance.

With many objectives almost every placement is non-dominated, so reports also rank
on a projection: two or three objectives the reader chooses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from roost.errors import ConfigError

__all__ = ["Sense", "dominates", "front", "fronts", "project"]

Sense = Literal["min", "max"]
_REL = 1e-9


def _minimised(point: Sequence[float], senses: Sequence[Sense]) -> tuple[float, ...]:
    return tuple(
        -value if sense == "max" else value for value, sense in zip(point, senses, strict=True)
    )


def _no_worse(a: float, b: float) -> bool:
    return a <= b + _REL * max(1.0, abs(b))


def _better(a: float, b: float) -> bool:
    return a < b - _REL * max(1.0, abs(b))


def _dominates_min(a: Sequence[float], b: Sequence[float]) -> bool:
    return all(_no_worse(x, y) for x, y in zip(a, b, strict=True)) and any(
        _better(x, y) for x, y in zip(a, b, strict=True)
    )


def dominates(a: Sequence[float], b: Sequence[float], senses: Sequence[Sense]) -> bool:
    """Whether ``a`` is no worse than ``b`` in every objective and better in at least one.

    Example:
        >>> dominates([1.0, 5.0], [2.0, 5.0], ["min", "min"])
        True
        >>> dominates([1.0, 4.0], [2.0, 5.0], ["min", "max"])
        False
    """
    _check(senses, [a, b])
    return _dominates_min(_minimised(a, senses), _minimised(b, senses))


def fronts(points: Sequence[Sequence[float]], senses: Sequence[Sense]) -> list[int]:
    """The front of each point: 1 for the non-dominated, 2 for those only front 1 beats, …

    Peels one front at a time; within a peel, points are taken in lexicographic order,
    so a point can only be dominated by one already kept (the simple cull). Each
    comparison is vectorised over the kept points.

    Example:
        >>> fronts([[1, 3], [2, 2], [3, 1], [3, 3]], ["min", "min"])
        [1, 1, 1, 2]
    """
    import numpy as np  # lazily: `import roost` stays light

    _check(senses, points)
    if not points:
        return []
    values = np.array([_minimised(p, senses) for p in points], dtype=float)
    slack = _REL * np.maximum(1.0, np.abs(values))
    ranks = [0] * len(values)
    remaining = sorted(range(len(values)), key=lambda i: tuple(values[i]))
    kept = np.empty_like(values)

    def beaten(index: int, count: int) -> bool:
        """Whether one of the first ``count`` kept points dominates point ``index``."""
        if count == 0:
            return False
        front, value, tolerance = kept[:count], values[index], slack[index]
        no_worse = np.all(front <= value + tolerance, axis=1)
        better = np.any(front < value - tolerance, axis=1)
        return bool(np.any(no_worse & better))

    rank = 0
    while remaining:
        rank += 1
        current: list[int] = []
        rest: list[int] = []
        for index in remaining:
            if beaten(index, len(current)):
                rest.append(index)
            else:
                kept[len(current)] = values[index]
                current.append(index)
        # values equal within the tolerance can sort either way: check the front once more
        late = {index for index in current if beaten(index, len(current))}
        if len(late) == len(current):  # a cycle only tolerance can make: keep them together
            late = set()
        for index in current:
            if index not in late:
                ranks[index] = rank
        remaining = sorted([*rest, *late], key=lambda i: tuple(values[i]))
    return ranks


def front(points: Sequence[Sequence[float]], senses: Sequence[Sense]) -> list[int]:
    """The indices of the non-dominated points (front 1), in their given order."""
    return [i for i, rank in enumerate(fronts(points, senses)) if rank == 1]


def project(points: Sequence[Sequence[float]], columns: Sequence[int]) -> list[list[float]]:
    """The points on a few of their objectives (by column index), for a 2-D or 3-D front."""
    return [[point[c] for c in columns] for point in points]


def _check(senses: Sequence[Sense], points: Sequence[Sequence[float]]) -> None:
    for sense in senses:
        if sense not in ("min", "max"):
            raise ConfigError(f"sense: expected min or max, got {sense!r}")
    for point in points:
        if len(point) != len(senses):
            raise ConfigError(f"point: expected {len(senses)} objectives, got {len(point)}")
