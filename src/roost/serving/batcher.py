"""Adaptive batching: concurrent requests for one model become one ``predict`` call.

The algorithm (docs/serving.md has the long form):

1. Each request is validated on its own *before* it joins the queue, so a request
   whose rows are wrong fails alone and never spoils a batch.
2. A batch opens when a request reaches an idle model. It closes when it holds
   ``max_batch_size`` rows, or when its wait is over, whichever comes first. With a
   fixed ``max_wait_ms`` the wait ends that long after its first request arrived.
   With ``max_wait_ms=None`` (automatic) it waits only when company is expected:
   when requests have lately been arriving closer together than the wait, which is
   ``AUTO_WAIT_SHARE`` of the model's own batch time, at most ``AUTO_WAIT_MAX_S``.
   A lone client thus never waits, while under load a model whose batches cost a
   fixed few milliseconds gathers the requests its previous batch just answered
   instead of running them as a second, half-empty batch. A request is never
   split: one larger than ``max_batch_size`` runs as a batch of its own.
3. One batch runs at a time per model, in a worker thread, so the event loop keeps
   accepting requests; everything that arrives meanwhile forms the next batch. (A
   model whose batches take under ``INLINE_BELOW_S`` runs on the event loop instead:
   the hand-over to a thread would cost more than the work.) Under
   load batches therefore grow by themselves; at low load a request waits at most
   ``max_wait_ms``.
4. The outputs are split back by each request's row count, in order. If the model
   fails (it raises, or returns another number of outputs than rows), every request
   of that batch gets the error (the rows were valid, so the fault is the model's);
   the next batch runs as usual. A request whose caller stopped waiting (its deadline
   passed, its task was cancelled) is dropped before its batch runs; once its batch
   runs, the model's work is not interrupted.
5. When ``max_queue`` live requests are already waiting, a new one is refused at once
   with ``Overloaded`` (HTTP 503 with Retry-After): shedding early beats timing out
   late. Requests whose callers gave up do not count against the limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from roost.clock import Clock, SystemClock
from roost.config import BatchingConfig
from roost.errors import ModelError, Overloaded, RequestTimeout
from roost.model import concat_batches

__all__ = ["BatchObserver", "Batcher"]

log = logging.getLogger(__name__)

#: a model whose batches take less than this (smoothed) runs on the event loop itself
INLINE_BELOW_S = 0.002
#: automatic waiting: a batch waits for company up to this share of the model's batch time
AUTO_WAIT_SHARE = 0.25
#: ... and never longer than this
AUTO_WAIT_MAX_S = 0.005
_EMA_WEIGHT = 0.2
#: arrival gaps longer than this count as this (an idle hour must not take an hour to forget)
_MAX_GAP_S = 1.0


class BatchObserver(Protocol):
    """Told about every batch and every change of the queue; metrics implement it.

    Calls come from the event loop, so they must be cheap. An exception raised here is
    logged and otherwise ignored: telemetry never fails a request.
    """

    def batch_done(
        self, rows: int, requests: int, queue_wait_s: float, predict_s: float, failed: bool
    ) -> None:
        """A batch ran.

        Args:
            rows: rows in the batch (what ``predict`` received).
            requests: requests merged into it.
            queue_wait_s: how long its oldest request waited before the batch ran.
            predict_s: how long ``predict`` took.
            failed: whether the model failed (every request of the batch got the error).
        """
        ...

    def queue_changed(self, depth: int) -> None:
        """``depth`` requests now wait for a batch."""
        ...


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
        predict: runs a merged, validated batch; returns one output per row. Called on
            the event loop when the model is quick, else on the batcher's own thread.
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
        self._running: list[_Pending] = []
        self._arrived = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        # how long a batch takes, smoothed; unknown at first, so the first runs in a thread
        self._predict_s_ema = float("inf")
        # the time between two requests, smoothed; unknown at first, so nobody waits
        self._arrival_gap_ema = float("inf")
        self._last_arrival: float | None = None
        # one thread of its own, created on first use: batches run one at a time anyway,
        # and OpenMP (LightGBM, XGBoost, scikit-learn's histogram boosting) starts a team
        # of threads per calling thread, so the loop's shared pool, calling from a
        # different thread each time, leaves several teams spinning for the same cores
        # (30 ms instead of 10 ms per one-row call with three models served, measured)
        self._executor: ThreadPoolExecutor | None = None

    @property
    def depth(self) -> int:
        """Requests waiting for a batch (the running batch not included)."""
        return len(self._queue)

    async def submit(self, batch: Any, rows: int, timeout_s: float | None = None) -> list[Any]:
        """Queue a validated batch; return its outputs once its merged batch has run.

        Args:
            batch: what the model's ``validate`` returned for one request.
            rows: its number of rows.
            timeout_s: give up after this long (the request is then dropped from the
                queue, or its batch's outputs are ignored if that batch already runs).

        Raises:
            Overloaded: ``max_queue`` requests are already waiting.
            RequestTimeout: no answer within ``timeout_s``.
            Exception: whatever the model raised for the batch this request was in.
        """
        if len(self._queue) >= self.config.max_queue:
            self._forget_abandoned()
            if len(self._queue) >= self.config.max_queue:
                raise Overloaded(
                    f"model {self.name!r} has {len(self._queue)} requests waiting "
                    f"(max_queue {self.config.max_queue}); retry later"
                )
        loop = asyncio.get_running_loop()
        now = self.clock.monotonic()
        self._note_arrival(now)
        future: asyncio.Future[list[Any]] = loop.create_future()
        self._queue.append(_Pending(batch, rows, future, now))
        self._notify_queue()
        self._arrived.set()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work(), name=f"batcher-{self.name}")
        if timeout_s is None:
            return await future
        # a timer on the future, not asyncio.wait_for: that wraps every request in a task
        # of its own, a measurable share of a small model's request
        timer = loop.call_later(timeout_s, self._expire, future, timeout_s)
        try:
            return await future
        finally:
            timer.cancel()

    def _note_arrival(self, now: float) -> None:
        if self._last_arrival is not None:
            gap = min(now - self._last_arrival, _MAX_GAP_S)
            if self._arrival_gap_ema == float("inf"):
                self._arrival_gap_ema = gap
            else:
                self._arrival_gap_ema += _EMA_WEIGHT * (gap - self._arrival_gap_ema)
        self._last_arrival = now

    def _expire(self, future: asyncio.Future[list[Any]], timeout_s: float) -> None:
        if not future.done():
            future.set_exception(
                RequestTimeout(f"model {self.name!r} did not answer within {timeout_s:g} s")
            )

    async def close(self) -> None:
        """Stop the worker and fail whatever still waits (the server drains requests first)."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        stranded = [*self._running, *self._queue]
        self._running = []
        self._queue.clear()
        for pending in stranded:
            if not pending.future.done():
                pending.future.set_exception(Overloaded(f"model {self.name!r} is shutting down"))
        self._notify_queue()
        if self._executor is not None:
            self._executor.shutdown(wait=False)  # a batch still running finishes on its own
            self._executor = None

    def _forget_abandoned(self) -> None:
        """Drop the requests whose callers stopped waiting, so they free their places."""
        self._queue = deque(p for p in self._queue if not p.future.done())
        self._notify_queue()

    def _notify_queue(self) -> None:
        if self.observer is not None:
            try:
                self.observer.queue_changed(len(self._queue))
            except Exception:  # telemetry never fails a request (STYLE.md §5)
                log.exception("batch observer of %s failed on queue_changed", self.name)

    def _queued_rows(self) -> int:
        return sum(p.rows for p in self._queue if not p.future.done())

    async def _work(self) -> None:
        while self._queue:
            await self._gather()
            batch = self._take()
            if batch:
                await self._run(batch)

    def _batch_deadline(self) -> float:
        """When the open batch stops waiting for company (see the module's point 2)."""
        if self.config.max_wait_ms is not None:
            return self._queue[0].enqueued_at + self.config.max_wait_ms / 1000
        wait_s = min(self._predict_s_ema * AUTO_WAIT_SHARE, AUTO_WAIT_MAX_S)
        if self._arrival_gap_ema >= wait_s:
            return float("-inf")  # nobody is expected in time: run what is here
        return self.clock.monotonic() + wait_s

    async def _gather(self) -> None:
        """Wait until the open batch is full or its wait is over."""
        deadline = self._batch_deadline()
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
            if pending.future.done():  # the caller gave up (deadline, cancellation)
                self._queue.popleft()
                continue
            if taken and rows + pending.rows > self.config.max_batch_size:
                break
            self._queue.popleft()
            taken.append(pending)
            rows += pending.rows
        self._notify_queue()
        return taken

    async def _run(self, taken: list[_Pending]) -> None:
        started = self.clock.monotonic()
        rows = sum(p.rows for p in taken)
        self._running = taken
        try:
            merged = concat_batches([p.batch for p in taken])
            if self._predict_s_ema < INLINE_BELOW_S:
                # a short batch runs right here: handing it to a thread and back costs
                # ~0.1 ms plus a fight for the GIL with the loop (scikit-learn's Python
                # overhead holds it), and the loop waits for less than a request's budget
                outputs, predict_s = self._timed_predict(merged)
            else:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"roost-{self.name}")
                loop = asyncio.get_running_loop()
                outputs, predict_s = await loop.run_in_executor(
                    self._executor, self._timed_predict, merged
                )
            if len(outputs) != rows:
                raise ModelError(
                    f"model {self.name} returned {len(outputs)} outputs for {rows} rows; "
                    "expected one output per row"
                )
        except Exception as exc:  # the model's failure belongs to every request in the batch
            log.warning("model %s failed on a batch of %d requests: %s", self.name, len(taken), exc)
            for pending in taken:
                if not pending.future.done():
                    pending.future.set_exception(exc)
            self._observe_batch(taken, rows, started, failed=True)
            return
        finally:
            self._running = []
        if self._predict_s_ema == float("inf"):
            self._predict_s_ema = predict_s
        else:
            self._predict_s_ema += _EMA_WEIGHT * (predict_s - self._predict_s_ema)
        offset = 0
        for pending in taken:
            if not pending.future.done():
                pending.future.set_result(outputs[offset : offset + pending.rows])
            offset += pending.rows
        self._observe_batch(taken, rows, started, failed=False)

    def _timed_predict(self, merged: Any) -> tuple[list[Any], float]:
        """The outputs, and how long the model itself took.

        Timed where it runs, not around the ``await``: under load the hand-over to a
        thread and back can take longer than a small model, and counting it would keep
        such a model off the event loop for good.
        """
        started = self.clock.monotonic()
        outputs = self.predict(merged)
        return outputs, self.clock.monotonic() - started

    def _observe_batch(
        self, taken: list[_Pending], rows: int, started: float, failed: bool
    ) -> None:
        if self.observer is None:
            return
        waited = started - min(p.enqueued_at for p in taken)
        try:
            self.observer.batch_done(
                rows, len(taken), waited, self.clock.monotonic() - started, failed
            )
        except Exception:  # telemetry never fails a request (STYLE.md §5)
            log.exception("batch observer of %s failed on batch_done", self.name)
