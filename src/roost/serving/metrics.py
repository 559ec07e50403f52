"""Prometheus metrics: what each model's requests and batches do, at ``GET /metrics``.

Two sources feed one ``Metrics`` object:

- ``RequestMetrics``, a pure ASGI middleware, counts every request and times it,
  labelled by the model its path names, the version serving it, the protocol and the
  status code. The counts are added up in memory and written once a second, before
  every scrape and at shutdown (``_tally`` says why);
- ``Metrics.observer`` gives each model version's ``Batcher`` a ``BatchObserver``
  that records batch sizes, queue waits, predict durations and the queue depth.

Labels stay bounded: ``model`` is one of the served names or ``other`` (unknown
names, health probes, the docs page), ``protocol`` one of ``v1``, ``v2``, ``mlflow``,
``other``, so a client inventing paths cannot create series.

Two modes, chosen by whoever builds the app (never by reading the environment here):

- **one process** (tests, ``roost serve`` with one worker, an app built in code):
  every app gets its own ``CollectorRegistry``, so nothing leaks between apps;
- **several worker processes** (``roost serve --workers N``): prometheus_client's
  multiprocess mode. Each worker writes its values to memory-mapped files in one
  folder, and ``/metrics`` on any worker merges every worker's files, so counters add
  up whichever worker answers the scrape. ``roost serve`` points
  ``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder before any worker starts
  (prometheus_client reads it once, at import) and passes the same folder here.
  The queue-depth gauge sums live workers only; the files of a worker that died are
  removed at the next scrape, while its counters stay (a total never goes down).
"""

from __future__ import annotations

import asyncio
import glob
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roost.errors import ConfigError, ModelNotFound, ModelNotReady
from roost.serving._quality import QualityMetrics
from roost.serving._tally import RequestTally
from roost.serving._telemetry import PredictionTap
from roost.serving.batcher import BatchObserver
from roost.serving.repository import ModelRepository
from roost.serving.state import ServerState

__all__ = ["Metrics", "RequestMetrics", "routes"]

log = logging.getLogger(__name__)

#: the ``model`` label of a request whose path names no served model
OTHER = "other"

_LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_LATENCY_BOUNDS = (*map(float, _LATENCY_BUCKETS_S), float("inf"))
#: how often request counts and queue depths are written to the shared metric files
FLUSH_INTERVAL_S = 1.0
_WAIT_BUCKETS_S = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)

#: paths that name a model, by protocol (the V1 name stops at the ":predict" verb)
_MODEL_PATHS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("v1", re.compile(r"^/v1/models/([^/:]+)")),
    ("v2", re.compile(r"^/v2/models/([^/]+)")),
)
_MLFLOW_PATHS = frozenset({"/invocations", "/invocations/"})
#: a model's documents: reading them is not using the model, so they count as ``other``
_DOCUMENT_SUFFIXES = ("/card", "/factsheet")


def _multiprocess_files_are_on() -> bool:
    """Whether prometheus_client was imported in multiprocess mode (it decides at import)."""
    from prometheus_client import values

    return values.ValueClass is not values.MutexValue


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: nothing is sent; only whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def remove_dead_workers(folder: Path, is_alive: Callable[[int], bool] = _is_alive) -> list[int]:
    """Remove the live-gauge files of workers that no longer run; return their pids.

    A worker that crashed never says so, so whoever scrapes checks; its counter and
    histogram files stay, because what it counted did happen.
    """
    from prometheus_client import multiprocess

    dead = set()
    for path in glob.glob(str(folder / "gauge_live*_*.db")):
        pid_text = Path(path).stem.rsplit("_", 1)[-1]
        if pid_text.isdigit() and not is_alive(int(pid_text)):
            dead.add(int(pid_text))
    for pid in sorted(dead):
        # prometheus_client's multiprocess module has no annotations
        multiprocess.mark_process_dead(pid, str(folder))  # type: ignore[no-untyped-call]
        log.info("metrics: removed the live gauges of worker %d, which is gone", pid)
    return sorted(dead)


