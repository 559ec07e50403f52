"""The server protects itself and its other models: shedding, timeouts, body limits, failures.

Each test drives the real app in process with concurrent requests (an httpx client
over ASGITransport, lifespan run), and models saved as plain Python functions. The
"gated" model blocks in ``predict`` until the test opens its gate, so which request
runs, waits or is shed is decided by the test, not by timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from roost.config import BatchingConfig, ServingConfig
from roost.serving import ModelRepository, create_app
from roost.store import Registry

GATE = threading.Event()  #: open: the gated model answers; closed: it blocks
ENTERED = threading.Event()  #: set once the gated model has started a batch
BATCHES: list[int] = []  #: the size of each batch the gated model received
ROW = [1.0, 2.0]


def gated(batch: Any) -> list[float]:
    """A model that blocks until the test opens ``GATE`` (saved by reference to this module)."""
    ENTERED.set()
    BATCHES.append(len(batch))
    if not GATE.wait(10):
        raise TimeoutError("the test never opened the gate")
    return [float(sum(row)) for row in batch]


def fragile(batch: Any) -> list[float]:
    """A model that raises on a negative first value, as a buggy model would."""
    if any(row[0] < 0 for row in batch):
        raise ValueError("negative input")
    return [float(sum(row)) for row in batch]


@pytest.fixture
def pyfunc_registry(registry: Registry) -> Iterator[Registry]:
    """``gated:1`` and ``fragile:1``, both taking rows of 2 floats and summing them."""
    GATE.set()  # saving runs the model once on its example
    registry.save(gated, "gated", example=[ROW])
    registry.save(fragile, "fragile", example=[ROW])
    GATE.clear()
    ENTERED.clear()
    BATCHES.clear()
    yield registry
    GATE.set()  # never leave a worker thread blocked behind a failed test


def build(registry: Registry, refs: list[str], **settings: Any) -> Starlette:
    config = ServingConfig(**settings)
    return create_app(ModelRepository(registry, refs, config), config)


@contextlib.asynccontextmanager
async def running(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """The app started (models loaded), and a client calling it in process."""
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://roost") as client,
    ):
        yield client


def predict(client: httpx.AsyncClient, name: str, row: list[float] = ROW) -> Any:
    return client.post(f"/v1/models/{name}:predict", json={"instances": [row]})


async def until(condition: Callable[[], bool]) -> None:
    """Yield to the event loop until ``condition`` holds (bounded: no sleeping)."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


def test_full_queue_is_503_with_retry_after(pyfunc_registry: Registry) -> None:
    app = build(pyfunc_registry, ["gated:1", "fragile:1"], batching=BatchingConfig(1, 0, 1))

    async def scenario() -> None:
        async with running(app) as client:
            running_request = asyncio.create_task(predict(client, "gated"))
            await asyncio.to_thread(ENTERED.wait, 5)  # in predict, blocked on the gate
            batcher = app.state.roost.repository.get("gated").batcher
            queued = asyncio.create_task(predict(client, "gated"))
            await until(lambda: batcher.depth == 1)
            shed = await predict(client, "gated")
            assert shed.status_code == 503
            assert shed.headers["retry-after"] == "1"
            assert shed.json() == {
                "error": "model 'gated:1' has 1 requests waiting (max_queue 1); retry later"
            }
            other = await predict(client, "fragile")
            assert other.status_code == 200  # each model has its own queue
            GATE.set()
            done = await asyncio.gather(running_request, queued)
            assert [r.status_code for r in done] == [200, 200]
            assert [r.json()["predictions"] for r in done] == [[3.0], [3.0]]

    asyncio.run(scenario())


def test_slow_model_is_504_after_request_timeout(pyfunc_registry: Registry) -> None:
    app = build(pyfunc_registry, ["gated:1"], request_timeout_s=0.2)

    async def scenario() -> None:
        async with running(app) as client:
            response = await predict(client, "gated")
            GATE.set()
            assert response.status_code == 504
            assert response.json() == {"error": "model 'gated:1' did not answer within 0.2 s"}
            assert (await predict(client, "gated")).status_code == 200  # and it recovers

    asyncio.run(scenario())


def test_request_waiting_past_its_timeout_is_dropped_before_predict(
    pyfunc_registry: Registry,
) -> None:
    """A request that timed out in the queue never reaches the model."""
    app = build(pyfunc_registry, ["gated:1"], request_timeout_s=0.2, batching=BatchingConfig(1, 0))

    async def scenario() -> None:
        async with running(app) as client:
            first = asyncio.create_task(predict(client, "gated"))
            await asyncio.to_thread(ENTERED.wait, 5)
            second = await predict(client, "gated")  # waits behind the first, times out
            assert second.status_code == 504
            GATE.set()
            assert (await first).status_code == 504
            assert (await predict(client, "gated")).status_code == 200
            assert BATCHES == [1, 1]  # the first and the last: the timed-out one was skipped

    asyncio.run(scenario())


def test_large_body_is_413(pyfunc_registry: Registry) -> None:
    app = build(pyfunc_registry, ["fragile:1"], max_body_bytes=100)

    async def scenario() -> None:
        async with running(app) as client:
            body = json.dumps({"instances": [ROW] * 20}).encode()
            response = await client.post("/v1/models/fragile:predict", content=body)
            assert response.status_code == 413
            assert response.json() == {
                "error": f"request body: expected at most 100 bytes, got {len(body)}"
            }
            assert (await predict(client, "fragile")).status_code == 200

    asyncio.run(scenario())


def test_model_raising_in_predict_is_500_and_spares_the_others(
    pyfunc_registry: Registry,
) -> None:
    GATE.set()
    app = build(pyfunc_registry, ["fragile:1", "gated:1"])

    async def scenario() -> None:
        async with running(app) as client:
            broken, fine = await asyncio.gather(
                predict(client, "fragile", [-1.0, 2.0]), predict(client, "gated")
            )
            assert broken.status_code == 500
            assert broken.json() == {"error": "model fragile:1 failed: ValueError: negative input"}
            assert fine.status_code == 200
            again = await predict(client, "fragile")
            assert (again.status_code, again.json()["predictions"]) == (200, [3.0])

    asyncio.run(scenario())


def test_every_prediction_carries_its_own_id(pyfunc_registry: Registry) -> None:
    app = build(pyfunc_registry, ["fragile:1"])

    async def scenario() -> None:
        async with running(app) as client:
            responses = await asyncio.gather(*(predict(client, "fragile") for _ in range(5)))
        ids = [r.headers["x-prediction-id"] for r in responses]
        assert [r.json()["id"] for r in responses] == ids
        assert len(set(ids)) == 5
        assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)

    asyncio.run(scenario())


def test_prediction_ids_are_unique_and_differ_in_a_forked_worker() -> None:
    import multiprocessing

    from roost.serving._predict import new_prediction_id

    ids = [new_prediction_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        child = pool.apply(new_prediction_id)
    assert child[:16] != ids[0][:16]  # the child drew its own prefix
