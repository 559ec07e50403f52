"""The ASGI app: every protocol's routes on one port, over one ModelRepository.

Start-up loads every model (in worker threads) and starts the hot-swap watcher;
shutdown stops the watcher and the batchers. Uvicorn drains in-flight requests
before the shutdown part of the lifespan runs, so nothing waiting is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from roost.config import ServingConfig
from roost.serving import health, openapi
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
    ]


def create_app(
    repository: ModelRepository, config: ServingConfig, *, metrics: Metrics | None = None
) -> Starlette:
    """The server for ``repository``'s models.

    ``metrics`` defaults to a registry of the app's own (one process); ``roost serve
    --workers N`` passes one that reads every worker's files.

    Example:
        >>> repository = ModelRepository(Registry(home), ["iris@production"], ServingConfig())
        >>> app = create_app(repository, ServingConfig())  # then: uvicorn.run(app)
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await repository.load_all()
        watcher = asyncio.create_task(repository.watch(), name="roost-hot-swap")
        try:
            yield
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            await repository.close()

    metrics = metrics if metrics is not None else Metrics()
    if repository.observer_factory is None:
        repository.observer_factory = metrics.observer
    middleware = [Middleware(RequestMetrics, metrics=metrics, repository=repository)]
    app = Starlette(routes=_routes(), lifespan=lifespan, middleware=middleware)
    app.state.roost = ServerState(repository=repository, config=config, metrics=metrics)
    return app
