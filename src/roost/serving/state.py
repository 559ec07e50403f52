"""What every request handler may read: the models, the settings, the metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from roost.config import ServingConfig
from roost.serving.repository import ModelRepository

__all__ = ["ServerState"]


@dataclass(frozen=True, slots=True)
class ServerState:
    """The server's shared state, kept on ``app.state.roost``.

    Attributes:
        repository: the served models.
        config: limits, timeouts and batching.
        metrics: the Prometheus metrics, when enabled.
    """

    repository: ModelRepository
    config: ServingConfig
    metrics: Any = None

    @classmethod
    def of(cls, request: Request) -> ServerState:
        state: ServerState = request.app.state.roost
        return state
