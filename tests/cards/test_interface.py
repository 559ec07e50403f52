"""The interface section: the signature as rows, and requests that a real server accepts."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from roost.cards.document import model_card
from roost.cards.interface import DEFAULT_BASE_URL, Request, requests, signature_rows
from roost.store import Registry

COLUMNS = {
    "kind": "columns",
    "inputs": [
        {"name": "x", "dtype": "float64", "allow_nan": True, "description": "a reading"},
        {"name": "city", "dtype": "string", "allow_nan": False},
    ],
    "outputs": [
        {"name": "label", "dtype": "string", "shape": [-1]},
        {"name": "probabilities", "dtype": "float64", "shape": [-1, 2], "labels": ["a", "b"]},
    ],
}
TENSORS = {
    "kind": "tensors",
    "inputs": [{"name": "input", "dtype": "float32", "shape": [-1, 3], "allow_nan": False}],
    "outputs": [{"name": "prediction", "dtype": "float64", "shape": [-1]}],
}


def test_signature_rows_give_type_shape_missing_and_description() -> None:
    inputs, outputs = signature_rows(COLUMNS)
    assert inputs == [
        ["x", "float64", None, True, "a reading"],
        ["city", "string", None, False, None],
    ]
    assert outputs == [
        ["label", "string", "[-1]", None, None],
        ["probabilities", "float64", "[-1, 2]; labels a, b", None, None],
    ]


def test_tensor_signature_rows_show_the_shape() -> None:
    inputs, _ = signature_rows(TENSORS)
    assert inputs == [["input", "float32", "[-1, 3]", False, None]]


def test_column_requests_follow_each_protocol() -> None:
    rows = [{"city": "Oslo", "x": 1.5}, {"city": "Rome", "x": None}]
    v1, v2, mlflow = requests("m", COLUMNS, rows)
    assert (v1.protocol, v1.url) == ("KServe V1", f"{DEFAULT_BASE_URL}/v1/models/m:predict")
    assert v1.body == {"instances": [{"x": 1.5, "city": "Oslo"}, {"x": None, "city": "Rome"}]}
    assert v2.url == f"{DEFAULT_BASE_URL}/v2/models/m/infer"
    assert v2.body == {
        "inputs": [
            {"name": "x", "shape": [2], "datatype": "FP64", "data": [1.5, None]},
            {"name": "city", "shape": [2], "datatype": "BYTES", "data": ["Oslo", "Rome"]},
        ]
    }
    assert mlflow.url == f"{DEFAULT_BASE_URL}/invocations"
    assert mlflow.body == {"dataframe_records": v1.body["instances"]}
    assert mlflow.note is not None


def test_tensor_requests_carry_the_batch() -> None:
    v1, v2, mlflow = requests("t", TENSORS, [[1.0, 2.0, 3.0]])
    assert v1.body == {"instances": [[1.0, 2.0, 3.0]]}
    assert v2.body["inputs"] == [
        {"name": "input", "shape": [1, 3], "datatype": "FP32", "data": [[1.0, 2.0, 3.0]]}
    ]
    assert mlflow.body == {"instances": [[1.0, 2.0, 3.0]]}


def test_requests_use_the_base_url_given() -> None:
    (v1, *_) = requests("m", COLUMNS, [{"x": 1.0, "city": "a"}], base_url="http://h:9/")
    assert v1.url == "http://h:9/v1/models/m:predict"


def test_requests_without_example_are_none() -> None:
    assert requests("m", COLUMNS, None) == ()


def test_curl_quotes_a_single_quote_for_the_shell() -> None:
    """A value holding ' must survive the shell's single quotes."""
    import shlex

    request = Request("KServe V1", "POST", "/v1/models/m:predict", {"instances": ["it's"]})
    words = shlex.split(request.curl.replace("\\\n", " "))
    assert words[:4] == ["curl", "-s", "-X", "POST"]
    assert json.loads(words[-1]) == {"instances": ["it's"]}


# -- the requests a card shows, sent to a real server -------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def _serving(registry: Registry, refs: list[str]) -> Iterator[str]:
    """``roost serve REFS`` on a real 127.0.0.1 port, in a thread; yields its base URL."""
    import uvicorn

    from roost.config import ServingConfig
    from roost.serving import ModelRepository, create_app

    config = ServingConfig()
    app = create_app(ModelRepository(registry, refs, config), config)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="card-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def _save_models(registry: Registry) -> None:
    """iris (four float columns), a tensor model, and a model of text, int and bool columns."""
    import numpy as np
    import pandas as pd
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(as_frame=True, return_X_y=True)
    registry.save(LogisticRegression(max_iter=1000).fit(x, y), "iris", example=x[:3])
    features = np.random.default_rng(0).normal(size=(60, 4))
    labels = (features[:, 0] > 0).astype(np.int64)
    registry.save(LogisticRegression().fit(features, labels), "tensors", example=features[:2])

    def describe(rows: Any) -> Any:
        return rows["city"].str.len() + rows["n"] + rows["flag"].astype(int)

    mixed = pd.DataFrame({"city": ["Oslo", "Rome"], "n": [1, 2], "flag": [True, False]})
    registry.save(describe, "mixed", example=mixed)


def _interface(registry: Registry, ref: str, base_url: str) -> tuple[Request, ...]:
    """The requests of the card of ``ref``, pointed at ``base_url``."""
    package = registry.path(ref)
    example = json.loads((package / "examples" / "input_example.json").read_text("utf-8"))
    card = model_card(registry.metadata(ref), [], example=example)
    shown = card.section("interface").requests
    return tuple(Request(r.protocol, r.method, r.path, r.body, base_url, r.note) for r in shown)


@pytest.mark.integration
@pytest.mark.parametrize("name", ["iris", "tensors", "mixed"])
def test_card_requests_are_accepted_by_a_live_server(registry: Registry, name: str) -> None:
    """Each protocol's request, built from the stored example, gets a 200 and one output
    per example row (MLflow serves the first model, so it is served first here)."""
    _save_models(registry)
    others = [n for n in ("iris", "tensors", "mixed") if n != name]
    with _serving(registry, [name, *others]) as url:
        shown = _interface(registry, name, url)
        assert [r.protocol for r in shown] == ["KServe V1", "Open Inference Protocol V2", "MLflow"]
        for request in shown:
            response = httpx.request(request.method, request.url, json=request.body, timeout=30)
            assert response.status_code == 200, (request.protocol, response.text)
            body = response.json()
            if request.protocol == "Open Inference Protocol V2":
                assert body["outputs"][0]["shape"][0] == request.body["inputs"][0]["shape"][0]
            else:
                assert len(body["predictions"]) == len(
                    request.body.get("instances") or request.body.get("dataframe_records")
                )
