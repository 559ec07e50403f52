"""Generic health probes: ``GET /health/live`` and ``GET /health/ready``.

- **live** answers 200 while the process can answer at all. Kubernetes restarts a
  pod whose liveness fails, so it checks nothing that a restart would not fix.
- **ready** answers 200 only when every model is loaded, and 503 otherwise, naming
  the models that failed and why. A load balancer sends traffic only to ready
  servers. It reads ``ModelRepository.is_ready``, as the Open Inference Protocol's
  ``/v2/health/ready`` does, so the two never disagree.

Neither probe is reachable before start-up has loaded (or failed to load) every
model: uvicorn accepts connections only after the lifespan start-up, and stops
accepting them as soon as shutdown begins, which fails the probes of a draining server.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost.serving._http import json_response
from roost.serving.state import ServerState

__all__ = ["routes"]


async def live(request: Request) -> Response:
    return json_response({"live": True})


async def ready(request: Request) -> Response:
    repository = ServerState.of(request).repository
    models = {served.name: str(served.version) for served in repository.served()}
    if repository.is_ready:
        return json_response({"ready": True, "models": models})
    failed = repository.failures
    settled = models.keys() | failed.keys()
    loading = [ref.name for ref in repository.refs if ref.name not in settled]
    return json_response(
        {"ready": False, "models": models, "failed": failed, "loading": loading}, 503
    )


def routes() -> list[Route]:
    return [
        Route("/health/live", live, methods=["GET"]),
        Route("/health/ready", ready, methods=["GET"]),
    ]
