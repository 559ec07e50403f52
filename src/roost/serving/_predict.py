"""The path every protocol shares: validate one request's rows, batch them, await the outputs."""

from __future__ import annotations

import itertools
import os
from typing import Any

import anyio

from roost.model import count_rows
from roost.serving.repository import ServedModel
from roost.serving.state import ServerState
from roost.types import Rows

__all__ = ["PREDICTION_ID_HEADER", "new_prediction_id", "predict_rows"]

#: the response header that carries the prediction id, on every protocol
PREDICTION_ID_HEADER = "X-Prediction-Id"


class _IdSource:
    """Unique ids, cheaply: a random prefix per process and a counter (32 hex digits).

    ``uuid4`` reads the OS's random source on every call, a measurable share of a small
    model's request; the prefix does that once per process, and again in a forked
    child, so two worker processes never share one.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._counter = itertools.count()

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


_IDS = _IdSource()
os.register_at_fork(after_in_child=_IDS.reset)


def new_prediction_id() -> str:
    """A fresh id for one prediction request, which later feedback refers to."""
    return _IDS.next()


async def predict_rows(
    state: ServerState, served: ServedModel, rows: Rows, *, prediction_id: str, protocol: str
) -> list[Any]:
    """Validate ``rows`` (alone: a bad request fails alone), then predict them in a batch.

    The answered request is handed to telemetry when the server logs predictions.

    Raises:
        SignatureError: the rows do not match the model's signature.
        Overloaded: the model's queue is full.
        RequestTimeout: no answer within the server's request timeout.
    """
    clock = state.repository.clock
    started = clock.monotonic()
    if getattr(served.model, "validation_does_io", False):
        # a featured model reads its online store while validating: not on the event loop
        validated = await anyio.to_thread.run_sync(served.model.validate, rows)
    else:
        validated = served.model.validate(rows)
    n_rows = count_rows(validated)
    if n_rows == 0:
        return []
    outputs = await served.batcher.submit(validated, n_rows, state.config.request_timeout_s)
    if state.telemetry is not None:
        latency_s = clock.monotonic() - started
        state.telemetry.record(served, prediction_id, protocol, rows, outputs, latency_s)
    return outputs
