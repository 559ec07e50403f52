"""The ASGI app: every protocol's routes on one port, over one ModelRepository.

Start-up loads every model (in worker threads) and starts the hot-swap watcher;
shutdown stops the watcher and the batchers. Uvicorn drains in-flight requests
before the shutdown part of the lifespan runs, so nothing waiting is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

import anyio.to_thread
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from roost.config import ServingConfig
from roost.serving import documents, feedback, health, openapi
from roost.serving._predict_lane import PredictLane
from roost.serving._quality import watch_quality
from roost.serving._telemetry import PredictionTap
from roost.serving.metrics import Metrics, RequestMetrics
from roost.serving.metrics import routes as metrics_routes
from roost.serving.protocols import kserve_v1, mlflow, oip_v2
from roost.serving.repository import ModelRepository
from roost.serving.state import ServerState

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def _routes() -> list[BaseRoute]:
    return [
        *kserve_v1.routes(),
        *oip_v2.routes(),
        *mlflow.routes(),
        *openapi.routes(),
        *health.routes(),
        *metrics_routes(),
        *feedback.routes(),
        *documents.routes(),
    ]


def _freeze_the_loaded_heap() -> None:
    """Keep the garbage collector off what start-up loaded (frameworks, models).

    A full collection walks every object the process holds; with pandas, scikit-learn
    and a model loaded that took ~90 ms, stalling every request in flight: the p99 of a
    loaded server was that pause. Frozen objects are never scanned again (they are still
    freed by reference counting); objects made by requests are collected as usual.
    Shutdown unfreezes them.
    """
    gc.collect()
    gc.freeze()


def create_app(
    repository: ModelRepository,
    config: ServingConfig,
    *,
    metrics: Metrics | None = None,
    telemetry: PredictionTap | None = None,
) -> Starlette:
    """The server for ``repository``'s models.

    ``metrics`` defaults to a registry of the app's own (one process); ``roost serve
    --workers N`` passes one that reads every worker's files. ``telemetry`` logs every
    prediction request (its log is started and closed with the app); without it no
    request is logged and ``/v1/feedback`` answers 409.

    Example:
        >>> repository = ModelRepository(Registry(home), ["iris@production"], ServingConfig())
        >>> app = create_app(repository, ServingConfig())  # then: uvicorn.run(app)
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await repository.load_all()
        if telemetry is not None:
            telemetry.log.start()
        _freeze_the_loaded_heap()
        watcher = asyncio.create_task(repository.watch(), name="roost-hot-swap")
        flusher = asyncio.create_task(state.metrics.flush_every(), name="roost-metrics")
        tasks = [watcher, flusher]
        if telemetry is not None:
            quality = watch_quality(state.metrics.quality, repository.served, repository.clock)
            tasks.append(asyncio.create_task(quality, name="roost-quality"))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await repository.close()
            if telemetry is not None:
                # drained: every answered request is in the buffer; write it before leaving
                await anyio.to_thread.run_sync(telemetry.log.close)
            state.metrics.flush()  # the last requests' counts
            gc.unfreeze()  # what start-up froze may be garbage now (an app in a test, say)

    metrics = metrics if metrics is not None else Metrics()
    if repository.observer_factory is None:
        repository.observer_factory = metrics.observer
    state = ServerState(repository=repository, config=config, metrics=metrics, telemetry=telemetry)
    if telemetry is not None:
        metrics.watch_telemetry(telemetry)
    middleware = [
        Middleware(RequestMetrics, metrics=metrics, repository=repository),
        Middleware(PredictLane, state=state),  # inside the metrics: its requests are counted
    ]
    app = Starlette(routes=_routes(), lifespan=lifespan, middleware=middleware)
    app.state.roost = state
    return app
