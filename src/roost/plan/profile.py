"""Profile a registered model on this machine, so that plans start from measurements.

``profile_model(registry, "iris:1")`` loads the package, predicts rows drawn from its
stored input example, and returns a ``ModelProfile``: what the placement planner's
component block (``component_block``) and ``roost plan capacity --profile``
(``to_dict()["latency_ms_by_batch"]``, the p99 of each batch size unless asked for
p50 or p90) read. Everything runs in this one process; no
HTTP server is started, so the latencies are the model's own (validation included,
as the server validates each request) without network, HTTP or queueing time.

What is measured, and how:

- **load**: ``PackagedModel.load()`` on a fresh object each time, every hash verified.
  ``first_load_s`` is the first load, which also imports the framework (a cold
  replica's start); ``load_s`` is the median of the later ones (files in the page
  cache, framework imported).
- **memory**: ``rss_growth_mb`` is the growth of the process's resident set (``VmRSS``
  in ``/proc/self/status``) from before the first load to after the last prediction:
  the framework's import, the model and the working memory of the largest batch. It
  is None where ``/proc`` does not exist (macOS, Windows). RSS moves in pages and the
  allocator keeps freed memory, so it is an upper bound of what the model needs, and a
  framework imported before profiling (as in a test run) is not in it.
  ``python_peak_mb`` is the ``tracemalloc`` peak during one more load (read buffers
  of the hash check included), ``python_retained_mb`` what the loaded model still
  holds after it: Python objects and numpy buffers, but not memory a library allocates
  natively without telling ``tracemalloc`` (onnxruntime, xgboost's booster, torch).
  ``ram_mb``, the planner's number, is the larger of RSS growth and the Python peak:
  a replica must survive its load, not only hold the model.
- **size**: the bytes of the package folder (every file, metadata and examples
  included), ``size_mb = bytes / 10⁶`` as the planner's schema counts.
- **latency**: for each batch size b, rows of the stored example repeated to b rows,
  a few untimed warm-up calls, then ``repeat`` timed ``model.predict`` calls;
  p50/p90/p99 interpolate linearly between the closest ranks (numpy's default). With
  few repetitions p99 is close to the maximum.
- **throughput**: rows per second at batch size b is ``b / p50``; ``peak_rows_per_s``
  is the largest over the batch sizes measured (``peak_batch_size`` is where).
- **wire**: request and response body bytes, for one row and for the largest batch,
  per protocol (``kserve-v1``, ``oip-v2-json``, ``oip-v2-binary``, ``mlflow``), written
  and read by the server's own codecs (``roost.plan._wire``).

Example:
    >>> from roost.plan.profile import profile_model
    >>> profile = profile_model(registry, "iris:1", batch_sizes=(1, 8), repeat=20)  # doctest: +SKIP
    >>> profile.to_dict()["latency_ms_by_batch"]  # doctest: +SKIP
    {'1': 0.52, '8': 0.61}
    >>> profile.component_block("iris")  # doctest: +SKIP
    {'iris': {'allowed_at': ['this-machine'], 'variants': {'default': {...}}}}
"""

from __future__ import annotations

import gc
import logging
import platform
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from roost.errors import ConfigError, ModelError
from roost.plan._measure import package_bytes, python_memory, quantile, rss_bytes
from roost.plan._model_profile import (
    LATENCY_QUANTILES,
    PROTOCOLS,
    BatchLatency,
    ModelProfile,
    WireSize,
)
from roost.types import Rows

if TYPE_CHECKING:
    from roost.store import PackagedModel, Registry, VersionLike

__all__ = [
    "DEFAULT_BATCH_SIZES",
    "LATENCY_QUANTILES",
    "PROTOCOLS",
    "BatchLatency",
    "ModelProfile",
    "ProgressHook",
    "WireSize",
    "profile_model",
]

log = logging.getLogger(__name__)

#: the batch sizes measured unless told otherwise
DEFAULT_BATCH_SIZES = (1, 2, 4, 8, 16, 32)

#: called after each step: (what is being measured, steps done, steps in all)
ProgressHook = Callable[[str, int, int], None]


def _check_arguments(
    batch_sizes: Sequence[int], repeat: int, warmup: int, loads: int, location: str
) -> None:
    sizes = list(batch_sizes)
    if (
        not sizes
        or not all(isinstance(b, int) and not isinstance(b, bool) and b >= 1 for b in sizes)
        or len(set(sizes)) != len(sizes)
    ):
        raise ConfigError(
            f"batch sizes: expected distinct whole numbers of at least 1, such as 1, 8, 32, "
            f"got {', '.join(map(str, sizes)) or 'none'}"
        )
    if repeat < 1:
        raise ConfigError(f"repeat: expected at least 1 timed call per batch size, got {repeat}")
    if warmup < 0:
        raise ConfigError(f"warmup: expected 0 or more untimed calls, got {warmup}")
    if loads < 1:
        raise ConfigError(f"loads: expected at least 1 load to time, got {loads}")
    if not location.strip() or location != location.strip():
        raise ConfigError(f"location: expected a name without surrounding spaces, got {location!r}")


