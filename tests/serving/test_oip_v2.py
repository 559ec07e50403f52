"""The Open Inference Protocol (V2) over raw HTTP: endpoints, JSON and binary tensors, errors.

Binary bodies are built by hand here and compared with the wire capture of
tritonclient 2.73.0 recorded in shared/research/inference_protocols.md §2.5.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from roost.config import ServingConfig
from roost.serving import ModelRepository, create_app
from roost.serving.errors import BadRequest
from roost.serving.protocols._v2_messages import parse_infer_request
from roost.serving.protocols._v2_tensors import Tensor
from roost.store import Registry

IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
IRIS_ROWS = [[5.1, 3.5, 1.4, 0.2], [7.0, 3.2, 4.7, 1.4], [6.3, 3.3, 6.0, 2.5]]
IRIS_LABELS = ["setosa", "versicolor", "virginica"]
HEADER = "Inference-Header-Content-Length"
NOPE = "model 'nope' is not served here (served: iris, digits, double, echo, people, picky, tagger)"

#: §2.5: ``InferInput("x", [2, 2], "FP32").set_data_from_numpy(x)``, then ``infer("m", [x])``
GOLDEN_HEADER = (
    b'{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32",'
    b'"parameters":{"binary_data_size":16}}],"parameters":{"binary_data_output":true}}'
)
GOLDEN_BLOB = bytes.fromhex("0000803f 00000040 00004040 00008040")
#: §2.5: a BYTES input and a BOOL input, one binary and one JSON output requested
GOLDEN_MIXED_HEADER = (
    b'{"inputs":[{"name":"s","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":19}},'
    b'{"name":"b","shape":[3],"datatype":"BOOL","parameters":{"binary_data_size":3}}],'
    b'"outputs":[{"name":"OUT_s","parameters":{"binary_data":true}},'
    b'{"name":"OUT_b","parameters":{"binary_data":false}}]}'
)
GOLDEN_MIXED_BLOB = (
    b"\x05\x00\x00\x00hello" + b"\x06\x00\x00\x00w\xc3\xb6rld" + bytes.fromhex("010001")
)


def iris_inputs(rows: list[list[float]] = IRIS_ROWS, shape: str = "[n]") -> list[dict[str, Any]]:
    """One FP64 input per column, as MLServer's pandas codec sends them."""
    inputs = []
    for i, column in enumerate(IRIS_COLUMNS):
        values = [row[i] for row in rows]
        dims = [len(rows)] if shape == "[n]" else [len(rows), 1]
        data: Any = values if shape == "[n]" else [[v] for v in values]
        inputs.append({"name": column, "shape": dims, "datatype": "FP64", "data": data})
    return inputs


def binary_body(header: dict[str, Any], *blobs: bytes) -> tuple[bytes, dict[str, str]]:
    """A binary-extension request body and its header."""
    head = orjson.dumps(header)
    return head + b"".join(blobs), {HEADER: str(len(head))}


def split_response(content: bytes, header_length: str) -> tuple[dict[str, Any], bytes]:
    n = int(header_length)
    document: dict[str, Any] = orjson.loads(content[:n])
    return document, content[n:]


def length_prefixed(*elements: bytes) -> bytes:
    return b"".join(struct.pack("<I", len(e)) + e for e in elements)


def outputs_by_name(document: dict[str, Any]) -> dict[str, Any]:
    return {output["name"]: output for output in document["outputs"]}


def _double(x: Any) -> Any:
    return x * 2


def _echo(batch: Any) -> Any:
    return {"OUT_s": batch["s"], "OUT_b": batch["b"]}


def _people(frame: Any) -> Any:
    return {"older": frame["Age"] + 1, "score2": frame["score"] * 2}


def _tagger(x: Any) -> Any:
    return [{"n": float(v)} if v > 0 else None for v in x[:, 0]]


def _picky(x: Any) -> Any:
    if (x < 0).any():
        raise ValueError("negative values")
    return x


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, iris_data: Any) -> Iterator[TestClient]:
    """One app for the whole module (these tests only read it): iris and digits as in
    conftest's ``serving_registry``, plus small pyfunc models: double (FP32 ``x`` [-1, 2],
    the §2.5 shape), echo (BYTES ``s``, BOOL ``b``), people (MLServer's pandas example)
    picky (raises on negative input) and tagger (a dict or None per row: an ``object`` output).

    Built here rather than from ``make_app``, whose registry is made again for every test:
    loading six models per test would take this module far past the unit tier's budget.
    """
    from sklearn.linear_model import LogisticRegression

    registry = Registry(tmp_path_factory.mktemp("oip-v2") / "roost-home")
    x, y = iris_data
    registry.save(LogisticRegression(max_iter=1000).fit(x, y), "iris", example=x[:5])
    registry.set_alias("iris", "production", 1)
    features = np.random.default_rng(0).normal(size=(200, 8))
    labels = (features[:, 0] + features[:, 1] > 0).astype(np.int64)
    registry.save(LogisticRegression().fit(features, labels), "digits", example=features[:5])
    registry.save(_double, "double", example={"x": np.array([[1, 2]], np.float32)})
    registry.save(
        _echo, "echo", example={"s": np.array(["a"], dtype=object), "b": np.array([True])}
    )
    frame = pd.DataFrame(
        {"First Name": ["Joanne", "Michael"], "Age": [34, 22], "score": [0.5, None]}
    )
    registry.save(_people, "people", example=frame)
    registry.save(_picky, "picky", example=np.array([[1.0]]))
    registry.save(_tagger, "tagger", example=np.array([[1.0], [-1.0]]))
    refs = ["iris@production", "digits:1", "double:1", "echo:1", "people:1", "picky:1", "tagger:1"]
    config = ServingConfig()
    with TestClient(create_app(ModelRepository(registry, refs, config), config)) as test_client:
        yield test_client


