"""MLflow's scoring protocol as clients meet it: /invocations in every format, health, errors."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from typing import Any

import httpx
import pandas as pd
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from roost.errors import ModelError, Overloaded, RequestTimeout
from roost.serving.protocols import mlflow

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
SETOSA = [5.1, 3.5, 1.4, 0.2]
VIRGINICA = [6.3, 3.3, 6.0, 2.5]
ROWS = [dict(zip(COLUMNS, SETOSA, strict=True)), dict(zip(COLUMNS, VIRGINICA, strict=True))]


def _columnar(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in rows] for name in rows[0]}


def _labels(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [p["label"] for p in response.json()["predictions"]]


def _error(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    assert set(body) == {"error_code", "message"}
    return response.status_code, body["error_code"], body["message"]


# -- the four JSON formats ------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": {"columns": COLUMNS, "data": [SETOSA, VIRGINICA]}},
        {"dataframe_split": {"columns": COLUMNS, "data": [SETOSA, VIRGINICA], "index": [7, 9]}},
        {"dataframe_split": {"data": [SETOSA, VIRGINICA]}},
        {"dataframe_records": ROWS},
        {"instances": ROWS},
        {"instances": [SETOSA, VIRGINICA]},
        {"inputs": _columnar(ROWS)},
        {"inputs": [SETOSA, VIRGINICA]},
        {"inputs": ROWS},
        {"dataframe_records": ROWS, "params": {"temperature": 0.1}},
        {"inputs": _columnar(ROWS), "params": {}},
        {"instances": ROWS, "params": None},
    ],
    ids=[
        "split",
        "split-index",
        "split-positional",
        "records",
        "instances-objects",
        "instances-rows",
        "inputs-columnar",
        "inputs-rows",
        "inputs-objects",
        "params",
        "params-empty",
        "params-null",
    ],
)
def test_invocations_json_format_predicts_each_row(client: TestClient, body: Any) -> None:
    response = client.post("/invocations", json=body)
    assert _labels(response) == ["setosa", "virginica"]


def test_invocations_answers_predictions_only_and_the_id_in_a_header(client: TestClient) -> None:
    response = client.post("/invocations", json={"dataframe_records": ROWS[:1]})
    body = response.json()
    assert list(body) == ["predictions"]
    assert set(body["predictions"][0]) == {"label", "probabilities"}
    assert len(body["predictions"][0]["probabilities"]) == 3
    assert response.headers["content-type"] == "application/json"
    prediction_id = response.headers["x-prediction-id"]
    assert len(prediction_id) == 32
    assert int(prediction_id, 16) >= 0


def test_invocations_prediction_ids_differ(client: TestClient) -> None:
    ids = {
        client.post("/invocations", json={"instances": ROWS}).headers["x-prediction-id"]
        for _ in range(3)
    }
    assert len(ids) == 3


def test_invocations_formats_agree(client: TestClient) -> None:
    """The same rows give the same predictions, whatever the format."""
    bodies = [
        {"dataframe_split": {"columns": COLUMNS, "data": [SETOSA, VIRGINICA]}},
        {"dataframe_records": ROWS},
        {"instances": ROWS},
        {"inputs": _columnar(ROWS)},
    ]
    answers = [client.post("/invocations", json=body).json() for body in bodies]
    assert all(answer == answers[0] for answer in answers)


def test_invocations_empty_records_give_no_predictions(client: TestClient) -> None:
    response = client.post("/invocations", json={"dataframe_records": []})
    assert (response.status_code, response.json()) == (200, {"predictions": []})


def test_invocations_single_values_in_inputs_are_one_row(client: TestClient) -> None:
    response = client.post("/invocations", json={"inputs": ROWS[0]})
    assert _labels(response) == ["setosa"]


def test_invocations_unknown_keys_beside_the_format_are_ignored(client: TestClient) -> None:
    """As in MLflow 2, which keeps only the format key and params."""
    response = client.post("/invocations", json={"instances": ROWS, "signature_name": "x"})
    assert _labels(response) == ["setosa", "virginica"]


def test_invocations_split_one_column_takes_bare_values(client: TestClient) -> None:
    """As pandas reads ``data: [5.1, 6.3]`` for one column; iris then lacks the other three."""
    split = {"columns": ["sepal_length"], "data": [5.1, 6.3]}
    response = client.post("/invocations", json={"dataframe_split": split})
    assert _error(response) == (
        400,
        "BAD_REQUEST",
        "missing column 'sepal_width' (expected float64); received columns: sepal_length",
    )


def test_invocations_split_columns_may_come_in_any_order(client: TestClient) -> None:
    split = {"columns": COLUMNS[::-1], "data": [SETOSA[::-1]]}
    assert _labels(client.post("/invocations", json={"dataframe_split": split})) == ["setosa"]


def test_invocations_reads_nan_as_mlflow_does(client: TestClient) -> None:
    """MLflow's client writes NaN for a missing value; the column then refuses it by name."""
    body = json.dumps({"dataframe_records": [{**ROWS[0], "petal_width": float("nan")}]})
    assert "NaN" in body
    response = client.post("/invocations", content=body)
    assert _error(response) == (
        400,
        "BAD_REQUEST",
        "column 'petal_width': expected float64, got nan in row 0 "
        "(a missing value, and this column allows none)",
    )


