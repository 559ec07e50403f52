"""Serving with telemetry on: every protocol's requests logged, feedback taken at /v1/feedback."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from roost.config import ServingConfig, StoreConfig, TelemetryConfig
from roost.serving.server import ServeSpec, app_from_spec, telemetry_key
from roost.store import Registry
from roost.telemetry import open_sink

ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


def serve(
    registry: Registry, tmp_path: Path, url: str | None = None, **telemetry: Any
) -> TestClient:
    url = url or str(tmp_path / "telemetry.sqlite3")
    spec = ServeSpec(
        ("iris@production", "digits:1"),
        StoreConfig(home=registry.home),
        ServingConfig(),
        telemetry=TelemetryConfig(url=url, **telemetry),
    )
    return TestClient(app_from_spec(spec))


@pytest.fixture
def client(serving_registry: Registry, tmp_path: Path) -> Iterator[TestClient]:
    with serve(serving_registry, tmp_path) as test_client:
        yield test_client


def flush(client: TestClient) -> None:
    assert client.app.state.roost.telemetry.log.flush(10)  # type: ignore[attr-defined]


def logged(tmp_path: Path) -> list[Any]:
    sink = open_sink(str(tmp_path / "telemetry.sqlite3"))
    try:
        return sink.predictions()
    finally:
        sink.close()


def test_every_protocol_logs_its_requests_under_the_id_the_client_got(
    client: TestClient, tmp_path: Path
) -> None:
    v1 = client.post("/v1/models/iris:predict", json={"instances": [ROW, ROW]})
    v2 = client.post(
        "/v2/models/iris/infer",
        json={
            "inputs": [
                {"name": name, "shape": [1], "datatype": "FP64", "data": [value]}
                for name, value in ROW.items()
            ]
        },
    )
    mlflow = client.post("/invocations", json={"dataframe_records": [ROW]})
    assert [r.status_code for r in (v1, v2, mlflow)] == [200, 200, 200]
    flush(client)
    records = {r.prediction_id: r for r in logged(tmp_path)}
    ids = [r.headers["x-prediction-id"] for r in (v1, v2, mlflow)]
    assert sorted(records) == sorted(ids)
    first = records[ids[0]]
    assert (first.model, first.version, first.protocol, first.n_rows) == ("iris", 1, "v1", 2)
    assert first.inputs == [ROW, ROW]
    assert first.outputs == v1.json()["predictions"]
    assert first.latency_ms > 0
    assert [records[i].protocol for i in ids] == ["v1", "v2", "mlflow"]
    assert records[ids[1]].inputs == [ROW]  # V2's columns become one dict per row
    assert records[ids[2]].inputs == [ROW]


def test_failed_requests_are_not_logged(client: TestClient, tmp_path: Path) -> None:
    bad = client.post("/v1/models/iris:predict", json={"instances": [{"sepal_length": "x"}]})
    assert bad.status_code == 400
    flush(client)
    assert logged(tmp_path) == []


def test_sample_rate_zero_logs_nothing_and_counts_what_it_skipped(
    serving_registry: Registry, tmp_path: Path
) -> None:
    with serve(serving_registry, tmp_path, sample_rate=0.0, sample_rates={"digits": 1.0}) as client:
        for _ in range(3):
            assert client.post("/v1/models/iris:predict", json={"instances": [ROW]}).is_success
        digits = client.post("/v1/models/digits:predict", json={"instances": [[0.0] * 8]})
        assert digits.is_success
        flush(client)
        text = client.get("/metrics").text
    assert [r.model for r in logged(tmp_path)] == ["digits"]
    assert 'roost_telemetry_records_total{outcome="skipped"} 3.0' in text
    assert 'roost_telemetry_records_total{outcome="written"} 1.0' in text
    (cpu,) = re.findall(
        r'^roost_telemetry_write_cpu_seconds_total{sink="sqlite"} (\S+)$', text, re.M
    )
    assert float(cpu) > 0  # the writer thread's SQLite write of that one record


def test_sensitive_fields_are_hashed_before_they_are_logged(
    serving_registry: Registry, tmp_path: Path, iris_data: Any
) -> None:
    from sklearn.linear_model import LogisticRegression

    x, y = iris_data
    serving_registry.save(
        LogisticRegression(max_iter=500).fit(x, y),
        "iris",
        example=x[:5],
        card={"sensitive_fields": {"sepal_length": "hash", "sepal_width": "drop"}},
    )
    serving_registry.set_alias("iris", "production", 2)
    with serve(serving_registry, tmp_path) as client:
        assert client.post("/v1/models/iris:predict", json={"instances": [ROW]}).is_success
        flush(client)
    (record,) = logged(tmp_path)
    (row,) = record.inputs
    assert set(row) == {"sepal_length", "petal_length", "petal_width"}
    key = telemetry_key(TelemetryConfig(url="x"), serving_registry.home)
    from roost.telemetry import Redactor

    assert row["sepal_length"] == Redactor({}, key).hash(5.1)


def test_feedback_one_and_many_are_recorded_and_duplicates_reported(
    client: TestClient, tmp_path: Path
) -> None:
    ids = [
        client.post("/v1/models/iris:predict", json={"instances": [ROW]}).headers["x-prediction-id"]
        for _ in range(3)
    ]
    one = client.post("/v1/feedback", json={"prediction_id": ids[0], "truth": "setosa"})
    assert one.status_code == 200
    assert one.json() == {
        "recorded": 1,
        "duplicates": 0,
        "results": [{"prediction_id": ids[0], "status": "recorded"}],
    }
    many = client.post(
        "/v1/feedback",
        json={
            "feedback": [
                {"prediction_id": ids[1], "truth": "setosa"},
                {"prediction_id": ids[0], "truth": "virginica"},
                {"prediction_id": "never-predicted", "truth": "setosa"},
            ]
        },
    )
    assert many.status_code == 200
    assert [r["status"] for r in many.json()["results"]] == ["recorded", "duplicate", "recorded"]
    assert (many.json()["recorded"], many.json()["duplicates"]) == (2, 1)
    flush(client)
    text = client.get("/metrics").text
    assert 'roost_feedback_items_total{status="recorded"} 3.0' in text
    assert 'roost_feedback_items_total{status="duplicate"} 1.0' in text
    sink = open_sink(str(tmp_path / "telemetry.sqlite3"))
    try:
        pairs = {p.prediction_id: f.truth for p, f in sink.joined()}
        counts = sink.feedback_counts()
    finally:
        sink.close()
    assert pairs == {ids[0]: "setosa", ids[1]: "setosa"}  # the first truth is kept
    assert (counts.recorded, counts.duplicates, counts.unmatched) == (3, 1, 1)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{nope", "malformed JSON"),
        (b'{"prediction_id": "a"}', "request body.truth: expected the true value"),
        (b'{"prediction_id": 7, "truth": 1}', "request body.prediction_id: expected the id"),
        (b'{"prediction_id": "a", "truth": 1, "x": 2}', "unknown field 'x'"),
        (b'{"feedback": []}', '"feedback": expected a non-empty list'),
        (
            b'{"feedback": [{"prediction_id": "a", "truth": 1}, 3]}',
            "feedback[1]: expected an object",
        ),
        (b'{"feedback": [], "more": 1}', "unknown field 'more' beside 'feedback'"),
        (b"[1]", "request body: expected an object"),
    ],
)
def test_bad_feedback_is_400_naming_the_field(
    client: TestClient, body: bytes, fragment: str
) -> None:
    response = client.post("/v1/feedback", content=body)
    assert response.status_code == 400
    assert fragment in response.json()["error"]


def test_feedback_too_many_items_is_400(client: TestClient) -> None:
    items = [{"prediction_id": str(i), "truth": 1} for i in range(10_001)]
    response = client.post("/v1/feedback", json={"feedback": items})
    assert response.status_code == 400
    assert "at most 10000 items, got 10001" in response.json()["error"]


def test_feedback_wrong_method_is_405(client: TestClient) -> None:
    response = client.get("/v1/feedback")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_feedback_without_telemetry_is_409(make_app: Any) -> None:
    with TestClient(make_app()) as client:
        response = client.post("/v1/feedback", json={"prediction_id": "a", "truth": 1})
    assert response.status_code == 409
    assert "roost serve --telemetry" in response.json()["error"]


def test_feedback_the_sink_cannot_store_is_503_and_not_acknowledged(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    tap = client.app.state.roost.telemetry  # type: ignore[attr-defined]

    def broken(records: Any) -> list[str]:
        raise OSError("disk full")

    monkeypatch.setattr(tap.sink, "write_feedback", broken)
    response = client.post("/v1/feedback", json={"prediction_id": "a", "truth": 1})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert "nothing was recorded" in response.json()["error"]


def test_telemetry_key_is_kept_in_the_home_and_a_given_key_wins(tmp_path: Path) -> None:
    first = telemetry_key(TelemetryConfig(url="x"), tmp_path)
    assert telemetry_key(TelemetryConfig(url="x"), tmp_path) == first
    assert (tmp_path / "telemetry.key").stat().st_mode & 0o777 == 0o600
    assert telemetry_key(TelemetryConfig(url="x", hash_key="mine"), tmp_path) != first


def test_production_accuracy_and_drift_reach_the_metrics(
    serving_registry: Registry, tmp_path: Path, iris_data: Any
) -> None:
    """Inputs shifted from training, half the feedback wrong: both show at /metrics."""
    from sklearn.linear_model import LogisticRegression

    x, y = iris_data
    model = LogisticRegression(max_iter=500).fit(x, y)
    serving_registry.save(model, "iris", example=x[:5], data={"train": (x, y)})
    serving_registry.set_alias("iris", "production", 2)
    with serve(serving_registry, tmp_path) as client:
        shifted = x.assign(petal_length=x["petal_length"] + 3.0)
        for i, row in enumerate(shifted.to_dict("records")[:120]):
            answer = client.post("/v1/models/iris:predict", json={"instances": [row]})
            predicted = answer.json()["predictions"][0]["label"]
            truth = predicted if i % 2 == 0 else "not-" + predicted
            pid = answer.headers["x-prediction-id"]
            assert client.post(
                "/v1/feedback", json={"prediction_id": pid, "truth": truth}
            ).is_success
        flush(client)
        state = client.app.state.roost  # type: ignore[attr-defined]
        recent = {name: list(records) for name, records in state.telemetry.recent.items()}
        state.metrics.quality.update(state.repository.served(), recent, time.time())
        text = client.get("/metrics").text
    iris = {"model": "iris", "version": "2"}
    assert metric(text, "roost_production_accuracy", **iris) == pytest.approx(0.5)
    assert metric(text, "roost_production_scored_rows", **iris) == 120
    assert metric(text, "roost_drift_psi", **iris, feature="petal_length") > 0.25
    assert metric(text, "roost_drift_psi", **iris, feature="sepal_width") < 0.1


def metric(text: str, sample: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    (value,) = [
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == sample and labels.items() <= s.labels.items()
    ]
    return value


def test_watch_quality_updates_in_the_background_and_survives_a_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import asyncio
    from types import SimpleNamespace

    from prometheus_client import CollectorRegistry

    from roost.serving._quality import QualityMetrics, watch_quality
    from roost.testing import FakeClock

    quality = QualityMetrics(CollectorRegistry())
    quality.tap = SimpleNamespace(recent={"iris": [1, 2]})  # type: ignore[assignment]
    calls: list[Any] = []

    def update(served: Any, recent: Any, now: float) -> None:
        calls.append((served, recent, now))
        if len(calls) == 1:
            raise OSError("the sink is down")

    quality.update = update  # type: ignore[method-assign]

    async def scenario() -> None:
        task = asyncio.create_task(watch_quality(quality, lambda: ["m"], FakeClock(), 0.01))
        while len(calls) < 2:
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(scenario())
    assert calls[1][:2] == (["m"], {"iris": [1, 2]})
    assert "could not update production accuracy and drift" in caplog.text


@pytest.mark.parametrize("kind", ["sqlite", "jsonl", "postgresql"])
def test_each_sink_logs_predictions_and_stores_feedback_from_the_server(
    serving_registry: Registry, tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    if kind == "postgresql":
        url = request.getfixturevalue("postgres_url")  # the real server; fails in CI without it
    else:
        url = str(tmp_path / f"telemetry.{'sqlite3' if kind == 'sqlite' else kind}")
    with serve(serving_registry, tmp_path, url) as client:
        ids = [
            client.post("/v1/models/iris:predict", json={"instances": [ROW]}).headers[
                "x-prediction-id"
            ]
            for _ in range(5)
        ]
        sent = client.post(
            "/v1/feedback",
            json={"feedback": [{"prediction_id": i, "truth": "setosa"} for i in ids[:3]]},
        )
        assert sent.json()["recorded"] == 3
    # the app closed: everything buffered was written on the way out
    sink = open_sink(url)
    try:
        assert sorted(r.prediction_id for r in sink.predictions(model="iris")) == sorted(ids)
        assert sorted(p.prediction_id for p, _ in sink.joined(model="iris")) == sorted(ids[:3])
    finally:
        sink.close()


def test_tap_logs_no_inputs_when_the_sensitive_fields_cannot_be_read(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An old package with a malformed declaration: outputs are logged, inputs never are."""
    from types import SimpleNamespace

    from roost.serving._telemetry import PredictionTap
    from roost.telemetry import PredictionLog
    from roost.testing import FakeClock

    class Memory:
        url = "memory"

        def __init__(self) -> None:
            self.records: list[Any] = []

        def write_predictions(self, records: Any) -> None:
            self.records.extend(records)

        def close(self) -> None:
            pass

    sink = Memory()
    prediction_log = PredictionLog(sink)  # type: ignore[arg-type]
    tap = PredictionTap(prediction_log, sink, FakeClock(), b"k" * 32)  # type: ignore[arg-type]
    served = SimpleNamespace(
        name="old",
        version=3,
        ref="old:3",
        model=SimpleNamespace(metadata={"card": {"sensitive_fields": "email"}}),
    )
    for i in range(2):
        tap.record(served, f"id{i}", "v1", [{"email": "a@b.c"}], [1], 0.001)  # type: ignore[arg-type]
    assert prediction_log.flush(5)
    records = [r.record() for r in sink.records]  # the tap hands over rendered records
    assert [(r.inputs, r.outputs) for r in records] == [([], [1]), ([], [1])]
    assert caplog.text.count("its inputs are not logged") == 1
    assert tap.recent == {}  # no training baseline: nothing kept for the drift gauges
    prediction_log.close()