# ------------------------------------------------------------------ health and metadata


def test_v2_live_is_200(client: TestClient) -> None:
    response = client.get("/v2/health/live")
    assert (response.status_code, response.json()) == (200, {"live": True})


def test_v2_ready_is_200_when_every_model_loaded(client: TestClient) -> None:
    response = client.get("/v2/health/ready")
    assert (response.status_code, response.json()) == (200, {"ready": True})


def test_v2_ready_is_503_when_a_model_failed_to_load(make_app: Callable[..., Starlette]) -> None:
    with TestClient(make_app(["iris@production", "ghost:1"])) as test_client:
        ready = test_client.get("/v2/health/ready")
        model = test_client.get("/v2/models/ghost/ready")
        assert test_client.get("/v2/models/iris/ready").status_code == 200
    assert (ready.status_code, ready.json()) == (503, {"ready": False})
    assert model.status_code == 503
    assert model.json()["error"].startswith("model 'ghost' failed to load: ")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v2/models/ghost"),
        ("GET", "/v2/models/ghost/ready"),
        ("POST", "/v2/models/ghost/infer"),
        ("GET", "/v2/models/ghost/versions/1"),
        ("GET", "/v2/models/ghost/versions/1/ready"),
        ("POST", "/v2/models/ghost/versions/1/infer"),
    ],
    ids=["metadata", "ready", "infer", "version-metadata", "version-ready", "version-infer"],
)
def test_v2_model_that_failed_to_load_is_503(
    make_app: Callable[..., Starlette], method: str, path: str
) -> None:
    """Served here but not loaded: not ready (503), rather than unknown (404)."""
    with TestClient(make_app(["iris@production", "ghost:1"])) as test_client:
        response = test_client.request(method, path, json={"inputs": iris_inputs()})
    assert response.status_code == 503
    assert response.json()["error"].startswith("model 'ghost' failed to load: ")
    assert "retry-after" not in response.headers  # only a full queue says when to retry


def test_v2_model_still_loading_is_503(make_app: Callable[..., Starlette]) -> None:
    """Without the lifespan (no `with`), nothing is loaded yet."""
    response = TestClient(make_app(["iris@production"])).get("/v2/models/iris/ready")
    assert (response.status_code, response.json()) == (
        503,
        {"error": "model 'iris' is still loading"},
    )


@pytest.mark.parametrize("path", ["/v2", "/v2/"])
def test_v2_server_metadata_names_binary_extension(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.json() == {
        "name": "roost",
        "version": response.json()["version"],
        "extensions": ["binary_tensor_data"],
    }


def test_v2_model_list_names_every_model(client: TestClient) -> None:
    assert client.get("/v2/models").json() == {
        "models": ["iris", "digits", "double", "echo", "people", "picky", "tagger"]
    }


def test_v2_model_metadata_maps_each_column_to_an_input(client: TestClient) -> None:
    response = client.get("/v2/models/iris")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "name": "iris",
        "versions": ["1"],
        "platform": "sklearn",
        "inputs": [{"name": c, "datatype": "FP64", "shape": [-1]} for c in IRIS_COLUMNS],
        "outputs": [
            {
                "name": "label",
                "datatype": "BYTES",
                "shape": [-1],
                "parameters": {"content_type": "str"},
            },
            {"name": "probabilities", "datatype": "FP64", "shape": [-1, 3]},
        ],
        "parameters": {"content_type": "pd"},
    }


@pytest.mark.parametrize(
    "path", ["/v2/models/digits", "/v2/models/digits/", "/v2/models/digits/versions/1"]
)
def test_v2_model_metadata_of_tensor_model(client: TestClient, path: str) -> None:
    body = client.get(path).json()
    assert body["inputs"] == [{"name": "input", "datatype": "FP64", "shape": [-1, 8]}]
    assert body["outputs"] == [
        {"name": "label", "datatype": "INT64", "shape": [-1]},
        {"name": "probabilities", "datatype": "FP64", "shape": [-1, 2]},
    ]