# -- content types ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [None, "application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"],
    ids=["missing", "plain", "charset", "case"],
)
def test_invocations_json_content_types_are_read(
    client: TestClient, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    body = json.dumps({"instances": ROWS}).encode()
    response = client.post("/invocations", content=body, headers=headers)
    assert _labels(response) == ["setosa", "virginica"]


@pytest.mark.parametrize(
    ("content_type", "fragment"),
    [
        ("text/plain", "expected application/json or text/csv, got 'text/plain'"),
        ("application/vnd.apache.parquet", "got 'application/vnd.apache.parquet'"),
        ("application/json; format=pandas-split", "got format in"),
        ("text/csv; format=pandas-records", "got format in"),
        ("application/json; charset=latin-1", "expected charset=utf-8, got charset=latin-1"),
    ],
    ids=["text-plain", "parquet", "format-split", "format-csv", "charset"],
)
def test_invocations_unsupported_content_type_is_415(
    client: TestClient, content_type: str, fragment: str
) -> None:
    response = client.post(
        "/invocations", content=b'{"instances": []}', headers={"content-type": content_type}
    )
    status, code, message = _error(response)
    assert (status, code) == (415, "BAD_REQUEST")
    assert fragment in message


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (_csv(pd.DataFrame(ROWS)), "text/csv"),
        (_csv(pd.DataFrame(ROWS)), "text/csv; charset=utf-8"),
        (b"\xef\xbb\xbf" + _csv(pd.DataFrame(ROWS)), "text/csv"),
        (_csv(pd.DataFrame(ROWS)[COLUMNS[::-1]]), "text/csv"),
        (_csv(pd.DataFrame(ROWS).assign(note=["a", "b"])), "text/csv"),
    ],
    ids=["plain", "charset", "bom", "reordered", "extra-column"],
)
def test_invocations_csv_predicts_each_row(
    client: TestClient, content: bytes, content_type: str
) -> None:
    response = client.post("/invocations", content=content, headers={"content-type": content_type})
    assert _labels(response) == ["setosa", "virginica"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n5.1,wide,1.4,0.2\n",
            "column 'sepal_width': expected float64, got 'wide' (str) in row 1 of request body",
        ),
        (
            b"sepal_length,sepal_width,petal_length\n5.1,3.5,1.4\n",
            "missing column 'petal_width' (expected float64); "
            "received columns: sepal_length, sepal_width, petal_length",
        ),
        (b"", "request body: expected CSV with a header row, got no columns"),
        (b"a,b\n1,2\n1,2,3,4\n", "request body: not valid CSV (Error tokenizing data. C error: "),
        (b"sepal_length\n\xff\n", "request body: expected UTF-8 text, got byte 0xff at offset 13"),
    ],
    ids=["bad-cell", "missing-column", "empty", "ragged", "not-utf8"],
)
def test_invocations_bad_csv_is_400(client: TestClient, content: bytes, message: str) -> None:
    response = client.post("/invocations", content=content, headers={"content-type": "text/csv"})
    status, code, got = _error(response)
    assert (status, code) == (400, "BAD_REQUEST")
    assert got.startswith(message)


# -- bad JSON requests ------------------------------------------------------------------------

