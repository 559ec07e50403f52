"""Measurements of this process for the profiler: time quantiles, memory, folder sizes.

Memory is read two ways, each with its limits (docs in ``roost.plan.profile``):

- ``rss_bytes``: the resident set (``VmRSS`` in ``/proc/self/status``): every page the
  process holds, native allocations included, but counted in whole pages and never
  given back promptly by the allocator; Linux only (None elsewhere).
- ``python_memory``: the ``tracemalloc`` peak, and what stays held: Python objects and
  the buffers of libraries that report to it (numpy does), exact to the byte, but
  blind to native memory other libraries allocate on their own.
"""

from __future__ import annotations

import math
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["package_bytes", "python_memory", "quantile", "rss_bytes"]


def quantile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between the closest ranks of sorted values (numpy's default)."""
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def rss_bytes() -> int | None:
    """The process's resident set size from ``/proc/self/status``; None where there is none."""
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024  # reported in kB (KiB)
    return None


def python_memory(load: Callable[[], object]) -> tuple[int, int]:
    """The tracemalloc peak while ``load`` runs, and what its result still holds after.

    Both are above the baseline before the call, in bytes. Tracing is started and
    stopped here, unless it was already on (then it is left on).

    Returns:
        (peak, retained).
    """
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        baseline, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        loaded = load()
        current, peak = tracemalloc.get_traced_memory()
        del loaded
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return max(peak - baseline, 0), max(current - baseline, 0)


def package_bytes(path: Path) -> int:
    """The bytes of every file under ``path`` (links not followed)."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())
