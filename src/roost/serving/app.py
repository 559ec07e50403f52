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
from starlette.routing import BaseRoute

from roost.config import ServingConfig
from roost.serving.protocols import kserve_v1
from roost.serving.repository import ModelRepository
from roost.serving.state import ServerState

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def _routes() -> list[BaseRoute]:
    return [*kserve_v1.routes()]


def create_app(repository: ModelRepository, config: ServingConfig) -> Starlette:
    """The server for ``repository``'s models.

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

    app = Starlette(routes=_routes(), lifespan=lifespan)
    app.state.roost = ServerState(repository=repository, config=config)
    return app
