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


def test_tallied_requests_expose_exactly_what_one_observe_each_would() -> None:
    """The bulk write uses prometheus_client's internals: this catches an upgrade moving them."""
    durations = [0.0004, 0.001, 0.0011, 0.003, 0.003, 0.2, 7.0, 31.0, 0.0]
    tallied, observed = Metrics(), Metrics()
    for duration in durations:
        tallied.request_done("iris", "1", "v1", 200, duration)
        tallied.request_done("iris", "1", "v1", 503, duration)
    tallied.flush()
    tallied.flush()  # a second flush adds nothing
    for duration in durations:
        for code in ("200", "503"):
            observed.requests.labels("iris", "1", "v1", code).inc()
            observed.request_duration.labels("iris", "1", "v1").observe(duration)
        observed.request_errors.labels("iris", "1", "v1", "503").inc()
    assert samples(tallied.render()) == samples(observed.render())
    assert value(tallied.render().decode(), "roost_request_duration_seconds_count") == 18


def samples(text: bytes) -> list[tuple[str, dict[str, str], float]]:
    """Every sample but the ``_created`` timestamps, which differ between two registries."""
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
        if not s.name.endswith("_created")
    ]


def test_request_counts_wait_for_a_flush_and_a_scrape_flushes(client: TestClient) -> None:
    metrics = client.app.state.roost.metrics  # type: ignore[attr-defined]
    assert client.post("/v1/models/iris:predict", json={"instances": [ROW]}).is_success
    iris = {"model": "iris", "version": "1", "protocol": "v1", "code": "200"}
    own = metrics.registry
    assert own.get_sample_value("roost_requests_total", iris) in (None, 0.0)  # not yet written
    assert value(scrape(client), "roost_requests_total", **iris) == 1
    assert own.get_sample_value("roost_requests_total", iris) == 1.0


def test_queue_depth_is_written_at_flush(make_app: Callable[..., Starlette]) -> None:
    metrics = Metrics()
    observer = metrics.observer("iris", 1)
    labels = {"model": "iris", "version": "1"}
    assert metrics.registry.get_sample_value("roost_queue_depth", labels) == 0.0
    observer.queue_changed(3)
    assert metrics.registry.get_sample_value("roost_queue_depth", labels) == 0.0
    metrics.flush()
    assert metrics.registry.get_sample_value("roost_queue_depth", labels) == 3.0


def test_metrics_flush_every_keeps_counts_when_a_flush_fails(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    metrics = Metrics()
    metrics.request_done("iris", "1", "v1", 200, 0.01)
    calls = []

    def broken() -> None:
        calls.append(1)
        raise OSError("disk full")

    monkeypatch.setattr(metrics, "flush", broken)

    async def scenario() -> None:
        task = asyncio.create_task(metrics.flush_every(0.01))
        while len(calls) < 2:
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(scenario())
    assert "metrics: flush failed" in caplog.text
    monkeypatch.undo()
    iris = {"model": "iris", "version": "1", "protocol": "v1", "code": "200"}
    metrics.flush()
    assert metrics.registry.get_sample_value("roost_requests_total", iris) == 1.0
