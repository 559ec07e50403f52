"""The worker's side of ``roost serve``: the spec travels as JSON and builds the same app."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from roost.config import BatchingConfig, ServingConfig, StoreConfig
from roost.errors import ConfigError
from roost.serving.server import SPEC_VARIABLE, ServeSpec, app_from_env
from roost.store import Registry


def test_serve_spec_round_trips_every_setting(tmp_path: Path) -> None:
    spec = ServeSpec(
        ("iris@production", "digits:1"),
        StoreConfig(home=tmp_path, index_url="sqlite:///elsewhere.db"),
        ServingConfig(
            host="0.0.0.0",
            port=9000,
            workers=3,
            batching=BatchingConfig(16, 1.5, 64),
            per_model={"iris": BatchingConfig(128, 10, 512)},
            request_timeout_s=2.5,
            max_body_bytes=1024,
            poll_interval_s=0.2,
        ),
        metrics_dir=str(tmp_path / "metrics"),
    )
    assert ServeSpec.from_json(spec.to_json()) == spec


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("not json", "expected the JSON that roost serve writes"),
        ('{"refs": ["iris"]}', "KeyError"),
        (
            ServeSpec(("iris",)).to_json().replace('"max_batch_size": 32', '"max_batch_size": 0'),
            "max_batch_size: expected a whole number >= 1, got 0",
        ),
    ],
    ids=["not-json", "incomplete", "invalid-setting"],
)
def test_serve_spec_refuses_what_roost_serve_did_not_write(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        ServeSpec.from_json(text)


def test_app_from_env_without_the_spec_names_roost_serve(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(SPEC_VARIABLE, raising=False)
    with pytest.raises(ConfigError, match="start the server with `roost serve REF`"):
        app_from_env()


def test_app_from_env_serves_the_spec(
    serving_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = ServeSpec(("digits:1",), StoreConfig(home=serving_registry.home))
    monkeypatch.setenv(SPEC_VARIABLE, spec.to_json())
    with TestClient(app_from_env()) as client:
        response = client.post("/v1/models/digits:predict", json={"instances": [[0.0] * 8]})
        assert response.status_code == 200
        assert client.get("/metrics").text.count('model="digits"') > 0
