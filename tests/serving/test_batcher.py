"""The batcher on a FakeClock: when batches close, how outputs come back, what fails together.

No test sleeps: time moves only when a test calls ``clock.advance``. ``predict`` runs
in a worker thread, as in the server, so a test awaits its requests' tasks.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roost.config import BatchingConfig
from roost.errors import ConfigError, ModelError, Overloaded, RequestTimeout
from roost.serving import Batcher
from roost.testing import FakeClock


@dataclass
class Recorder:
    """A model that doubles its inputs and records the batches it saw; an observer too."""

    calls: list[list[int]] = field(default_factory=list)
    batches: list[tuple[int, int, float, float, bool]] = field(default_factory=list)
    depths: list[int] = field(default_factory=list)
    fail_on: int | None = None

    def predict(self, batch: Any) -> list[Any]:
        values = [int(v) for v in batch]
        self.calls.append(values)
        if self.fail_on is not None and self.fail_on in values:
            raise ModelError(f"cannot predict {self.fail_on}")
        return [2 * v for v in values]

    def batch_done(
        self, rows: int, requests: int, queue_wait_s: float, predict_s: float, failed: bool
    ) -> None:
        self.batches.append((rows, requests, queue_wait_s, predict_s, failed))

    def queue_changed(self, depth: int) -> None:
        self.depths.append(depth)


def rows(*values: int) -> np.ndarray[Any, Any]:
    """A validated tensor batch holding ``values``, one row each."""
    return np.array(values, dtype=np.int64)


async def settle() -> None:
    """Let every ready task run until each waits on the clock, a thread or a future."""
    for _ in range(20):
        await asyncio.sleep(0)


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


def make(
    recorder: Recorder, max_batch_size: int = 4, max_wait_ms: float = 10, max_queue: int = 100
) -> tuple[Batcher, FakeClock]:
    clock = FakeClock()
    config = BatchingConfig(max_batch_size, max_wait_ms, max_queue)
    return Batcher(recorder.predict, config, clock=clock, observer=recorder, name="m:1"), clock


def test_batcher_flushes_when_full() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        batcher, _ = make(recorder, max_batch_size=3)
        tasks = [asyncio.create_task(batcher.submit(rows(i), 1)) for i in range(3)]
        results = await asyncio.gather(*tasks)  # no advance: a full batch does not wait
        assert results == [[0], [2], [4]]
        assert recorder.calls == [[0, 1, 2]]

    run(scenario)


def test_batcher_flushes_at_max_wait() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        batcher, clock = make(recorder, max_batch_size=8, max_wait_ms=10)
        first = asyncio.create_task(batcher.submit(rows(1), 1))
        await settle()
        clock.advance(0.004)
        second = asyncio.create_task(batcher.submit(rows(2), 1))
        await settle()
        clock.advance(0.005)  # 9 ms after the first request: still gathering
        await settle()
        assert recorder.calls == []
        clock.advance(0.001)  # 10 ms: the window closes, counted from the first arrival
        assert await asyncio.gather(first, second) == [[2], [4]]
        assert recorder.calls == [[1, 2]]

    run(scenario)


def test_batcher_with_zero_wait_runs_at_once() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        batcher, _ = make(recorder, max_wait_ms=0)
        assert await batcher.submit(rows(5), 1) == [10]

    run(scenario)


def test_batcher_keeps_order_and_count_across_batches() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        batcher, _ = make(recorder, max_batch_size=4, max_wait_ms=0)
        sizes = [1, 3, 2, 2, 1]
        start = np.cumsum([0, *sizes[:-1]])
        tasks = [
            asyncio.create_task(batcher.submit(rows(*range(s, s + n)), n))
            for s, n in zip(start, sizes, strict=True)
        ]
        results = await asyncio.gather(*tasks)
        expected = [[2 * v for v in range(s, s + n)] for s, n in zip(start, sizes, strict=True)]
        assert results == expected
        assert [len(call) for call in recorder.calls] == [4, 4, 1]  # never more than 4 rows

    run(scenario)


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=25),
    max_batch_size=st.integers(min_value=1, max_value=12),
)
def test_batcher_splits_outputs_back_exactly(sizes: list[int], max_batch_size: int) -> None:
    """Property: whatever the request sizes, each request gets exactly its own outputs,
    every row is predicted once, in order, and a batch exceeds max_batch_size only when
    one request alone is larger."""

    async def scenario() -> None:
        recorder = Recorder()
        batcher, _ = make(recorder, max_batch_size=max_batch_size, max_wait_ms=0)
        start = np.cumsum([0, *sizes[:-1]])
        tasks = [
            asyncio.create_task(batcher.submit(rows(*range(s, s + n)), n))
            for s, n in zip(start, sizes, strict=True)
        ]
        results = await asyncio.gather(*tasks)
        for s, n, result in zip(start, sizes, results, strict=True):
            assert result == [2 * v for v in range(s, s + n)]
        assert [v for call in recorder.calls for v in call] == list(range(sum(sizes)))
        for call in recorder.calls:
            assert len(call) <= max_batch_size or len(call) in sizes

    run(scenario)


def test_batcher_runs_an_oversized_request_alone() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        batcher, _ = make(recorder, max_batch_size=2, max_wait_ms=0)
        small = asyncio.create_task(batcher.submit(rows(1), 1))
        large = asyncio.create_task(batcher.submit(rows(2, 3, 4, 5), 4))
        after = asyncio.create_task(batcher.submit(rows(6), 1))
        assert await asyncio.gather(small, large, after) == [[2], [4, 6, 8, 10], [12]]
        assert recorder.calls == [[1], [2, 3, 4, 5], [6]]

    run(scenario)


def test_batcher_failing_batch_fails_only_its_members() -> None:
    async def scenario() -> None:
        recorder = Recorder(fail_on=2)
        batcher, _ = make(recorder, max_batch_size=2, max_wait_ms=0)
        tasks = [asyncio.create_task(batcher.submit(rows(i), 1)) for i in (1, 2, 3, 4)]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert [type(r).__name__ for r in results[:2]] == ["ModelError", "ModelError"]
        assert str(results[0]) == "cannot predict 2"
        assert results[2:] == [[6], [8]]  # the next batch runs as usual
        assert [b[4] for b in recorder.batches] == [True, False]

    run(scenario)


def test_batcher_wrong_output_count_is_a_model_error() -> None:
    async def scenario() -> None:
        batcher = Batcher(lambda batch: [0], BatchingConfig(4, 0), clock=FakeClock(), name="m:1")
        with pytest.raises(ModelError, match="returned 1 outputs for 2 rows"):
            await batcher.submit(rows(1, 2), 2)

    run(scenario)


def test_batcher_skips_cancelled_requests() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        batcher, clock = make(recorder, max_batch_size=8, max_wait_ms=10)
        kept = asyncio.create_task(batcher.submit(rows(1), 1))
        dropped = asyncio.create_task(batcher.submit(rows(2), 1))
        await settle()
        dropped.cancel()  # what a request timeout does to its waiting request
        await settle()
        clock.advance(0.010)
        assert await kept == [2]
        assert recorder.calls == [[1]]
        assert dropped.cancelled()

    run(scenario)


def test_batcher_sheds_when_max_queue_reached() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        batcher, clock = make(recorder, max_batch_size=8, max_wait_ms=10, max_queue=2)
        waiting = [asyncio.create_task(batcher.submit(rows(i), 1)) for i in (1, 2)]
        await settle()
        with pytest.raises(Overloaded, match=r"'m:1' has 2 requests waiting \(max_queue 2\)"):
            await batcher.submit(rows(3), 1)
        clock.advance(0.010)
        assert await asyncio.gather(*waiting) == [[2], [4]]
        assert recorder.calls == [[1, 2]]  # the shed request never reached the model

    run(scenario)


def test_batcher_abandoned_requests_free_their_queue_places() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        batcher, clock = make(recorder, max_batch_size=8, max_wait_ms=10, max_queue=1)
        gone = asyncio.create_task(batcher.submit(rows(1), 1))
        await settle()
        gone.cancel()
        await settle()
        fresh = asyncio.create_task(batcher.submit(rows(2), 1))  # not shed: the place is free
        await settle()
        clock.advance(0.010)
        assert await fresh == [4]

    run(scenario)


def test_batcher_next_batch_gathers_while_one_runs() -> None:
    """Requests arriving while a batch runs form the next batch together."""

    async def scenario() -> None:
        release = threading.Event()
        calls: list[list[int]] = []

        def slow(batch: Any) -> list[Any]:
            calls.append([int(v) for v in batch])
            release.wait(5)
            return [0] * len(batch)

        batcher = Batcher(slow, BatchingConfig(8, 0), clock=FakeClock(), name="m:1")
        first = asyncio.create_task(batcher.submit(rows(1), 1))
        await settle()
        later = [asyncio.create_task(batcher.submit(rows(i), 1)) for i in (2, 3, 4)]
        await settle()
        assert batcher.depth == 3
        release.set()
        await asyncio.gather(first, *later)
        assert calls == [[1], [2, 3, 4]]

    run(scenario)


def test_batcher_observer_hears_sizes_waits_and_depth() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        batcher, clock = make(recorder, max_batch_size=8, max_wait_ms=10)
        first = asyncio.create_task(batcher.submit(rows(1, 2), 2))
        await settle()
        clock.advance(0.004)
        second = asyncio.create_task(batcher.submit(rows(3), 1))
        await settle()
        clock.advance(0.006)
        await asyncio.gather(first, second)
        ((n_rows, n_requests, waited, predict_s, failed),) = recorder.batches
        assert (n_rows, n_requests, failed) == (3, 2, False)
        assert waited == pytest.approx(0.010)  # the oldest request's wait
        assert predict_s == 0  # the fake clock did not move while predict ran
        assert recorder.depths == [1, 2, 0]

    run(scenario)


def test_batcher_observer_failure_never_fails_requests(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def batch_done(self, *args: Any) -> None:
            raise RuntimeError("metrics are down")

        def queue_changed(self, depth: int) -> None:
            raise RuntimeError("metrics are down")

    async def scenario() -> None:
        batcher = Batcher(
            Recorder().predict, BatchingConfig(4, 0), clock=FakeClock(), observer=Broken()
        )
        assert await batcher.submit(rows(1), 1) == [2]

    run(scenario)
    assert "batch observer of model failed" in caplog.text


def test_batcher_close_fails_waiting_requests() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        batcher, _ = make(recorder, max_batch_size=8, max_wait_ms=10)
        waiting = asyncio.create_task(batcher.submit(rows(1), 1))
        await settle()
        await batcher.close()
        with pytest.raises(Overloaded, match="'m:1' is shutting down"):
            await waiting
        assert recorder.calls == []

    run(scenario)


def test_batcher_runs_a_quick_model_on_the_event_loop_after_its_first_batch() -> None:
    """Only the model's own time decides; a slow hand-over to the thread does not count."""

    async def scenario() -> None:
        threads: list[str] = []
        clock = FakeClock()

        def quick(batch: Any) -> list[Any]:
            threads.append(threading.current_thread().name)
            return [0] * len(batch)

        batcher = Batcher(quick, BatchingConfig(4, 0), clock=clock, name="m:1")
        loop = asyncio.get_running_loop()
        real_executor = loop.run_in_executor

        def slow_hand_over(executor: Any, func: Any, *args: Any) -> Any:
            clock.advance(0.01)  # the trip to the thread and back takes 10 ms here
            return real_executor(executor, func, *args)

        loop.run_in_executor = slow_hand_over  # type: ignore[method-assign]
        for i in range(3):
            assert await batcher.submit(rows(i), 1) == [0]
        main = threading.current_thread().name
        assert threads[0] != main  # unknown at first: a thread
        assert threads[1:] == [main, main]

    run(scenario)