EXACTLY_ONE = (
    "request body: expected exactly one of dataframe_split, dataframe_records, instances, inputs"
)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"instances": ROWS, "inputs": ROWS}, f"{EXACTLY_ONE}, got instances, inputs"),
        ({"rows": ROWS}, f"{EXACTLY_ONE}, got none (keys: rows)"),
        ({}, f"{EXACTLY_ONE}, got none (keys: none)"),
        (
            ROWS,
            "request body: expected an object with one of dataframe_split, dataframe_records, "
            "instances, inputs, got a list (MLflow 1's format; MLflow 2 wants an object)",
        ),
        ({"instances": ROWS, "params": [1]}, '"params": expected an object, got a list'),
        (
            {"dataframe_split": [SETOSA]},
            '"dataframe_split": expected an object {"columns": [...], "data": [[...], ...]}, '
            "got a list",
        ),
        (
            {"dataframe_split": {"columns": COLUMNS}},
            '"dataframe_split": expected "data" and optionally "columns" and "index", '
            "got keys columns",
        ),
        (
            {"dataframe_split": {"data": [SETOSA], "dtypes": {}}},
            '"dataframe_split": expected "data" and optionally "columns" and "index", '
            "got keys data, dtypes",
        ),
        (
            {"dataframe_split": {"data": {"a": 1}}},
            '"dataframe_split" "data": expected a list of rows, got an object',
        ),
        (
            {"dataframe_split": {"data": [SETOSA], "index": [0, 1]}},
            '"dataframe_split" "index": expected 1 labels, one per row, got 2 labels',
        ),
        (
            {"dataframe_split": {"columns": COLUMNS, "data": [SETOSA[:3]]}},
            '"dataframe_split" "data" row 0: expected 4 values '
            "(sepal_length, sepal_width, petal_length, petal_width), got 3",
        ),
        (
            {"dataframe_split": {"columns": [*COLUMNS[:3], "sepal_length"], "data": [SETOSA]}},
            '"dataframe_split" "columns": expected distinct names, got [\'sepal_length\'] twice',
        ),
        (
            {"dataframe_split": {"columns": "sepal_length", "data": [SETOSA]}},
            '"dataframe_split" "columns": expected a list of column names (strings)',
        ),
        (
            {"dataframe_records": ROWS[0]},
            '"dataframe_records": expected a list of records, got an object',
        ),
        (
            {"instances": ROWS[0]},
            '"instances": expected a list with one entry per row, got an object',
        ),
        (
            {"instances": [ROWS[0], SETOSA]},
            '"instances": expected every entry to be an object, or none; '
            "entry 0 is an object but entry 1 is a list",
        ),
        (
            {"inputs": {"sepal_length": [5.1, 6.3], "sepal_width": [3.5]}},
            '"inputs": expected one list of the same length per column, '
            "got sepal_length: 2, sepal_width: 1",
        ),
        ({"inputs": {}}, '"inputs": expected an object of name to values, got an empty object'),
    ],
    ids=[
        "two-formats",
        "no-format",
        "empty-object",
        "bare-list",
        "params-not-object",
        "split-not-object",
        "split-without-data",
        "split-extra-key",
        "split-data-not-list",
        "split-index-length",
        "split-row-length",
        "split-duplicate-column",
        "split-columns-not-list",
        "records-not-list",
        "instances-not-list",
        "instances-mixed",
        "inputs-lengths-differ",
        "inputs-empty",
    ],
)
def test_invocations_malformed_request_is_400(client: TestClient, body: Any, message: str) -> None:
    response = client.post("/invocations", json=body)
    assert _error(response) == (400, "BAD_REQUEST", message)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b'{"instances": [', "request body: malformed JSON"),
        (b"", "request body: expected a JSON document, got an empty body"),
        (b"instances=1", "request body: malformed JSON"),
    ],
    ids=["truncated", "empty", "form"],
)
def test_invocations_invalid_json_is_400(client: TestClient, content: bytes, fragment: str) -> None:
    response = client.post(
        "/invocations", content=content, headers={"content-type": "application/json"}
    )
    status, code, message = _error(response)
    assert (status, code) == (400, "BAD_REQUEST")
    assert message.startswith(fragment)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            {**ROWS[0], "sepal_width": "wide"},
            "column 'sepal_width': expected float64, got 'wide' (str) in row 0",
        ),
        (
            {**ROWS[0], "sepal_width": None},
            "column 'sepal_width': expected float64, got None in row 0 "
            "(a missing value, and this column allows none)",
        ),
        (
            {k: v for k, v in ROWS[0].items() if k != "petal_width"},
            "missing column 'petal_width' (expected float64); "
            "received columns: sepal_length, sepal_width, petal_length",
        ),
    ],
    ids=["wrong-type", "null", "missing-column"],
)
def test_invocations_rows_off_the_signature_are_400(
    client: TestClient, row: dict[str, Any], message: str
) -> None:
    response = client.post("/invocations", json={"dataframe_records": [row]})
    assert _error(response) == (400, "BAD_REQUEST", message)


# -- transport: size and compression ----------------------------------------------------------