@pytest.mark.parametrize(
    "path",
    ["/v2/models/iris/ready", "/v2/models/iris/ready/", "/v2/models/iris/versions/1/ready"],
)
def test_v2_model_ready_is_200(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert (response.status_code, response.json()) == (200, {"name": "iris", "ready": True})


@pytest.mark.parametrize(
    ("method", "path", "error"),
    [
        (
            "GET",
            "/v2/models/nope",
            NOPE,
        ),
        (
            "GET",
            "/v2/models/nope/ready",
            NOPE,
        ),
        (
            "POST",
            "/v2/models/nope/infer",
            NOPE,
        ),
        (
            "GET",
            "/v2/models/iris/versions/7",
            "model 'iris' version '7' is not served here (served: version 1)",
        ),
        (
            "POST",
            "/v2/models/iris/versions/7/infer",
            "model 'iris' version '7' is not served here (served: version 1)",
        ),
    ],
    ids=["metadata", "ready", "infer", "version-metadata", "version-infer"],
)
def test_v2_unknown_model_or_version_is_404(
    client: TestClient, method: str, path: str, error: str
) -> None:
    response = client.request(method, path, json={"inputs": iris_inputs()})
    assert (response.status_code, response.json()) == (404, {"error": error})
    assert response.headers["content-type"] == "application/json"


def test_v2_wrong_method_is_405_with_json_error(client: TestClient) -> None:
    response = client.get("/v2/models/iris/infer")
    assert response.status_code == 405
    assert response.json() == {"error": "GET /v2/models/iris/infer: expected POST"}
    assert response.headers["allow"] == "POST"


def test_v2_unknown_path_is_404_with_json_error(client: TestClient) -> None:
    response = client.post("/v2/repository/index")
    assert response.status_code == 404
    assert "no such endpoint" in response.json()["error"]


# ------------------------------------------------------------------------ JSON inference


def test_v2_infer_columns_returns_one_tensor_per_output(client: TestClient) -> None:
    response = client.post("/v2/models/iris/infer", json={"id": "42", "inputs": iris_inputs()})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert HEADER.lower() not in response.headers
    body = response.json()
    prediction_id = response.headers["x-prediction-id"]
    assert body["model_name"] == "iris"
    assert body["model_version"] == "1"
    assert body["id"] == "42"
    assert body["parameters"] == {"prediction_id": prediction_id}
    label, probabilities = body["outputs"]
    assert label == {"name": "label", "datatype": "BYTES", "shape": [3], "data": IRIS_LABELS}
    assert (probabilities["datatype"], probabilities["shape"]) == ("FP64", [3, 3])
    assert len(probabilities["data"]) == 9


def test_v2_infer_without_id_omits_it(client: TestClient) -> None:
    body = client.post("/v2/models/iris/infer", json={"inputs": iris_inputs()}).json()
    assert "id" not in body


def test_v2_infer_columns_shaped_n_by_1_nested_match_flat(client: TestClient) -> None:
    flat = client.post("/v2/models/iris/infer", json={"inputs": iris_inputs()}).json()
    nested = client.post("/v2/models/iris/infer", json={"inputs": iris_inputs(shape="[n,1]")})
    assert nested.status_code == 200
    assert nested.json()["outputs"] == flat["outputs"]


def test_v2_infer_tensor_nested_and_flat_data_agree(client: TestClient) -> None:
    rows = np.random.default_rng(3).normal(size=(2, 8)).tolist()
    flat = [v for row in rows for v in row]
    results = [
        client.post(
            "/v2/models/digits/infer",
            json={"inputs": [{"name": "input", "shape": [2, 8], "datatype": "FP64", "data": d}]},
        )
        for d in (rows, flat)
    ]
    assert [r.status_code for r in results] == [200, 200]
    assert results[0].json()["outputs"] == results[1].json()["outputs"]
    assert results[0].json()["outputs"][0]["datatype"] == "INT64"


@pytest.mark.parametrize(
    "content_type", [None, "application/octet-stream", "text/plain", "application/json"]
)
def test_v2_infer_ignores_content_type(client: TestClient, content_type: str | None) -> None:
    """tritonclient's gevent client sends none, its aio client octet-stream even for JSON."""
    headers = {"Content-Type": content_type} if content_type else {}
    body = orjson.dumps({"inputs": iris_inputs()})
    response = client.post("/v2/models/iris/infer", content=body, headers=headers)
    assert response.status_code == 200


def test_v2_infer_returns_requested_outputs_in_request_order(client: TestClient) -> None:
    request = {"inputs": iris_inputs(), "outputs": [{"name": "probabilities"}, {"name": "label"}]}
    body = client.post("/v2/models/iris/infer", json=request).json()
    assert [o["name"] for o in body["outputs"]] == ["probabilities", "label"]
    only = {"inputs": iris_inputs(), "outputs": [{"name": "label"}]}
    assert [
        o["name"] for o in client.post("/v2/models/iris/infer", json=only).json()["outputs"]
    ] == ["label"]


def test_v2_infer_versioned_path_reports_version(client: TestClient) -> None:
    response = client.post("/v2/models/iris/versions/1/infer/", json={"inputs": iris_inputs()})
    assert (response.status_code, response.json()["model_version"]) == (200, "1")


def test_v2_infer_accepts_numeric_datatypes_that_fit(client: TestClient) -> None:
    """An INT64 or FP32 column feeds a float64 column; the signature checks the values."""
    inputs = iris_inputs()
    inputs[0] = {"name": "sepal_length", "shape": [3], "datatype": "INT64", "data": [5, 7, 6]}
    inputs[1] = {**inputs[1], "datatype": "FP32"}
    response = client.post("/v2/models/iris/infer", json={"inputs": inputs})
    assert response.status_code == 200


def test_v2_infer_mlserver_pandas_payload(client: TestClient) -> None:
    """MLServer's PandasCodec.encode_request output (§4.5), verbatim: null is NaN."""
    request = {
        "parameters": {"content_type": "pd"},
        "inputs": [
            {
                "name": "First Name",
                "shape": [2, 1],
                "datatype": "BYTES",
                "parameters": {"content_type": "str"},
                "data": ["Joanne", "Michael"],
            },
            {"name": "Age", "shape": [2, 1], "datatype": "INT64", "data": [34, 22]},
            {"name": "score", "shape": [2, 1], "datatype": "FP64", "data": [0.5, None]},
        ],
    }
    response = client.post("/v2/models/people/infer", json=request)
    assert response.status_code == 200
    older, score2 = response.json()["outputs"]
    assert older == {"name": "older", "datatype": "INT64", "shape": [2], "data": [35, 23]}
    assert score2 == {"name": "score2", "datatype": "FP64", "shape": [2], "data": [1.0, None]}


def test_v2_infer_model_failure_is_500_without_traceback(client: TestClient) -> None:
    request = {"inputs": [{"name": "input", "shape": [1, 1], "datatype": "FP64", "data": [-1]}]}
    response = client.post("/v2/models/picky/infer", json=request)
    assert response.status_code == 500
    assert response.json() == {"error": "model picky:1 failed: ValueError: negative values"}


def test_v2_infer_object_output_is_json_text_in_bytes(client: TestClient) -> None:
    """A dict per row travels as JSON text; a missing value is null (JSON), empty (binary)."""
    inputs = [{"name": "input", "shape": [2, 1], "datatype": "FP64", "data": [2.0, -1.0]}]
    response = client.post("/v2/models/tagger/infer", json={"inputs": inputs})
    assert response.json()["outputs"] == [
        {"name": "prediction", "datatype": "BYTES", "shape": [2], "data": ['{"n":2.0}', None]}
    ]
    request = {"inputs": inputs, "parameters": {"binary_data_output": True}}
    binary = client.post("/v2/models/tagger/infer", json=request)
    _, blob = split_response(binary.content, binary.headers[HEADER])
    assert blob == length_prefixed(b'{"n":2.0}', b"")


def test_v2_tensor_refuses_an_unknown_datatype() -> None:
    with pytest.raises(BadRequest, match="tensor 'x': unknown datatype 'FP8'"):
        Tensor("x", "FP8", (1,), np.zeros(1))


# ------------------------------------------------------------------- bad JSON requests


def _tensor(name: str = "input", **fields: Any) -> dict[str, Any]:
    return {"name": name, "shape": [1, 8], "datatype": "FP64", "data": [0.0] * 8, **fields}


@pytest.mark.parametrize(
    ("request_body", "error"),
    [
        ({"rows": []}, "request: expected 'inputs' to be a non-empty list, got None"),
        ({"inputs": []}, "request: expected 'inputs' to be a non-empty list, got []"),
        ([1], 'request body: expected an object such as {"inputs": [...]}, got a list'),
        ({"inputs": [7]}, "inputs[0]: expected an object, got int"),
        ({"inputs": [{"shape": [1]}]}, "inputs[0]: expected a 'name' string, got None"),
        (
            {"inputs": [_tensor(datatype="FP8")]},
            "input 'input': expected 'datatype' to be one of BOOL, UINT8, UINT16, UINT32, "
            "UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BF16, BYTES, got 'FP8'",
        ),
        (
            {"inputs": [_tensor(shape=[1, -8])]},
            "input 'input': expected 'shape' to be a list of sizes >= 0, got [1, -8]",
        ),
        (
            {"inputs": [_tensor(datatype=["FP64"])]},
            "input 'input': expected 'datatype' to be one of BOOL, UINT8, UINT16, UINT32, "
            "UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BF16, BYTES, got ['FP64']",
        ),
        (
            {"inputs": [_tensor(shape=[0, 2**62, 8], data=[])]},
            "input 'input': shape [0, 4611686018427387904, 8] is too large "
            "(at most 2**40 elements)",
        ),
        (
            {"inputs": [_tensor(shape="1x8")]},
            "input 'input': expected 'shape' to be a list of sizes >= 0, got '1x8'",
        ),
        (
            {"inputs": [_tensor(shape=[2, 8])]},
            "input 'input': shape [2, 8] holds 16 elements, got 8 in 'data'",
        ),
        (
            {"inputs": [{"name": "input", "shape": [1, 8], "datatype": "FP64"}]},
            "input 'input': expected 'data', or binary data with 'binary_data_size'",
        ),
        (
            {"inputs": [_tensor(data=3.0)]},
            "input 'input': expected 'data' to be a list, got float",
        ),
        (
            {"inputs": [_tensor(data=[0.0] * 7 + ["x"])]},
            "input 'input': expected numbers (or null for NaN) for datatype FP64, "
            "got 'x' (str) at element 7",
        ),
        (
            {"inputs": [_tensor(data=[0.0] * 7 + [True])]},
            "input 'input': expected numbers (or null for NaN) for datatype FP64, "
            "got True (bool) at element 7",
        ),
        (
            {"inputs": [_tensor(datatype="INT8", data=[0] * 7 + [300])]},
            "input 'input': expected -128 to 127 for datatype INT8, got 300 (int) at element 7",
        ),
        (
            {"inputs": [_tensor(datatype="INT64", data=[0] * 7 + [0.5])]},
            "input 'input': expected whole numbers for datatype INT64, "
            "got 0.5 (float) at element 7",
        ),
        (
            {"inputs": [_tensor(datatype="BOOL", data=[True] * 7 + [2])]},
            "input 'input': expected true or false for datatype BOOL, got 2 (int) at element 7",
        ),
        (
            {"inputs": [_tensor(datatype="FP16", data=[0.0] * 7 + [1e6])]},
            "input 'input': expected numbers in range for datatype FP16, "
            "got 1000000.0 (float) at element 7",
        ),
        (
            {"inputs": [_tensor(datatype="BYTES", data=["a"] * 7 + [1])]},
            "input 'input': expected strings for datatype BYTES, got 1 (int) at element 7",
        ),
        (
            {"inputs": [_tensor()], "outputs": ["label"]},
            "outputs[0]: expected an object, got a string",
        ),
        (
            {"inputs": [_tensor()], "outputs": [{"parameters": {}}]},
            "outputs[0]: expected a 'name' string, got None",
        ),
        (
            {"inputs": [_tensor(), _tensor()]},
            "inputs: each input may be sent once, got ['input'] more than once",
        ),
        (
            {"inputs": [_tensor(), _tensor("extra")]},
            "unknown input 'extra'; the model takes: input (FP64 [-1, 8])",
        ),
        (
            {"inputs": [_tensor(datatype="BYTES", data=["a"] * 8)]},
            "input 'input': expected datatype FP64 (float64), got BYTES",
        ),
        (
            {"inputs": [_tensor(shape=[8])]},
            "input 'input': expected shape [-1, 8] (batch first), got [8]",
        ),
        (
            {"inputs": [_tensor(shape=[2, 4])]},
            "tensor 'input': expected shape [-1, 8], got [2, 4] (dimension 1 must be 8)",
        ),
        (
            {"inputs": [_tensor(data=[None] * 8)]},
            "tensor 'input': expected float64, got nan (float) at [0, 0] (NaN is not allowed)",
        ),
        (
            {"inputs": [_tensor()], "outputs": [{"name": "score"}]},
            "unknown output 'score'; the model gives: label, probabilities",
        ),
        (
            {"inputs": [_tensor()], "outputs": [{"name": "label"}, {"name": "label"}]},
            "outputs: each output may be requested once, got ['label'] twice",
        ),
        (
            {
                "inputs": [_tensor()],
                "outputs": [{"name": "label", "parameters": {"binary_data": 1}}],
            },
            "output 'label': expected parameter 'binary_data' to be true or false, got 1",
        ),
        (
            {"inputs": [_tensor()], "parameters": {"binary_data_output": "yes"}},
            "request: expected parameter 'binary_data_output' to be true or false, got 'yes'",
        ),
        (
            {"inputs": [_tensor()], "parameters": []},
            "request: expected 'parameters' to be an object, got a list",
        ),
        (
            {"inputs": [_tensor()], "id": 42},
            "request: expected 'id' to be a string, got 42",
        ),
        (
            {
                "inputs": [_tensor()],
                "outputs": [{"name": "label", "parameters": {"classification": 2}}],
            },
            "output 'label': the classification extension is not supported by this server",
        ),
        (
            {"inputs": [_tensor(parameters={"shared_memory_region": "r0"})]},
            "input 'input': shared memory (shared_memory_region) is not supported by this "
            "server; send the tensor in the request body",
        ),
    ],
    ids=[
        "no-inputs",
        "empty-inputs",
        "not-an-object",
        "input-not-an-object",
        "input-without-name",
        "unsupported-datatype",
        "negative-shape",
        "datatype-not-a-string",
        "huge-empty-shape",
        "shape-not-a-list",
        "data-shorter-than-shape",
        "no-data",
        "data-not-a-list",
        "string-in-fp64",
        "bool-in-fp64",
        "int8-out-of-range",
        "float-in-int64",
        "bool-not-0-or-1",
        "fp16-overflow",
        "number-in-bytes",
        "output-not-an-object",
        "output-without-name",
        "duplicate-input",
        "extra-input",
        "wrong-datatype",
        "missing-batch-axis",
        "wrong-fixed-dimension",
        "nan-not-allowed",
        "unknown-output",
        "repeated-output",
        "binary-data-not-bool",
        "binary-data-output-not-bool",
        "parameters-not-object",
        "id-not-string",
        "classification",
        "shared-memory",
    ],
)
def test_v2_bad_json_request_is_400(client: TestClient, request_body: Any, error: str) -> None:
    response = client.post("/v2/models/digits/infer", json=request_body)
    assert (response.status_code, response.json()) == (400, {"error": error})


def test_v2_malformed_json_is_400(client: TestClient) -> None:
    response = client.post("/v2/models/iris/infer", content=b'{"inputs": [')
    assert response.status_code == 400
    assert response.json()["error"].startswith("request body: malformed JSON")


def test_v2_missing_column_is_400_naming_it(client: TestClient) -> None:
    response = client.post("/v2/models/iris/infer", json={"inputs": iris_inputs()[:3]})
    assert response.status_code == 400
    assert response.json()["error"].startswith(
        "missing input 'petal_width' (expected FP64 [-1]); the model takes: sepal_length"
    )


def test_v2_columns_of_different_lengths_are_400(client: TestClient) -> None:
    inputs = iris_inputs()
    inputs[3] = {**inputs[3], "shape": [2], "data": [0.2, 1.4]}
    response = client.post("/v2/models/iris/infer", json={"inputs": inputs})
    assert response.status_code == 400
    assert response.json()["error"] == (
        "inputs: each column needs the same number of rows, got {'sepal_length': 3, "
        "'sepal_width': 3, 'petal_length': 3, 'petal_width': 2}"
    )


def test_v2_column_with_two_values_per_row_is_400(client: TestClient) -> None:
    inputs = iris_inputs()
    inputs[0] = {**inputs[0], "shape": [1, 3]}
    response = client.post("/v2/models/iris/infer", json={"inputs": inputs})
    assert response.json() == {
        "error": "input 'sepal_length': expected shape [n] or [n, 1] (one value per row), "
        "got [1, 3]"
    }


# ------------------------------------------------------------------ binary extension


def test_v2_binary_golden_request_from_tritonclient(client: TestClient) -> None:
    """§2.5 byte for byte (header 135, body 151); a doubling model gives [[2, 4], [6, 8]]."""
    assert (len(GOLDEN_HEADER), len(GOLDEN_HEADER + GOLDEN_BLOB)) == (135, 151)
    response = client.post(
        "/v2/models/double/infer",
        content=GOLDEN_HEADER + GOLDEN_BLOB,
        headers={HEADER: "135"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    document, blob = split_response(response.content, response.headers[HEADER])
    assert document["outputs"] == [
        {
            "name": "prediction",
            "datatype": "FP32",
            "shape": [2, 2],
            "parameters": {"binary_data_size": 16},
        }
    ]
    assert blob == bytes.fromhex("00000040 00008040 0000c040 00000041")
    assert len(response.content) == int(response.headers[HEADER]) + 16


def test_v2_binary_golden_mixed_request_decodes_bytes_and_bool() -> None:
    """§2.5's BYTES + BOOL capture: offsets, element encoding and output choices."""
    assert len(GOLDEN_MIXED_HEADER) == 287
    parsed = parse_infer_request(GOLDEN_MIXED_HEADER + GOLDEN_MIXED_BLOB, "287")
    s, b = parsed.inputs
    assert (s.datatype, s.shape, s.array.tolist()) == ("BYTES", (2,), [b"hello", "wörld".encode()])
    assert (b.datatype, b.shape, b.array.tolist()) == ("BOOL", (3,), [True, False, True])
    assert (parsed.is_binary("OUT_s"), parsed.is_binary("OUT_b")) == (True, False)


def test_v2_binary_bytes_round_trip_and_per_output_choice(client: TestClient) -> None:
    """Empty and multibyte strings keep their bytes; OUT_b stays JSON as asked."""
    texts = [b"hello", b"", "wörld ✓".encode()]
    header = {
        "inputs": [
            {"name": "s", "shape": [3], "datatype": "BYTES", "parameters": {}},
            {"name": "b", "shape": [3], "datatype": "BOOL", "data": [True, False, True]},
        ],
        "outputs": [
            {"name": "OUT_s", "parameters": {"binary_data": True}},
            {"name": "OUT_b", "parameters": {"binary_data": False}},
        ],
    }
    blob = length_prefixed(*texts)
    header["inputs"][0]["parameters"] = {"binary_data_size": len(blob)}
    content, headers = binary_body(header, blob)
    response = client.post("/v2/models/echo/infer", content=content, headers=headers)
    assert response.status_code == 200
    document, out_blob = split_response(response.content, response.headers[HEADER])
    outputs = outputs_by_name(document)
    assert outputs["OUT_s"]["parameters"] == {"binary_data_size": len(blob)}
    assert "data" not in outputs["OUT_s"]
    assert out_blob == blob
    assert outputs["OUT_b"]["data"] == [True, False, True]


def test_v2_binary_mixed_with_json_inputs_in_order(client: TestClient) -> None:
    """Columns 0 and 2 binary, 1 and 3 JSON: blobs follow the binary inputs' order."""
    inputs = iris_inputs()
    blobs = []
    for i in (0, 2):
        values = np.array(inputs[i].pop("data"), dtype="<f8").tobytes()
        inputs[i]["parameters"] = {"binary_data_size": len(values)}
        blobs.append(values)
    content, headers = binary_body({"inputs": inputs}, *blobs)
    response = client.post("/v2/models/iris/infer", content=content, headers=headers)
    assert response.status_code == 200
    assert response.json()["outputs"][0]["data"] == IRIS_LABELS


def test_v2_binary_output_for_every_output_when_asked(client: TestClient) -> None:
    request = {"inputs": iris_inputs(), "parameters": {"binary_data_output": True}}
    response = client.post("/v2/models/iris/infer", json=request)
    assert response.headers["content-type"] == "application/octet-stream"
    document, blob = split_response(response.content, response.headers[HEADER])
    label, probabilities = document["outputs"]
    assert label["parameters"] == {"binary_data_size": sum(4 + len(t) for t in IRIS_LABELS)}
    assert blob[: label["parameters"]["binary_data_size"]] == length_prefixed(
        *(t.encode() for t in IRIS_LABELS)
    )
    values = np.frombuffer(blob[label["parameters"]["binary_data_size"] :], dtype="<f8")
    assert probabilities["parameters"] == {"binary_data_size": 72}
    np.testing.assert_allclose(values.reshape(3, 3).sum(axis=1), 1.0)


def test_v2_binary_output_flag_overridden_per_output(client: TestClient) -> None:
    request = {
        "inputs": iris_inputs(),
        "parameters": {"binary_data_output": True},
        "outputs": [
            {"name": "label", "parameters": {"binary_data": False}},
            {"name": "probabilities"},
        ],
    }
    response = client.post("/v2/models/iris/infer", json=request)
    document, _ = split_response(response.content, response.headers[HEADER])
    label, probabilities = document["outputs"]
    assert label["data"] == IRIS_LABELS
    assert probabilities["parameters"] == {"binary_data_size": 72}


def test_v2_binary_empty_tensor_gives_empty_outputs(client: TestClient) -> None:
    """A [0, 8] tensor has binary_data_size 0: the header length equals the body length."""
    content, headers = binary_body(
        {
            "inputs": [
                {
                    "name": "input",
                    "shape": [0, 8],
                    "datatype": "FP64",
                    "parameters": {"binary_data_size": 0},
                }
            ],
            "parameters": {"binary_data_output": True},
        }
    )
    assert headers[HEADER] == str(len(content))
    response = client.post("/v2/models/digits/infer", content=content, headers=headers)
    assert response.status_code == 200
    document, blob = split_response(response.content, response.headers[HEADER])
    assert [(o["shape"], o["parameters"]["binary_data_size"]) for o in document["outputs"]] == [
        ([0], 0),
        ([0, 2], 0),
    ]
    assert blob == b""


def test_v2_binary_bf16_and_fp16_inputs_feed_a_float32_model(client: TestClient) -> None:
    bf16 = bytes.fromhex("803f 0040 4040 8040")  # 1.0, 2.0, 3.0, 4.0: float32's upper halves
    fp16 = np.array([1, 2, 3, 4], dtype="<f2").tobytes()
    for datatype, blob in (("BF16", bf16), ("FP16", fp16)):
        content, headers = binary_body(
            {
                "inputs": [
                    {
                        "name": "x",
                        "shape": [2, 2],
                        "datatype": datatype,
                        "parameters": {"binary_data_size": 8},
                    }
                ]
            },
            blob,
        )
        response = client.post("/v2/models/double/infer", content=content, headers=headers)
        assert response.json()["outputs"][0]["data"] == [2.0, 4.0, 6.0, 8.0], datatype


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_v2_binary_compressed_request(client: TestClient, encoding: str) -> None:
    """The header length counts the decompressed JSON, as tritonclient sends it."""
    compress = gzip.compress if encoding == "gzip" else zlib.compress
    response = client.post(
        "/v2/models/double/infer",
        content=compress(GOLDEN_HEADER + GOLDEN_BLOB),
        headers={HEADER: "135", "Content-Encoding": encoding},
    )
    assert response.status_code == 200
    _, blob = split_response(response.content, response.headers[HEADER])
    assert np.frombuffer(blob, dtype="<f4").tolist() == [2.0, 4.0, 6.0, 8.0]


def test_v2_unknown_content_encoding_is_400(client: TestClient) -> None:
    response = client.post(
        "/v2/models/double/infer",
        content=GOLDEN_HEADER + GOLDEN_BLOB,
        headers={HEADER: "135", "Content-Encoding": "br"},
    )
    assert response.status_code == 400
    assert "Content-Encoding" in response.json()["error"]


@pytest.mark.parametrize(
    ("header_length", "error"),
    [
        ("152", f"{HEADER}: the JSON header is 152 bytes, but the body has only 151 bytes"),
        ("-5", f"{HEADER}: expected a whole number of bytes, got '-5'"),
        ("12.5", f"{HEADER}: expected a whole number of bytes, got '12.5'"),
        ("many", f"{HEADER}: expected a whole number of bytes, got 'many'"),
        (
            "0",
            f"{HEADER}: 0 means a raw binary request without a JSON header, which is not "
            "supported; send the JSON header first",
        ),
        ("130", "request JSON header: malformed JSON"),
    ],
    ids=["longer-than-body", "negative", "not-integer", "not-a-number", "raw-binary", "cut-json"],
)
def test_v2_bad_header_length_is_400(client: TestClient, header_length: str, error: str) -> None:
    response = client.post(
        "/v2/models/double/infer",
        content=GOLDEN_HEADER + GOLDEN_BLOB,
        headers={HEADER: header_length},
    )
    assert response.status_code == 400
    assert response.json()["error"].startswith(error)


def _double_request(datatype: str, shape: list[int], size: int, blob: bytes) -> Any:
    return binary_body(
        {
            "inputs": [
                {
                    "name": "x",
                    "shape": shape,
                    "datatype": datatype,
                    "parameters": {"binary_data_size": size},
                }
            ]
        },
        blob,
    )


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            _double_request("FP32", [2, 2], 12, GOLDEN_BLOB[:12]),
            "input 'x': shape [2, 2] of FP32 takes 16 bytes, got binary_data_size 12",
        ),
        (
            _double_request("FP32", [2, 2], 20, GOLDEN_BLOB),
            "input 'x': binary_data_size is 20 bytes, but only 16 bytes of binary data are "
            "left in the body",
        ),
        (
            _double_request("FP32", [2, 2], 16, GOLDEN_BLOB + b"\x00\x00"),
            "binary data: the inputs' binary_data_size add up to 16 bytes, but the body has "
            "18 bytes after the JSON header",
        ),
        (
            _double_request("FP32", [2, 2], -1, GOLDEN_BLOB),
            "input 'x': expected 'binary_data_size' >= 0, got -1",
        ),
        (
            _double_request("BYTES", [2], 7, length_prefixed(b"a") + b"\x07\x00"),
            "input 'x': BYTES element 1 is cut off in its length prefix",
        ),
        (
            _double_request("BYTES", [2], 13, length_prefixed(b"a") + b"\x09\x00\x00\x00abcd"),
            "input 'x': BYTES element 1 declares 9 bytes, but only 4 are left in its blob",
        ),
        (
            _double_request("BYTES", [3], 10, length_prefixed(b"a", b"b")),
            "input 'x': the shape holds 3 elements, got 2 BYTES elements in the binary data",
        ),
    ],
    ids=[
        "size-not-shape",
        "size-beyond-body",
        "trailing-bytes",
        "negative-size",
        "bytes-cut-prefix",
        "bytes-cut-element",
        "bytes-count",
    ],
)
def test_v2_inconsistent_binary_body_is_400(
    client: TestClient, body: tuple[bytes, dict[str, str]], error: str
) -> None:
    content, headers = body
    response = client.post("/v2/models/double/infer", content=content, headers=headers)
    assert (response.status_code, response.json()) == (400, {"error": error})