class Metrics:
    """Every metric of one server, and their Prometheus text.

    Args:
        multiprocess_dir: the folder shared by the worker processes of one server,
            already named by ``PROMETHEUS_MULTIPROC_DIR`` when prometheus_client was
            first imported; ``None`` keeps the metrics in this process, in a registry
            of their own.

    Raises:
        ConfigError: ``multiprocess_dir`` is given but prometheus_client was imported
            without ``PROMETHEUS_MULTIPROC_DIR``, so the workers would not share values.

    Example:
        >>> metrics = Metrics()
        >>> metrics.observer("iris", 1).batch_done(4, 2, 0.002, 0.01, False)
        >>> b"roost_batch_rows_count" in metrics.render()
        True
    """

    def __init__(self, multiprocess_dir: Path | str | None = None) -> None:
        self.multiprocess_dir = Path(multiprocess_dir) if multiprocess_dir is not None else None
        if self.multiprocess_dir is not None and not _multiprocess_files_are_on():
            raise ConfigError(
                f"metrics: expected PROMETHEUS_MULTIPROC_DIR={self.multiprocess_dir} to be set "
                "before prometheus_client is imported, got a process without it"
            )
        #: this app's own registry (one process); unused when several processes share files
        self.registry = CollectorRegistry()
        # multiprocess: values live in the shared files and a fresh registry reads them
        # at each scrape; registering the metrics too would count them twice
        own = self.registry if self.multiprocess_dir is None else None
        model = ("model", "version")
        request = (*model, "protocol")
        self.requests = Counter(
            "roost_requests",
            "HTTP requests, by the model the path names, its version, protocol and status code.",
            [*request, "code"],
            registry=own,
        )
        self.request_errors = Counter(
            "roost_request_errors",
            "HTTP requests answered with a status code of 400 or more.",
            [*request, "code"],
            registry=own,
        )
        self.request_duration = Histogram(
            "roost_request_duration_seconds",
            "Time from a request's arrival to the end of its response.",
            request,
            buckets=_LATENCY_BUCKETS_S,
            registry=own,
        )
        self.batch_rows = Histogram(
            "roost_batch_rows",
            "Rows per batch: what one predict call received.",
            model,
            buckets=_SIZE_BUCKETS,
            registry=own,
        )
        self.batch_requests = Histogram(
            "roost_batch_requests",
            "Requests merged into one batch.",
            model,
            buckets=_SIZE_BUCKETS,
            registry=own,
        )
        self.queue_wait = Histogram(
            "roost_batch_queue_wait_seconds",
            "How long the oldest request of a batch waited before the batch ran.",
            model,
            buckets=_WAIT_BUCKETS_S,
            registry=own,
        )
        self.predict_duration = Histogram(
            "roost_predict_duration_seconds",
            "How long one predict call took, on one batch.",
            model,
            buckets=_LATENCY_BUCKETS_S,
            registry=own,
        )
        self.batch_failures = Counter(
            "roost_batch_failures",
            "Batches on which the model failed (each of its requests got the error).",
            model,
            registry=own,
        )
        self.queue_depth = Gauge(
            "roost_queue_depth",
            "Requests waiting for a batch, summed over live worker processes.",
            model,
            multiprocess_mode="livesum",
            registry=own,
        )
        #: telemetry's counts and production quality, filled in when telemetry is on
        self.quality = QualityMetrics(own)
        #: requests counted since the last flush, by (model, version, protocol, code)
        self._tallies: dict[tuple[str, str, str, int], RequestTally] = {}
        self._observers: list[_BatchMetrics] = []

    def observer(self, model: str, version: int) -> BatchObserver:
        """The batch observer of one model version (the repository's ``observer_factory``)."""
        observer = _BatchMetrics(self, model, str(version))
        self._observers.append(observer)
        return observer

    def request_done(
        self, model: str, version: str, protocol: str, code: int, duration_s: float
    ) -> None:
        """Count one answered request and its latency (written at the next ``flush``)."""
        key = (model, version, protocol, code)
        tally = self._tallies.get(key)
        if tally is None:
            errors = (
                self.request_errors.labels(model, version, protocol, str(code))
                if code >= 400
                else None
            )
            tally = RequestTally(
                self.requests.labels(model, version, protocol, str(code)),
                errors,
                self.request_duration.labels(model, version, protocol),
                _LATENCY_BOUNDS,
            )
            self._tallies[key] = tally
        tally.add(duration_s)

    def watch_telemetry(self, tap: PredictionTap) -> None:
        """Export the prediction log's and the feedback's counts at every flush."""
        self.quality.tap = tap

    def flush(self) -> None:
        """Write the requests counted and the queue depths seen since the last flush."""
        for tally in self._tallies.values():
            tally.flush()
        for observer in self._observers:
            observer.flush()
        self.quality.flush()

    async def flush_every(self, interval_s: float = FLUSH_INTERVAL_S) -> None:
        """Flush every ``interval_s`` until cancelled (the app runs this as a task)."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                self.flush()
            except Exception:  # telemetry never fails serving (STYLE.md §5)
                log.exception("metrics: flush failed; counts are kept for the next one")

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric (every worker's, when several).

        This process's counts are flushed first; another worker's are at most
        ``FLUSH_INTERVAL_S`` old.
        """
        self.flush()
        folder = self.multiprocess_dir
        if folder is None:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        remove_dead_workers(folder)
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged, path=str(folder))  # type: ignore[no-untyped-call]
        return generate_latest(merged)


