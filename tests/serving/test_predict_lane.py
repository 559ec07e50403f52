"""The plain-ASGI lane for V1 predictions answers exactly as the Starlette route does."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Callable
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from roost.serving._predict_lane import PredictLane, v1_predict_target

ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/v1/models/iris:predict", "iris"),
        ("/v1/models/iris:predict/", "iris"),
        ("/v1/models/a:b:predict", "a:b"),  # the route's {name} takes the colon too
        ("/v1/models/:predict", None),
        ("/v1/models/a/b:predict", None),
        ("/v1/models/iris:explain", None),
        ("/v1/models/iris", None),
        ("/v2/models/iris:predict", None),
        ("/v1/models/iris:predict//", None),
    ],
)
def test_lane_recognises_exactly_the_predict_route(path: str, name: str | None) -> None:
    assert v1_predict_target(path) == name


REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("/v1/models/iris:predict", {"json": {"instances": [ROW, ROW]}}),
    ("/v1/models/iris:predict/", {"json": {"instances": [ROW]}}),
    ("/v1/models/digits:predict", {"json": {"instances": [[0.0] * 8]}}),
    ("/v1/models/iris:predict", {"json": {"inputs": {k: [v] for k, v in ROW.items()}}}),
    ("/v1/models/iris:predict", {"json": {"instances": [{**ROW, "sepal_length": "x"}]}}),
    ("/v1/models/iris:predict", {"content": b"{not json"}),
    ("/v1/models/iris:predict", {"content": b""}),
    ("/v1/models/iris:predict", {"json": [1, 2]}),
    ("/v1/models/nope:predict", {"json": {"instances": [ROW]}}),
    ("/v1/models/iris:predict", {"content": b"x" * 2048}),
    (
        "/v1/models/iris:predict",
        {
            "content": gzip.compress(b'{"instances": [%s]}' % str(ROW).replace("'", '"').encode()),
            "headers": {"content-encoding": "gzip"},
        },
    ),
    (
        "/v1/models/iris:predict",
        {"content": b"\x1f\x8b junk", "headers": {"content-encoding": "gzip"}},
    ),
    ("/v1/models/iris:predict", {"content": b"{}", "headers": {"content-encoding": "br"}}),
]


def _answer(client: TestClient, path: str, kwargs: dict[str, Any]) -> tuple[Any, ...]:
    response = client.post(path, **kwargs)
    body = response.json()
    if isinstance(body, dict):
        body.pop("id", None)  # fresh per request
    return (
        response.status_code,
        body,
        response.headers["content-type"],
        "x-prediction-id" in response.headers,
        response.headers.get("retry-after"),
    )


def test_lane_and_route_give_the_same_answers(
    make_app: Callable[..., Starlette], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A root_path sends requests past the lane to the route: both must agree."""
    lane_calls = []
    real_predict = PredictLane._predict

    async def counted(self: PredictLane, *args: Any) -> None:
        lane_calls.append(args[0])
        await real_predict(self, *args)

    monkeypatch.setattr(PredictLane, "_predict", counted)
    app = make_app(max_body_bytes=1024)
    with TestClient(app) as lane, TestClient(app, root_path="/api") as route:
        for path, kwargs in REQUESTS:
            via_lane = _answer(lane, path, kwargs)
            assert len(lane_calls) == 1
            via_route = _answer(route, path, kwargs)
            assert len(lane_calls) == 1  # the route answered this one
            lane_calls.clear()
            assert via_lane == via_route, path
        statuses = {_answer(lane, path, kwargs)[0] for path, kwargs in REQUESTS}
        assert statuses == {200, 400, 404, 413}


def test_lane_counts_its_requests_in_metrics(client: TestClient) -> None:
    for _ in range(3):
        assert client.post("/v1/models/iris:predict", json={"instances": [ROW]}).status_code == 200
    assert client.post("/v1/models/iris:predict", content=b"[").status_code == 400
    text = client.get("/metrics").text
    assert 'roost_requests_total{code="200",model="iris",protocol="v1",version="1"} 3.0' in text
    assert 'roost_requests_total{code="400",model="iris",protocol="v1",version="1"} 1.0' in text


def test_lane_leaves_other_methods_and_paths_to_the_routes(client: TestClient) -> None:
    wrong_method = client.get("/v1/models/iris:predict")
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {"error": "GET /v1/models/iris:predict: expected POST"}
    assert client.post("/v1/models/iris:explain", json={}).status_code == 501


def test_lane_answers_nothing_to_a_client_that_left(make_app: Callable[..., Starlette]) -> None:
    app = make_app()
    with TestClient(app):  # loads the models
        lane = PredictLane(app=_unreachable, state=app.state.roost)
        sent: list[Any] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.disconnect"}

        async def send(message: Any) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "POST",
            "path": "/v1/models/iris:predict",
            "headers": [(b"content-type", b"application/json")],
        }
        asyncio.run(lane(scope, receive, send))
    assert sent == []


async def _unreachable(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("the lane passed on a request it should have answered")
