"""Liveness and readiness: ready only when every model is loaded, and a broken model alone."""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.testclient import TestClient

from roost.store import Registry

ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


def test_health_live_and_ready_when_every_model_loaded(client: TestClient) -> None:
    assert client.get("/health/live").json() == {"live": True}
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "models": {"iris": "1", "digits": "1"}}


def test_health_ready_is_503_naming_a_model_that_failed_to_load(
    serving_registry: Registry, make_app: Callable[..., Starlette]
) -> None:
    """A tampered package fails its hash check at load; the other model serves on."""
    artifact = serving_registry.path("digits:1") / "artifacts" / "model.pkl"
    artifact.write_bytes(artifact.read_bytes() + b"tampered")
    with TestClient(make_app()) as client:
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        body = ready.json()
        assert (body["ready"], body["models"], body["loading"]) == (False, {"iris": "1"}, [])
        assert list(body["failed"]) == ["digits"]
        assert "artifacts/model.pkl does not match its sha256" in body["failed"]["digits"]

        assert client.get("/health/live").status_code == 200  # a restart would not help
        assert client.get("/v2/health/ready").status_code == 503  # V2 agrees
        served = client.post("/v1/models/iris:predict", json={"instances": [ROW]})
        assert served.status_code == 200
        broken = client.post("/v1/models/digits:predict", json={"instances": [[0.0] * 8]})
        assert broken.status_code == 503
        assert broken.json()["error"].startswith("model 'digits' failed to load: package ")
