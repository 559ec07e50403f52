"""Adaptive batching: concurrent requests for one model become one ``predict`` call.

The algorithm (docs/serving.md has the long form):

1. Each request is validated on its own *before* it joins the queue, so a request
   whose rows are wrong fails alone and never spoils a batch.
2. A batch opens when a request reaches an idle model. It closes when it holds
   ``max_batch_size`` rows, or ``max_wait_ms`` after its first request arrived,
   whichever comes first. A request is never split: one larger than
   ``max_batch_size`` runs as a batch of its own.
3. One batch runs at a time per model, in a worker thread, so the event loop keeps
   accepting requests; everything that arrives meanwhile forms the next batch. Under
   load batches therefore grow by themselves; at low load a request waits at most
   ``max_wait_ms``.
4. The outputs are split back by each request's row count, in order. If the model
   fails, every request of that batch gets the error (the rows were valid, so the
   fault is the model's). A request whose caller gave up (timeout, disconnect) is
   dropped before its batch runs.
5. When ``max_queue`` requests are already waiting, a new one is refused at once with
   ``Overloaded`` (HTTP 503 with Retry-After): shedding early beats timing out late.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from roost.clock import Clock, SystemClock
from roost.config import BatchingConfig
from roost.errors import Overloaded
from roost.model import concat_batches

__all__ = ["BatchObserver", "Batcher"]

log = logging.getLogger(__name__)


class BatchObserver(Protocol):
    """Told about every batch; metrics implement it. Must be cheap and never raise."""

    def batch_done(
        self, rows: int, requests: int, queue_wait_s: float, predict_s: float
    ) -> None: ...

    def queue_changed(self, depth: int) -> None: ...


@dataclass(frozen=True, slots=True)
class _Pending:
    """One request waiting for its batch."""

    batch: Any
    rows: int
    future: asyncio.Future[list[Any]]
    enqueued_at: float


class Batcher:
    """Merge concurrent requests for one model into batched ``predict`` calls.

    Args:
        predict: runs a merged, validated batch; returns one output per row. Called in
            a worker thread.
        config: ``max_batch_size``, ``max_wait_ms``, ``max_queue``.
        clock: time, injectable for tests.
        observer: told about each batch and queue change (metrics).
        name: how to name the model in messages and logs.

    Example:
        >>> batcher = Batcher(model.predict_validated, BatchingConfig())  # doctest: +SKIP
        >>> await batcher.submit(model.validate(rows), len(rows))  # doctest: +SKIP
    """

    def __init__(
        self,
        predict: Callable[[Any], list[Any]],
        config: BatchingConfig,
        *,
        clock: Clock | None = None,
        observer: BatchObserver | None = None,
        name: str = "model",
    ) -> None:
        self.predict = predict
        self.config = config
        self.clock = clock or SystemClock()
        self.observer = observer
        self.name = name
        self._queue: deque[_Pending] = deque()
        self._arrived = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None

    @property
    def depth(self) -> int:
        """Requests waiting for a batch."""
        return len(self._queue)

    async def submit(self, batch: Any, rows: int) -> list[Any]:
        """Queue a validated batch; return its outputs once its merged batch has run.

        Raises:
            Overloaded: ``max_queue`` requests are already waiting.
            Exception: whatever the model raised for the batch this request was in.
        """
        if len(self._queue) >= self.config.max_queue:
            raise Overloaded(
                f"model {self.name!r} has {len(self._queue)} requests waiting "
                f"(max_queue {self.config.max_queue}); retry later"
            )
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(batch, rows, future, self.clock.monotonic()))
        self._notify_queue()
        self._arrived.set()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work(), name=f"batcher-{self.name}")
        return await future

    async def close(self) -> None:
        """Stop the worker and fail whatever still waits (the server drains requests first)."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        while self._queue:
            pending = self._queue.popleft()
            if not pending.future.done():
                pending.future.set_exception(Overloaded(f"model {self.name!r} is shutting down"))

    def _notify_queue(self) -> None:
        if self.observer is not None:
            self.observer.queue_changed(len(self._queue))

    def _queued_rows(self) -> int:
        return sum(p.rows for p in self._queue)

    async def _work(self) -> None:
        while self._queue:
            await self._gather()
            batch = self._take()
            if batch:
                await self._run(batch)

    async def _gather(self) -> None:
        """Wait until the open batch is full or its first request has waited max_wait_ms."""
        deadline = self._queue[0].enqueued_at + self.config.max_wait_ms / 1000
        while self._queued_rows() < self.config.max_batch_size:
            remaining = deadline - self.clock.monotonic()
            if remaining <= 0:
                return
            self._arrived.clear()
            arrival = asyncio.ensure_future(self._arrived.wait())
            timer = asyncio.ensure_future(self.clock.sleep(remaining))
            try:
                await asyncio.wait({arrival, timer}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                arrival.cancel()
                timer.cancel()

    def _take(self) -> list[_Pending]:
        """The requests of the next batch: up to max_batch_size rows, at least one request."""
        taken: list[_Pending] = []
        rows = 0
        while self._queue:
            pending = self._queue[0]
            if taken and rows + pending.rows > self.config.max_batch_size:
                break
            self._queue.popleft()
            if pending.future.done():  # the caller gave up (timeout, disconnect)
                continue
            taken.append(pending)
            rows += pending.rows
        self._notify_queue()
        return taken

    async def _run(self, taken: list[_Pending]) -> None:
        started = self.clock.monotonic()
        merged = concat_batches([p.batch for p in taken])
        try:
            outputs = await asyncio.get_running_loop().run_in_executor(None, self.predict, merged)
        except Exception as exc:  # the model's failure belongs to every request in the batch
            log.warning("model %s failed on a batch of %d requests: %s", self.name, len(taken), exc)
            for pending in taken:
                if not pending.future.done():
                    pending.future.set_exception(exc)
            return
        finished = self.clock.monotonic()
        offset = 0
        for pending in taken:
            if not pending.future.done():
                pending.future.set_result(outputs[offset : offset + pending.rows])
            offset += pending.rows
        if self.observer is not None:
            rows = offset
            waited = sum(started - p.enqueued_at for p in taken) / len(taken)
            self.observer.batch_done(rows, len(taken), waited, finished - started)