def _example_rows(model: PackagedModel) -> Any:
    try:
        return model.example
    except FileNotFoundError:
        raise ModelError(
            f"model {model.ref} has no stored input example; profiling draws its rows from "
            "it (register the model with an example)"
        ) from None


def _tile(example: Any, kind: str, batch_size: int) -> Rows:
    """``batch_size`` rows from a stored example, its rows repeated in order.

    A column model's example is records (or one record); a tensor model's is a batch,
    or a mapping of tensor name to batch. The result has the same form.
    """
    if kind == "columns" and isinstance(example, Mapping):
        example = [example]  # one record
    if isinstance(example, Mapping):
        count = min(len(v) for v in example.values())
        return {name: [v[i % count] for i in range(batch_size)] for name, v in example.items()}
    rows = list(example)
    if not rows:
        raise ModelError("the stored input example has no rows to profile with")
    return [rows[i % len(rows)] for i in range(batch_size)]


def profile_model(
    registry: Registry,
    ref: VersionLike,
    *,
    batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES,
    repeat: int = 100,
    warmup: int = 3,
    loads: int = 3,
    location: str = "this-machine",
    clock: Callable[[], float] = time.perf_counter,
    progress: ProgressHook | None = None,
) -> ModelProfile:
    """Measure a registered model version in this process (see the module's docstring).

    Args:
        registry: where the version is registered.
        ref: the version, ``iris``, ``iris:1`` or ``iris@production``.
        batch_sizes: the batch sizes to time.
        repeat: timed calls per batch size.
        warmup: untimed calls per batch size before the timed ones.
        loads: how many times to load the package (each in a fresh object).
        location: the planner's name for this machine, as the component block uses it.
        clock: seconds as a float, only differences count; ``time.perf_counter`` has the
            finest resolution (a test passes a clock that steps).
        progress: told after each step, for a progress bar.

    Returns:
        The profile.

    Raises:
        ConfigError: a bad batch size, repeat, warmup, loads or location.
        ModelNotFound: no such version.
        ModelError: the package has no stored example, or the model fails on it.

    Example:
        >>> profile = profile_model(registry, "iris", batch_sizes=(1, 32))  # doctest: +SKIP
        >>> profile.peak_rows_per_s, profile.peak.batch_size  # doctest: +SKIP
        (52000.0, 32)
    """
    _check_arguments(batch_sizes, repeat, warmup, loads, location)
    sizes = sorted(batch_sizes)
    wire_at = sorted({1, sizes[-1]})
    found = registry.resolve(ref)  # a bad reference fails before anything is measured
    total = loads + 1 + len(sizes) * (warmup + repeat) + len(wire_at)
    done = 0

    def step(what: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(what, done, total)

    load_times: list[float] = []

    def timed_load() -> PackagedModel:
        fresh = registry.model(found)
        started = clock()
        fresh.load()
        load_times.append(clock() - started)
        step("loading")
        return fresh

    def untimed_load() -> object:
        fresh = registry.model(found)
        fresh.load()
        return fresh

    gc.collect()
    rss_before = rss_bytes()
    model = timed_load()
    for _ in range(loads - 1):
        timed_load()
    python_peak, python_retained = python_memory(untimed_load)
    step("loading")
    example = _example_rows(model)

    latency = []
    for batch_size in sizes:
        batch = _tile(example, model.signature.kind, batch_size)
        what = f"batch size {batch_size}"
        for _ in range(warmup):
            model.predict(batch)
            step(what)
        timings = []
        for _ in range(repeat):
            started = clock()
            model.predict(batch)
            timings.append(clock() - started)
            step(what)
        ordered = sorted(t * 1000 for t in timings)
        latency.append(
            BatchLatency(
                batch_size,
                p50_ms=quantile(ordered, 0.50),
                p90_ms=quantile(ordered, 0.90),
                p99_ms=quantile(ordered, 0.99),
                runs=repeat,
            )
        )
    rss_after = rss_bytes()

    # the codecs import numpy and the serving room: only when measuring, not on import
    from roost.plan._wire import wire_sizes

    wire: list[WireSize] = []
    for batch_size in wire_at:
        batch = _tile(example, model.signature.kind, batch_size)
        outputs = model.predict(batch)
        wire.extend(
            wire_sizes(
                model.signature,
                batch,
                outputs,
                batch_size=batch_size,
                name=found.name,
                version=str(found.version),
            )
        )
        step("request and response sizes")

    rss_growth = None if rss_before is None or rss_after is None else rss_after - rss_before
    profile = ModelProfile(
        ref=str(found),
        flavor=found.flavor,
        location=location,
        host=platform.node(),
        platform=f"{platform.platform()}, Python {platform.python_version()}",
        loads=loads,
        first_load_s=load_times[0],
        load_s=statistics.median(load_times[1:] or load_times),
        rss_growth_bytes=rss_growth,
        python_peak_bytes=python_peak,
        python_retained_bytes=python_retained,
        package_bytes=package_bytes(registry.path(found)),
        latency=tuple(latency),
        wire=tuple(wire),
    )
    log.info(
        "profiled %s: load %.3fs, p50 %.3f ms at batch size %d, peak %.0f rows/s",
        profile.ref,
        profile.load_s,
        latency[0].p50_ms,
        latency[0].batch_size,
        profile.peak_rows_per_s,
    )
    return profile