def test_batcher_runs_a_slow_model_on_one_thread_of_its_own() -> None:
    """OpenMP starts a thread team per calling thread: each model's batches come from one.

    Two models predict at the same time, ten times. From a shared pool their calls
    would land on whichever thread is free (so each model on both threads, about
    certainly); with a thread per batcher, each keeps its own.
    """

    async def scenario() -> None:
        clock = FakeClock()
        together = threading.Barrier(2, timeout=5)
        threads: dict[str, set[int]] = {"a": set(), "b": set()}

        def model(name: str) -> Callable[[Any], list[Any]]:
            def predict(batch: Any) -> list[Any]:
                threads[name].add(threading.get_ident())
                together.wait()  # both models are in a thread at once
                clock.advance(0.005)  # each batch takes 5 ms: too long for the event loop
                return [0] * len(batch)

            return predict

        batchers = [Batcher(model(n), BatchingConfig(4, 0), clock=clock, name=n) for n in "ab"]
        for i in range(10):
            answers = await asyncio.gather(*(b.submit(rows(i), 1) for b in batchers))
            assert answers == [[0], [0]]
        assert [len(ids) for ids in threads.values()] == [1, 1]
        assert threads["a"] != threads["b"]
        assert threading.get_ident() not in threads["a"] | threads["b"]
        for batcher in batchers:
            await batcher.close()

    run(scenario)