class _BatchMetrics:
    """The ``BatchObserver`` of one model version."""

    def __init__(self, metrics: Metrics, model: str, version: str) -> None:
        self.rows = metrics.batch_rows.labels(model, version)
        self.requests = metrics.batch_requests.labels(model, version)
        self.wait = metrics.queue_wait.labels(model, version)
        self.predict = metrics.predict_duration.labels(model, version)
        self.failures = metrics.batch_failures.labels(model, version)
        self.depth = metrics.queue_depth.labels(model, version)
        self.depth.set(0)  # the series exists from the moment the version is served
        self._depth_seen = 0
        self._depth_written = 0

    def batch_done(
        self, rows: int, requests: int, queue_wait_s: float, predict_s: float, failed: bool
    ) -> None:
        self.rows.observe(rows)
        self.requests.observe(requests)
        self.wait.observe(queue_wait_s)
        self.predict.observe(predict_s)
        if failed:
            self.failures.inc()

    def queue_changed(self, depth: int) -> None:
        self._depth_seen = depth  # twice per request: written at the next flush, not now

    def flush(self) -> None:
        if self._depth_seen != self._depth_written:
            self.depth.set(self._depth_seen)
            self._depth_written = self._depth_seen


def classify(path: str, served: frozenset[str], default: str) -> tuple[str, str]:
    """The ``(protocol, model)`` labels of a request path; ``model`` is a served name or other.

    Args:
        path: the request path.
        served: the names of the served models.
        default: the model MLflow's ``/invocations`` addresses.

    Example:
        >>> classify("/v1/models/iris:predict", frozenset({"iris"}), "iris")
        ('v1', 'iris')
        >>> classify("/v2/models/made-up/infer", frozenset({"iris"}), "iris")
        ('v2', 'other')
        >>> classify("/v1/models/iris/factsheet", frozenset({"iris"}), "iris")
        ('v1', 'other')
    """
    if path in _MLFLOW_PATHS:
        return "mlflow", default
    if path.startswith("/v1/models/") and path.endswith(_DOCUMENT_SUFFIXES):
        return "v1", OTHER
    for protocol, pattern in _MODEL_PATHS:
        match = pattern.match(path)
        if match is not None:
            return protocol, match.group(1) if match.group(1) in served else OTHER
    for protocol in ("v1", "v2"):
        if path == f"/{protocol}" or path.startswith(f"/{protocol}/"):
            return protocol, OTHER
    return OTHER, OTHER


class RequestMetrics:
    """Pure ASGI middleware: count and time every HTTP request into ``metrics``.

    The version label is the one served when the request arrived. A handler that
    looks the model up before it first awaits (KServe V1 does) gets that same version;
    one that reads its body first may, during a hot swap, be answered by the new
    version while counted under the old one. The batch metrics are always exact: each
    version's batcher has its own observer.

    Args:
        app: the application to wrap.
        metrics: where to record.
        repository: the served models, to label the model and its version.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics, repository: ModelRepository) -> None:
        self.app = app
        self.metrics = metrics
        self.repository = repository
        self.served = frozenset(ref.name for ref in repository.refs)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        protocol, model = classify(scope["path"], self.served, self.repository.default_name)
        version = ""
        if model != OTHER:
            try:
                version = str(self.repository.get(model).version)
            except (ModelNotFound, ModelNotReady):
                version = ""  # named but not loaded (it failed); the handler answers
        clock = self.repository.clock
        started = clock.monotonic()
        status = 500  # what the client gets if the app raises before answering

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            self.metrics.request_done(model, version, protocol, status, clock.monotonic() - started)


async def metrics_endpoint(request: Request) -> Response:
    metrics: Metrics = ServerState.of(request).metrics
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)


def routes() -> list[Route]:
    return [Route("/metrics", metrics_endpoint, methods=["GET"])]
