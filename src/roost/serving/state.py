"""What every request handler may read: the models, the settings, the metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request

from roost.config import ServingConfig
from roost.serving.repository import ModelRepository

if TYPE_CHECKING:
    # metrics.py reads ServerState in its endpoint, so importing it here at run time
    # would be a cycle; the annotation is all this module needs
    from roost.serving._telemetry import PredictionTap
    from roost.serving.metrics import Metrics

__all__ = ["ServerState"]


@dataclass(frozen=True, slots=True)
class ServerState:
    """The server's shared state, kept on ``app.state.roost``.

    Attributes:
        repository: the served models.
        config: limits, timeouts and batching.
        metrics: the Prometheus metrics (``create_app`` always makes some).
        telemetry: logs prediction requests; None when the server logs none.
    """

    repository: ModelRepository
    config: ServingConfig
    metrics: Metrics
    telemetry: PredictionTap | None = None

    @classmethod
    def of(cls, request: Request) -> ServerState:
        state: ServerState = request.app.state.roost
        return state
