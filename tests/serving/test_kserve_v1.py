"""KServe V1 as a client meets it: predict, model status, and the errors."""

from __future__ import annotations

from starlette.testclient import TestClient

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
        {"error": 'request body: expected an "instances" list, got none'},
    )


def test_v1_unknown_model_is_404(client: TestClient) -> None:
    response = client.post("/v1/models/nope:predict", json={"instances": [ROW]})
    assert response.status_code == 404
    assert response.json() == {"error": "model 'nope' is not served here (served: iris, digits)"}