def test_batcher_submit_times_out_and_drops_the_request() -> None:
    async def scenario() -> None:
        release = threading.Event()
        calls: list[list[int]] = []

        def slow(batch: Any) -> list[Any]:
            calls.append([int(v) for v in batch])
            release.wait(5)
            return [0] * len(batch)

        batcher = Batcher(slow, BatchingConfig(1, 0), clock=FakeClock(), name="m:1")
        first = asyncio.create_task(batcher.submit(rows(1), 1))
        await settle()
        with pytest.raises(RequestTimeout, match=r"model 'm:1' did not answer within 0.05 s"):
            await batcher.submit(rows(2), 1, timeout_s=0.05)  # a real timer: 50 ms
        release.set()
        assert await first == [0]
        assert await batcher.submit(rows(3), 1, timeout_s=5) == [0]
        assert calls == [[1], [3]]  # the request that timed out never reached the model

    run(scenario)


class FixedCostModel:
    """A model whose every batch takes 4 ms of (fake) time, like a forest's fixed overhead."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.calls: list[list[int]] = []

    def predict(self, batch: Any) -> list[Any]:
        self.calls.append([int(v) for v in batch])
        # called in the batcher's thread while nothing sleeps on the clock: advancing
        # only moves the time
        self.clock.advance(0.004)
        return [0] * len(batch)


def test_batcher_auto_wait_never_delays_a_lone_client() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        model = FixedCostModel(clock)
        batcher = Batcher(model.predict, BatchingConfig(8, None), clock=clock, name="m:1")
        for i in range(4):
            task = asyncio.create_task(batcher.submit(rows(i), 1))
            await asyncio.wait_for(task, 5)  # answered without the clock being advanced
            clock.advance(0.5)  # the client thinks between requests
        assert model.calls == [[0], [1], [2], [3]]

    run(scenario)


def test_batcher_auto_wait_gathers_company_under_load() -> None:
    """Requests arriving closer than a quarter of the model's batch time: the batch waits."""

    async def scenario() -> None:
        clock = FakeClock()
        model = FixedCostModel(clock)
        batcher = Batcher(model.predict, BatchingConfig(100, None), clock=clock, name="m:1")
        assert await batcher.submit(rows(0), 1) == [0]  # learns: a batch takes 4 ms
        burst = [asyncio.create_task(batcher.submit(rows(i), 1)) for i in range(1, 11)]
        await settle()
        assert not any(task.done() for task in burst)  # waiting for company: up to 1 ms
        late = asyncio.create_task(batcher.submit(rows(11), 1))
        await settle()
        clock.advance(0.001)
        await asyncio.gather(*burst, late)
        assert model.calls == [[0], list(range(1, 12))]  # the late one joined the batch

    run(scenario)


def test_batcher_fixed_zero_wait_runs_at_once_under_load() -> None:
    """The same burst with max_wait_ms=0: no waiting, the late request runs next."""

    async def scenario() -> None:
        clock = FakeClock()
        model = FixedCostModel(clock)
        batcher = Batcher(model.predict, BatchingConfig(100, 0), clock=clock, name="m:1")
        assert await batcher.submit(rows(0), 1) == [0]
        burst = [asyncio.create_task(batcher.submit(rows(i), 1)) for i in range(1, 11)]
        await asyncio.gather(*burst)
        assert await batcher.submit(rows(11), 1) == [0]
        assert model.calls == [[0], list(range(1, 11)), [11]]

    run(scenario)


@pytest.mark.parametrize("wait", [-1, 10_001, True, "5", float("nan")])
def test_batching_config_refuses_a_bad_wait(wait: Any) -> None:
    with pytest.raises(ConfigError, match="max_wait_ms: expected 0 to 10000 or None"):
        BatchingConfig(8, wait)


def test_batching_config_waits_automatically_by_default() -> None:
    assert BatchingConfig().max_wait_ms is None
    assert BatchingConfig(8, 0).max_wait_ms == 0