def test_invocations_gzip_body_is_accepted(client: TestClient) -> None:
    content = gzip.compress(json.dumps({"instances": ROWS}).encode())
    response = client.post(
        "/invocations",
        content=content,
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert _labels(response) == ["setosa", "virginica"]


def test_invocations_unknown_content_encoding_is_400(client: TestClient) -> None:
    response = client.post(
        "/invocations", content=b'{"instances": []}', headers={"content-encoding": "br"}
    )
    assert _error(response) == (
        400,
        "BAD_REQUEST",
        "Content-Encoding: expected gzip, deflate or identity, got 'br'",
    )


def test_invocations_oversize_body_is_413(make_app: Callable[..., Starlette]) -> None:
    with TestClient(make_app(max_body_bytes=100)) as small:
        response = small.post("/invocations", json={"dataframe_records": ROWS})
    status, code, message = _error(response)
    assert (status, code) == (413, "BAD_REQUEST")
    assert message.startswith("request body: expected at most 100 bytes, got ")


# -- errors raised further down: each has its status and MLflow's code -----------------------


@pytest.mark.parametrize(
    ("exc", "status", "code", "retry_after"),
    [
        (Overloaded("model 'iris' has 512 requests waiting"), 503, "TEMPORARILY_UNAVAILABLE", "1"),
        (RequestTimeout("model 'iris' did not answer within 30 s"), 504, "DEADLINE_EXCEEDED", None),
        (ModelError("model iris:1 failed: ValueError: boom"), 500, "INTERNAL_ERROR", None),
    ],
    ids=["overloaded", "timeout", "model-failed"],
)
def test_invocations_serving_errors_keep_their_status(
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
    exc: Exception,
    status: int,
    code: str,
    retry_after: str | None,
) -> None:
    async def fail(*args: Any, **kwargs: Any) -> list[Any]:
        raise exc

    monkeypatch.setattr(mlflow, "predict_rows", fail)
    response = client.post("/invocations", json={"instances": ROWS})
    assert _error(response) == (status, code, str(exc))
    assert response.headers.get("retry-after") == retry_after


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "BAD_REQUEST"),
        (404, "RESOURCE_DOES_NOT_EXIST"),
        (413, "BAD_REQUEST"),
        (415, "BAD_REQUEST"),
        (429, "REQUEST_LIMIT_EXCEEDED"),
        (500, "INTERNAL_ERROR"),
        (501, "NOT_IMPLEMENTED"),
        (502, "INTERNAL_ERROR"),
        (503, "TEMPORARILY_UNAVAILABLE"),
        (504, "DEADLINE_EXCEEDED"),
    ],
)
def test_error_code_for_status(status: int, code: str) -> None:
    assert mlflow.error_code_for(status) == code


# -- the default model -------------------------------------------------------------------------


def test_invocations_serve_the_first_model_only(make_app: Callable[..., Starlette]) -> None:
    """The default model is the first reference; digits' tensor rows go to it."""
    with TestClient(make_app(["digits:1", "iris@production"])) as digits_first:
        response = digits_first.post("/invocations", json={"instances": [[0.0] * 8, [1.0] * 8]})
        assert response.status_code == 200
        assert [p["label"] for p in response.json()["predictions"]] == [1, 1]
        iris = digits_first.post("/invocations", json={"instances": ROWS})
    assert _error(iris) == (
        400,
        "BAD_REQUEST",
        "missing tensor 'input' (expected float64 [-1, 8]); "
        "received: sepal_length, sepal_width, petal_length, petal_width",
    )


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": {"columns": [f"f{i}" for i in range(8)], "data": [[0.0] * 8]}},
        {"dataframe_split": {"data": [[0.0] * 8]}},
        {"dataframe_records": [{f"f{i}": 0.0 for i in range(8)}]},
        {"instances": [{"input": [0.0] * 8}]},
        {"inputs": {"input": [[0.0] * 8]}},
        {"inputs": [[0.0] * 8]},
    ],
    ids=["split", "split-positional", "records", "instances-named", "inputs-named", "inputs"],
)
def test_invocations_tensor_model_takes_each_format(
    make_app: Callable[..., Starlette], body: Any
) -> None:
    with TestClient(make_app(["digits:1"])) as digits:
        response = digits.post("/invocations", json=body)
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == 1


def test_invocations_tensor_model_reads_csv(make_app: Callable[..., Starlette]) -> None:
    content = b"a,b,c,d,e,f,g,h\n0,0,0,0,0,0,0,0\n1,1,1,1,1,1,1,1\n"
    with TestClient(make_app(["digits:1"])) as digits:
        response = digits.post(
            "/invocations", content=content, headers={"content-type": "text/csv"}
        )
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == 2


