"""A registered composite served like any model: every protocol, batching, telemetry's path."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.http as httpclient

from roost.compose import Cascade
from roost.config import BatchingConfig, ServingConfig, StoreConfig, TelemetryConfig
from roost.serving.server import ServeSpec, app_from_spec
from roost.store import Registry
from roost.telemetry import open_sink

pytestmark = pytest.mark.integration

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
#: a sure setosa, and a flower between versicolor and virginica
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.0, 2.7, 5.1, 1.6]]


@pytest.fixture(scope="module")
def cascade_home(tmp_path_factory: pytest.TempPathFactory, serving_registry_home: Path) -> Path:
    """The serving registry plus ``forest:1`` and ``iris-cascade:1`` (iris:1 fast, forest slow)."""
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    home = tmp_path_factory.mktemp("composite") / "home"
    shutil.copytree(serving_registry_home, home)
    registry = Registry(home)
    data = load_iris(as_frame=True)
    x = data.data.set_axis(COLUMNS, axis=1)
    y = data.target_names[data.target]
    registry.save(RandomForestClassifier(20, random_state=0).fit(x, y), "forest", example=x[:5])
    cascade = Cascade(registry.model("iris:1"), registry.model("forest:1"), threshold=0.9)
    registry.save(cascade, "iris-cascade", example=x[:5])
    return home


@pytest.fixture
def live(cascade_home: Path, tmp_path: Path, serve_live: Any) -> Iterator[str]:
    """``iris-cascade:1`` on a real port, logging to a SQLite file, batching for 20 ms."""
    spec = ServeSpec(
        ("iris-cascade:1",),
        StoreConfig(home=cascade_home),
        ServingConfig(batching=BatchingConfig(max_batch_size=64, max_wait_ms=20)),
        telemetry=TelemetryConfig(url=str(tmp_path / "telemetry.sqlite3")),
    )
    with serve_live(app_from_spec(spec)) as url:
        yield url


def expected(cascade_home: Path) -> list[Any]:
    return (
        Registry(cascade_home)
        .load("iris-cascade:1")
        .predict([dict(zip(COLUMNS, row, strict=True)) for row in ROWS])
    )


def test_every_protocol_answers_with_the_cascade_and_its_phase(
    live: str, cascade_home: Path
) -> None:
    want = expected(cascade_home)
    assert [row["phase"] for row in want] == ["fast", "slow"]
    records = [dict(zip(COLUMNS, row, strict=True)) for row in ROWS]

    v1 = httpx.post(f"{live}/v1/models/iris-cascade:predict", json={"instances": records})
    assert v1.status_code == 200, v1.text
    assert v1.json()["predictions"] == want

    mlflow = httpx.post(f"{live}/invocations", json={"dataframe_records": records})
    assert mlflow.status_code == 200, mlflow.text
    assert mlflow.json()["predictions"] == want

    triton = httpclient.InferenceServerClient(url=live.removeprefix("http://"))
    try:
        inputs = []
        for i, column in enumerate(COLUMNS):
            tensor = httpclient.InferInput(column, [len(ROWS)], "FP64")
            tensor.set_data_from_numpy(np.array([row[i] for row in ROWS]), binary_data=True)
            inputs.append(tensor)
        result = triton.infer("iris-cascade", inputs)  # binary outputs, tritonclient's default
    finally:
        triton.close()
    assert [v.decode() for v in result.as_numpy("phase")] == ["fast", "slow"]
    assert [v.decode() for v in result.as_numpy("label")] == [row["label"] for row in want]
    np.testing.assert_allclose(
        result.as_numpy("probabilities"), [row["probabilities"] for row in want]
    )


def test_concurrent_requests_to_a_composite_are_batched(live: str) -> None:
    row = dict(zip(COLUMNS, ROWS[0], strict=True))

    async def burst() -> list[int]:
        async with httpx.AsyncClient(base_url=live) as client:
            answers = await asyncio.gather(
                *(
                    client.post("/v1/models/iris-cascade:predict", json={"instances": [row]})
                    for _ in range(40)
                )
            )
        return [a.status_code for a in answers]

    assert asyncio.run(burst()) == [200] * 40
    metrics = httpx.get(f"{live}/metrics").text
    count = _sample(metrics, "roost_batch_requests_count")
    total = _sample(metrics, "roost_batch_requests_sum")
    assert total >= 40
    assert count < total


def test_telemetry_logs_the_path_each_request_took(live: str, tmp_path: Path) -> None:
    sure, unsure = (dict(zip(COLUMNS, row, strict=True)) for row in ROWS)
    ids = {}
    for name, rows in (("fast", [sure]), ("both", [sure, unsure]), ("slow", [unsure])):
        answer = httpx.post(f"{live}/v1/models/iris-cascade:predict", json={"instances": rows})
        ids[answer.headers["x-prediction-id"]] = name
    sink = open_sink(str(tmp_path / "telemetry.sqlite3"))
    try:
        for _ in range(100):  # the log writes every half second
            records = {r.prediction_id: r for r in sink.predictions()}
            if set(ids) <= set(records):
                break
            asyncio.run(asyncio.sleep(0.1))
    finally:
        sink.close()
    paths = {ids[i]: records[i].path for i in ids}
    assert paths == {"fast": ["fast"], "both": ["fast", "slow"], "slow": ["slow"]}


def _sample(metrics: str, name: str) -> float:
    match = re.search(rf'^{name}\{{model="iris-cascade"[^}}]*\}} (\S+)$', metrics, re.M)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))
