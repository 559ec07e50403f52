"""``GET /metrics``: what requests and batches are counted, under which bounded labels.

The multi-process mode (``roost serve --workers N``) is tested for real in
tests/cli/test_serve_subprocess.py; here every app has a registry of its own.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.testclient import TestClient

from roost.errors import ConfigError
from roost.serving.metrics import Metrics, classify, remove_dead_workers

ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


def value(text: str, sample: str, **labels: str) -> float:
    """The sum of the samples called ``sample`` whose labels include ``labels``."""
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == sample and labels.items() <= s.labels.items()
    )


def scrape(client: TestClient) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def test_metrics_count_requests_by_model_version_protocol_and_code(client: TestClient) -> None:
    for _ in range(3):
        assert client.post("/v1/models/iris:predict", json={"instances": [ROW, ROW]}).is_success
    bad = client.post("/v1/models/iris:predict", json={"instances": [{**ROW, "sepal_width": "x"}]})
    assert bad.status_code == 400
    text = scrape(client)
    iris = {"model": "iris", "version": "1", "protocol": "v1"}
    assert value(text, "roost_requests_total", **iris, code="200") == 3
    assert value(text, "roost_requests_total", **iris, code="400") == 1
    assert value(text, "roost_request_errors_total", **iris) == 1
    assert value(text, "roost_request_duration_seconds_count", **iris) == 4


def test_metrics_record_batches_of_each_model_version(client: TestClient) -> None:
    for _ in range(3):
        client.post("/v1/models/iris:predict", json={"instances": [ROW, ROW]})
    text = scrape(client)
    iris = {"model": "iris", "version": "1"}
    assert value(text, "roost_batch_rows_count", **iris) == 3  # sequential: one batch each
    assert value(text, "roost_batch_rows_sum", **iris) == 6
    assert value(text, "roost_batch_requests_sum", **iris) == 3
    assert value(text, "roost_batch_queue_wait_seconds_count", **iris) == 3
    assert value(text, "roost_predict_duration_seconds_count", **iris) == 3
    assert value(text, "roost_batch_failures_total", **iris) == 0
    assert value(text, "roost_queue_depth", **iris) == 0
    assert value(text, "roost_queue_depth", model="digits", version="1") == 0


def test_metrics_label_unknown_models_and_paths_other(client: TestClient) -> None:
    assert client.post("/v1/models/made-up:predict", json={"instances": [ROW]}).status_code == 404
    client.get("/no/such/path")
    client.get("/health/live")
    text = scrape(client)
    assert value(text, "roost_requests_total", model="other", protocol="v1", code="404") == 1
    assert value(text, "roost_requests_total", model="other", protocol="other", code="404") == 1
    assert value(text, "roost_requests_total", model="other", protocol="other", code="200") == 1
    models = {
        s.labels["model"]
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if "model" in s.labels
    }
    assert models == {"iris", "digits", "other"}


def test_metrics_of_two_apps_stay_apart(make_app: Callable[..., Starlette]) -> None:
    with TestClient(make_app()) as first, TestClient(make_app()) as second:
        first.post("/v1/models/iris:predict", json={"instances": [ROW]})
        labels = {"model": "iris", "protocol": "v1", "code": "200"}
        assert value(scrape(first), "roost_requests_total", **labels) == 1
        assert value(scrape(second), "roost_requests_total", **labels) == 0


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/models/iris:predict", ("v1", "iris")),
        ("/v1/models/iris", ("v1", "iris")),
        ("/v1/models/iris/", ("v1", "iris")),
        ("/v1/models", ("v1", "other")),
        ("/v1/models/nope:predict", ("v1", "other")),
        ("/v2/models/iris/versions/1/infer", ("v2", "iris")),
        ("/v2/models/iris/ready", ("v2", "iris")),
        ("/v2/health/ready", ("v2", "other")),
        ("/v2", ("v2", "other")),
        ("/invocations", ("mlflow", "iris")),
        ("/health/ready", ("other", "other")),
        ("/v1x/models/iris", ("other", "other")),
    ],
    ids=lambda x: x if isinstance(x, str) else None,
)
def test_classify_labels_paths(path: str, expected: tuple[str, str]) -> None:
    assert classify(path, frozenset({"iris", "digits"}), "iris") == expected


def test_metrics_multiprocess_without_the_variable_is_refused(tmp_path: Path) -> None:
    """prometheus_client picks its mode at import; a folder alone would count nothing."""
    with pytest.raises(ConfigError, match=r"PROMETHEUS_MULTIPROC_DIR=.* to be set before"):
        Metrics(tmp_path)


def test_remove_dead_workers_drops_their_gauges_and_keeps_their_counts(tmp_path: Path) -> None:
    for name in ("gauge_livesum_111.db", "gauge_livesum_222.db", "counter_111.db"):
        (tmp_path / name).write_bytes(b"")
    assert remove_dead_workers(tmp_path, is_alive=lambda pid: pid == 222) == [111]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "counter_111.db",
        "gauge_livesum_222.db",
    ]


def test_remove_dead_workers_asks_the_system_which_workers_run(tmp_path: Path) -> None:
    gone = 2**31 - 1  # above any pid_max: no such process
    for pid in (os.getpid(), gone):
        (tmp_path / f"gauge_livesum_{pid}.db").write_bytes(b"")
    assert remove_dead_workers(tmp_path) == [gone]
    assert [p.name for p in tmp_path.iterdir()] == [f"gauge_livesum_{os.getpid()}.db"]