def test_invocations_default_model_that_failed_is_503(make_app: Callable[..., Starlette]) -> None:
    with TestClient(make_app(["nope", "iris@production"])) as broken:
        response = broken.post("/invocations", json={"instances": ROWS})
    status, code, message = _error(response)
    assert (status, code) == (503, "TEMPORARILY_UNAVAILABLE")
    assert message.startswith("model 'nope' failed to load: ")


def test_invocations_before_the_models_load_is_503(make_app: Callable[..., Starlette]) -> None:
    """Without the lifespan (no `with`), nothing is loaded yet."""
    response = TestClient(make_app()).post("/invocations", json={"instances": ROWS})
    assert _error(response) == (503, "TEMPORARILY_UNAVAILABLE", "model 'iris' is still loading")


# -- ping, health, version ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/ping", "/health"])
def test_health_is_200_when_ready(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert (response.status_code, response.text) == (200, "\n")
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize("path", ["/ping", "/health"])
def test_health_is_503_when_a_model_failed(make_app: Callable[..., Starlette], path: str) -> None:
    with TestClient(make_app(["iris@production", "nope"])) as broken:
        response = broken.get(path)
    status, code, message = _error(response)
    assert (status, code) == (503, "TEMPORARILY_UNAVAILABLE")
    assert message.startswith("model 'nope' failed to load: ")


def test_health_is_503_before_the_models_load(make_app: Callable[..., Starlette]) -> None:
    """Without the lifespan (no `with`), nothing is loaded yet."""
    response = TestClient(make_app()).get("/ping")
    assert _error(response) == (503, "TEMPORARILY_UNAVAILABLE", "model 'iris' is still loading")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/invocations", "POST"),
        ("POST", "/ping", "GET, HEAD"),
        ("PUT", "/version", "GET, HEAD"),
    ],
    ids=["get-invocations", "post-ping", "put-version"],
)
def test_wrong_method_is_405_with_mlflow_error(
    client: TestClient, method: str, path: str, allow: str
) -> None:
    response = client.request(method, path)
    expected = allow.split(",")[0]
    assert _error(response) == (405, "BAD_REQUEST", f"{method} {path}: expected {expected}")
    assert response.headers["allow"] == allow


def test_head_ping_is_200(client: TestClient) -> None:
    assert client.head("/ping").status_code == 200


def test_version_is_roost_version_as_bare_text(client: TestClient) -> None:
    import roost

    response = client.get("/version")
    assert (response.status_code, response.text) == (200, roost.__version__)
    assert response.headers["content-type"].startswith("text/plain")


# -- a real server, called the way MLflow's client and REST docs call it -----------------------


@pytest.mark.integration
def test_mlflow_client_requests_against_a_live_server(live_url: str) -> None:
    """The bodies ``mlflow.pyfunc.scoring_server.client.ScoringServerClient`` and the
    MLflow REST docs send, over a real socket (mlflow itself is not installed)."""
    frame = pd.DataFrame(ROWS)
    with httpx.Client(base_url=live_url, timeout=30) as http:
        # wait_server_ready: GET /ping until 200
        assert http.get("/ping").status_code == 200
        # invoke(DataFrame): {"dataframe_split": df.to_dict(orient="split")} with index
        split = json.dumps({"dataframe_split": frame.to_dict(orient="split")})
        response = http.post(
            "/invocations", content=split, headers={"Content-Type": "application/json"}
        )
        assert _labels(response) == ["setosa", "virginica"]
        assert len(response.headers["x-prediction-id"]) == 32
        # invoke(ndarray, params=...): {"inputs": array.tolist(), "params": {...}}
        inputs = json.dumps({"inputs": frame.to_numpy().tolist(), "params": {"top_k": 1}})
        response = http.post(
            "/invocations", content=inputs, headers={"Content-Type": "application/json"}
        )
        assert _labels(response) == ["setosa", "virginica"]
        # the REST docs: curl -H 'Content-Type: text/csv' --data-binary @data.csv
        response = http.post(
            "/invocations", content=_csv(frame), headers={"Content-Type": "text/csv"}
        )
        assert _labels(response) == ["setosa", "virginica"]
        # dataframe_records, as in the REST docs
        response = http.post("/invocations", json={"dataframe_records": frame.to_dict("records")})
        assert _labels(response) == ["setosa", "virginica"]
        # an MLflow 1 client's format parameter: 415, which ScoringServerClient reports as such
        response = http.post(
            "/invocations",
            content=frame.to_json(orient="split"),
            headers={"Content-Type": "application/json; format=pandas-split"},
        )
        assert response.status_code == 415
        assert response.json()["error_code"] == "BAD_REQUEST"
        assert http.get("/version").text == __import__("roost").__version__