def test_v2_data_and_binary_data_size_together_is_400(client: TestClient) -> None:
    content, headers = binary_body(
        {
            "inputs": [
                {
                    "name": "x",
                    "shape": [1, 2],
                    "datatype": "FP32",
                    "data": [1, 2],
                    "parameters": {"binary_data_size": 8},
                }
            ]
        },
        np.array([1, 2], dtype="<f4").tobytes(),
    )
    response = client.post("/v2/models/double/infer", content=content, headers=headers)
    assert response.json() == {
        "error": "input 'x': expected either 'data' or 'binary_data_size', got both"
    }


def test_v2_non_utf8_bytes_into_a_string_input_is_400(client: TestClient) -> None:
    blob = length_prefixed(b"\xff\x00")
    content, headers = binary_body(
        {
            "inputs": [
                {
                    "name": "s",
                    "shape": [1],
                    "datatype": "BYTES",
                    "parameters": {"binary_data_size": len(blob)},
                },
                {"name": "b", "shape": [1], "datatype": "BOOL", "data": [True]},
            ]
        },
        blob,
    )
    response = client.post("/v2/models/echo/infer", content=content, headers=headers)
    assert (response.status_code, response.json()) == (
        400,
        {"error": "input 's': BYTES element [0] is not UTF-8 text"},
    )
