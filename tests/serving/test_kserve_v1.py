"""KServe V1 as a client meets it: predict, model status, and the errors."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from roost.errors import ModelError, Overloaded, RequestTimeout
from roost.serving.protocols import kserve_v1

ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


def test_v1_predict_returns_one_prediction_per_instance(client: TestClient) -> None:
    response = client.post("/v1/models/iris:predict", json={"instances": [ROW, ROW]})
    assert response.status_code == 200
    body = response.json()
    assert [p["label"] for p in body["predictions"]] == ["setosa", "setosa"]
    assert body["id"] == response.headers["x-prediction-id"]
    assert len(body["id"]) == 32


def test_v1_predict_tensor_model_takes_lists(client: TestClient) -> None:
    response = client.post("/v1/models/digits:predict", json={"instances": [[0.0] * 8]})
    assert response.status_code == 200
    assert len(response.json()["predictions"]) == 1


def test_v1_list_and_status(client: TestClient) -> None:
    assert client.get("/v1/models").json() == {"models": ["iris", "digits"]}
    assert client.get("/v1/models/iris").json() == {"name": "iris", "version": "1", "ready": True}


def test_v1_wrong_type_is_400_naming_the_column(client: TestClient) -> None:
    response = client.post(
        "/v1/models/iris:predict", json={"instances": [{**ROW, "sepal_width": "wide"}]}
    )
    assert response.status_code == 400
    assert response.json()["error"] == (
        "column 'sepal_width': expected float64, got 'wide' (str) in row 0"
    )


def test_v1_malformed_json_is_400(client: TestClient) -> None:
    response = client.post("/v1/models/iris:predict", content=b'{"instances": [')
    assert response.status_code == 400
    assert response.json()["error"].startswith("request body: malformed JSON")


def test_v1_missing_instances_is_400(client: TestClient) -> None:
    response = client.post("/v1/models/iris:predict", json={"rows": []})
    assert (response.status_code, response.json()) == (
        400,
        {"error": 'request body: expected "instances" or "inputs", got neither (keys: rows)'},
    )


def test_v1_unknown_model_is_404(client: TestClient) -> None:
    response = client.post("/v1/models/nope:predict", json={"instances": [ROW]})
    assert response.status_code == 404
    assert response.json() == {"error": "model 'nope' is not served here (served: iris, digits)"}


# -- the inputs form, and the instances forms of each signature -------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"instances": [list(ROW.values())]},
        {"inputs": [ROW]},
        {"inputs": [list(ROW.values())]},
        {"inputs": {name: [value] for name, value in ROW.items()}},
        {"inputs": ROW},
        {"instances": [ROW], "parameters": {"ignored": True}},
    ],
    ids=[
        "instances-rows",
        "inputs-objects",
        "inputs-rows",
        "inputs-columnar",
        "inputs-one-row",
        "extra-key",
    ],
)
def test_v1_predict_column_model_takes_each_form(client: TestClient, body: Any) -> None:
    response = client.post("/v1/models/iris:predict", json=body)
    assert response.status_code == 200, response.text
    assert [p["label"] for p in response.json()["predictions"]] == ["setosa"]


@pytest.mark.parametrize(
    "body",
    [
        {"instances": [[0.0] * 8, [1.0] * 8]},
        {"instances": [{"input": [0.0] * 8}, {"input": [1.0] * 8}]},
        {"inputs": [[0.0] * 8, [1.0] * 8]},
        {"inputs": {"input": [[0.0] * 8, [1.0] * 8]}},
    ],
    ids=["instances", "instances-named", "inputs", "inputs-named"],
)
def test_v1_predict_tensor_model_takes_each_form(client: TestClient, body: Any) -> None:
    response = client.post("/v1/models/digits:predict", json=body)
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == 2


def test_v1_predict_reads_json_whatever_the_content_type(client: TestClient) -> None:
    """As KServe does; tritonclient-style clients send octet-stream or nothing."""
    body = json.dumps({"instances": [ROW]}).encode()
    for headers in (
        {},
        {"content-type": "application/octet-stream"},
        {"content-type": "text/plain"},
    ):
        response = client.post("/v1/models/iris:predict", content=body, headers=headers)
        assert response.status_code == 200, (headers, response.text)


def test_v1_predict_empty_instances_give_no_predictions(client: TestClient) -> None:
    response = client.post("/v1/models/iris:predict", json={"instances": []})
    assert response.status_code == 200
    assert response.json()["predictions"] == []


# -- every bad input: status and message ------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "body", "message"),
    [
        (
            "digits",
            {"instances": [[0.0] * 7]},
            "tensor 'input': expected shape [-1, 8], got [1, 7] (dimension 1 must be 8)",
        ),
        (
            "digits",
            {"instances": [[[0.0] * 8]]},
            "tensor 'input': expected shape [-1, 8], got [1, 1, 8]",
        ),
        (
            "digits",
            {"instances": [[0.0] * 7 + [None]]},
            "tensor 'input': expected float64, got None (NoneType) at [0, 7]",
        ),
        (
            "digits",
            {"instances": [[0.0] * 7 + ["x"]]},
            "tensor 'input': expected float64, got 'x' (str) at [0, 7]",
        ),
        (
            "digits",
            {"inputs": {"pixels": [[0.0] * 8]}},
            "missing tensor 'input' (expected float64 [-1, 8]); received: pixels",
        ),
        (
            "digits",
            {"instances": [{"input": [0.0] * 8}, {"pixels": [0.0] * 8}]},
            '"instances" entry 1: expected the names of entry 0 (input), got pixels',
        ),
        (
            "iris",
            {"instances": [{**ROW, "sepal_width": None}]},
            "column 'sepal_width': expected float64, got None in row 0 "
            "(a missing value, and this column allows none)",
        ),
        (
            "iris",
            {"instances": [{k: v for k, v in ROW.items() if k != "petal_width"}]},
            "missing column 'petal_width' (expected float64); "
            "received columns: sepal_length, sepal_width, petal_length",
        ),
        (
            "iris",
            {"instances": [{**ROW, "sepal_width": True}]},
            "column 'sepal_width': expected float64, got True (bool) in row 0",
        ),
        (
            "iris",
            {"instances": [[5.1, 3.5, 1.4]]},
            "row 0: expected 4 values "
            "(sepal_length, sepal_width, petal_length, petal_width), got 3",
        ),
        (
            "iris",
            {"instances": ROW},
            '"instances": expected a list with one entry per row, got an object',
        ),
        (
            "iris",
            {"instances": [ROW, list(ROW.values())]},
            '"instances": expected every entry to be an object, or none; '
            "entry 0 is an object but entry 1 is a list",
        ),
        (
            "iris",
            {"inputs": {"sepal_length": [5.1, 6.3], "sepal_width": [3.5]}},
            '"inputs": expected one list of the same length per column, '
            "got sepal_length: 2, sepal_width: 1",
        ),
        (
            "iris",
            {"instances": [ROW], "inputs": [ROW]},
            'request body: expected "instances" or "inputs", got both',
        ),
        (
            "iris",
            [ROW],
            'request body: expected an object such as {"instances": [...]}, got a list',
        ),
    ],
    ids=[
        "tensor-wrong-shape",
        "tensor-extra-axis",
        "tensor-null",
        "tensor-wrong-dtype",
        "tensor-missing-name",
        "tensor-names-differ",
        "column-null",
        "column-missing",
        "column-wrong-dtype",
        "row-too-short",
        "instances-not-list",
        "instances-mixed",
        "inputs-lengths-differ",
        "instances-and-inputs",
        "bare-list",
    ],
)
def test_v1_predict_bad_input_is_400(
    client: TestClient, model: str, body: Any, message: str
) -> None:
    response = client.post(f"/v1/models/{model}:predict", json=body)
    assert (response.status_code, response.json()) == (400, {"error": message})


@pytest.mark.parametrize(
    "content",
    [b"", b"not json", b'{"instances": [1,]}', b"\xff\xfe"],
    ids=["empty", "text", "trailing-comma", "not-utf8"],
)
def test_v1_predict_unparsable_body_is_400(client: TestClient, content: bytes) -> None:
    response = client.post("/v1/models/iris:predict", content=content)
    assert response.status_code == 400
    assert response.json()["error"].startswith("request body: ")


def test_v1_predict_oversize_body_is_413(make_app: Callable[..., Starlette]) -> None:
    with TestClient(make_app(max_body_bytes=100)) as small:
        response = small.post("/v1/models/iris:predict", json={"instances": [ROW, ROW]})
    assert response.status_code == 413
    assert response.json()["error"].startswith("request body: expected at most 100 bytes, got ")


def test_v1_predict_gzip_bomb_is_413(make_app: Callable[..., Starlette]) -> None:
    """A small compressed body that expands past the limit is refused once decompressed."""
    content = gzip.compress(b'{"instances": [' + b" " * 10_000 + b"]}")
    assert len(content) < 100
    with TestClient(make_app(max_body_bytes=100)) as small:
        response = small.post(
            "/v1/models/iris:predict", content=content, headers={"content-encoding": "gzip"}
        )
    assert response.status_code == 413
    assert response.json()["error"] == (
        "request body: expected at most 100 bytes once decompressed, got more"
    )


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("GZIP", gzip.compress)],
    ids=["gzip", "deflate", "upper-case"],
)
def test_v1_predict_compressed_body_is_accepted(
    client: TestClient, encoding: str, compress: Callable[[bytes], bytes]
) -> None:
    content = compress(json.dumps({"instances": [ROW]}).encode())
    response = client.post(
        "/v1/models/iris:predict", content=content, headers={"content-encoding": encoding}
    )
    assert response.status_code == 200, response.text
    assert response.json()["predictions"][0]["label"] == "setosa"


@pytest.mark.parametrize(
    ("encoding", "content", "message"),
    [
        (
            "br",
            b'{"instances": []}',
            "Content-Encoding: expected gzip, deflate or identity, got 'br'",
        ),
        ("gzip", b'{"instances": []}', "request body: corrupt gzip data"),
        ("gzip", gzip.compress(b'{"instances": []}')[:-12], "request body: truncated gzip data"),
    ],
    ids=["unknown", "not-compressed", "truncated"],
)
def test_v1_predict_bad_content_encoding_is_400(
    client: TestClient, encoding: str, content: bytes, message: str
) -> None:
    response = client.post(
        "/v1/models/iris:predict", content=content, headers={"content-encoding": encoding}
    )
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)


# -- routes: explain, verbs, trailing slashes, readiness ----------------------------------------


def test_v1_explain_is_501(client: TestClient) -> None:
    response = client.post("/v1/models/iris:explain", json={"instances": [ROW]})
    assert (response.status_code, response.json()) == (
        501,
        {"error": "model 'iris' has no explainer: :explain is not implemented"},
    )


def test_v1_explain_unknown_model_is_404(client: TestClient) -> None:
    response = client.post("/v1/models/nope:explain", json={"instances": [ROW]})
    assert (response.status_code, response.json()) == (
        404,
        {"error": "model 'nope' is not served here (served: iris, digits)"},
    )


def test_v1_unknown_verb_is_404(client: TestClient) -> None:
    response = client.post("/v1/models/iris:classify", json={"instances": [ROW]})
    assert (response.status_code, response.json()) == (
        404,
        {
            "error": "POST /v1/models/iris:classify: "
            "unknown verb 'classify' (expected predict or explain)"
        },
    )


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/v1/models/iris:predict", "POST"),
        ("GET", "/v1/models/iris:explain", "POST"),
        ("PUT", "/v1/models/iris:predict/", "POST"),
        ("POST", "/v1/models/iris", "GET, HEAD"),
        ("DELETE", "/v1/models", "GET, HEAD"),
    ],
    ids=["get-predict", "get-explain", "put-predict-slash", "post-status", "delete-list"],
)
def test_v1_wrong_method_is_405_with_json_error(
    client: TestClient, method: str, path: str, allow: str
) -> None:
    response = client.request(method, path)
    expected = allow.split(",")[0]
    assert (response.status_code, response.json()) == (
        405,
        {"error": f"{method} {path}: expected {expected}"},
    )
    assert response.headers["allow"] == allow


def test_v1_head_on_a_get_route_is_served(client: TestClient) -> None:
    assert client.head("/v1/models/iris").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/models/", 200),
        ("GET", "/v1/models/iris/", 200),
        ("POST", "/v1/models/iris:predict/", 200),
        ("POST", "/v1/models/iris:explain/", 501),
    ],
    ids=["list", "status", "predict", "explain"],
)
def test_v1_trailing_slash_is_served_not_redirected(
    client: TestClient, method: str, path: str, status: int
) -> None:
    body = {"instances": [ROW]} if method == "POST" else None
    response = client.request(method, path, json=body, follow_redirects=False)
    assert response.status_code == status


def test_v1_status_unknown_model_is_404(client: TestClient) -> None:
    response = client.get("/v1/models/nope")
    assert (response.status_code, response.json()) == (
        404,
        {"error": "model 'nope' is not served here (served: iris, digits)"},
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/models/nope"),
        ("POST", "/v1/models/nope:predict"),
        ("POST", "/v1/models/nope:explain"),
    ],
    ids=["status", "predict", "explain"],
)
def test_v1_model_that_failed_to_load_is_503(
    make_app: Callable[..., Starlette], method: str, path: str
) -> None:
    """A model served but not loaded is not ready (KServe's ModelNotReady), not unknown."""
    with TestClient(make_app(["iris@production", "nope"])) as broken:
        assert broken.get("/v1/models").json() == {"models": ["iris", "nope"]}
        assert broken.get("/v1/models/iris").status_code == 200
        response = broken.request(method, path, json={"instances": [ROW]})
    assert response.status_code == 503
    assert response.json()["error"].startswith("model 'nope' failed to load: ")


def test_v1_model_still_loading_is_503(make_app: Callable[..., Starlette]) -> None:
    """Without the lifespan (no `with`), nothing is loaded yet."""
    response = TestClient(make_app()).post("/v1/models/iris:predict", json={"instances": [ROW]})
    assert (response.status_code, response.json()) == (
        503,
        {"error": "model 'iris' is still loading"},
    )


@pytest.mark.parametrize(
    ("exc", "status", "retry_after"),
    [
        (Overloaded("model 'iris' has 512 requests waiting"), 503, "1"),
        (RequestTimeout("model 'iris' did not answer within 30 s"), 504, None),
        (ModelError("model iris:1 failed: ValueError: boom"), 500, None),
    ],
    ids=["overloaded", "timeout", "model-failed"],
)
def test_v1_predict_serving_errors_keep_their_status(
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
    exc: Exception,
    status: int,
    retry_after: str | None,
) -> None:
    async def fail(*args: Any, **kwargs: Any) -> list[Any]:
        raise exc

    monkeypatch.setattr(kserve_v1, "predict_rows", fail)
    response = client.post("/v1/models/iris:predict", json={"instances": [ROW]})
    assert (response.status_code, response.json()) == (status, {"error": str(exc)})
    assert response.headers.get("retry-after") == retry_after
