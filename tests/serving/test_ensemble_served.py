"""An ensemble served on a real port: a failing member is isolated, and the answer says so."""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from roost.compose import Ensemble
from roost.config import BatchingConfig, ServingConfig, StoreConfig, TelemetryConfig
from roost.serving.server import ServeSpec, app_from_spec
from roost.store import Registry
from roost.telemetry import open_sink

pytestmark = pytest.mark.integration

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
#: a sure setosa, and a flower between versicolor and virginica: no member fails on them
PASSING = [[5.1, 3.5, 1.4, 0.2], [6.0, 2.7, 5.1, 1.6]]
#: petal_length 6.9: the brittle member raises on it
BREAKING = [7.7, 2.6, 6.9, 2.3]


class Brittle:
    """A fitted classifier that raises on long petals, as a model with a bug would.

    Module level, so cloudpickle saves it by reference and the server (in this
    process) rebuilds it.
    """

    def __init__(self, classifier: Any) -> None:
        self.classifier = classifier

    def predict(self, frame: Any) -> dict[str, Any]:
        if (frame["petal_length"] > 6).any():
            raise ValueError("petal_length above 6 is out of range")
        return {
            "label": self.classifier.predict(frame),
            "probabilities": self.classifier.predict_proba(frame),
        }


@pytest.fixture(scope="module")
def ensemble_home(
    tmp_path_factory: pytest.TempPathFactory, serving_registry_home: Path, iris_data: Any
) -> Path:
    """The serving registry plus ``forest:1``, ``bayes:1``, ``brittle:1``, and over them
    ``iris-ensemble:1`` (answers from the rest) and ``iris-ensemble-strict:1`` (fails)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB

    home = tmp_path_factory.mktemp("ensemble") / "home"
    shutil.copytree(serving_registry_home, home)
    registry = Registry(home)
    x, y = iris_data
    registry.save(RandomForestClassifier(20, random_state=0).fit(x, y), "forest", example=x[:5])
    registry.save(GaussianNB().fit(x, y), "bayes", example=x[:5])
    # the same outputs as the others (label, and probabilities of the same three classes)
    signature = registry.load("forest:1").signature
    brittle = Brittle(LogisticRegression(max_iter=1000).fit(x, y))
    registry.save(brittle, "brittle", example=x[:5], signature=signature)
    for name, on_error in (("iris-ensemble", "answer_from_rest"), ("iris-ensemble-strict", "fail")):
        members = {m: registry.model(f"{m}:1") for m in ("forest", "bayes", "brittle")}
        ensemble = Ensemble(members, method="mean", on_error=on_error)
        registry.save(ensemble, name, example=x[:5])
    return home


@pytest.fixture
def live(ensemble_home: Path, tmp_path: Path, serve_live: Any) -> Iterator[str]:
    """Both ensembles on a real port, logging predictions to a SQLite file.

    A batch waits 50 ms for company, so requests sent together are merged into one.
    """
    spec = ServeSpec(
        ("iris-ensemble:1", "iris-ensemble-strict:1"),
        StoreConfig(home=ensemble_home),
        ServingConfig(batching=BatchingConfig(max_wait_ms=50)),
        telemetry=TelemetryConfig(url=str(tmp_path / "telemetry.sqlite3")),
    )
    with serve_live(app_from_spec(spec)) as url:
        yield url


def records(rows: list[list[float]]) -> list[dict[str, float]]:
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows]


def predict(url: str, model: str, rows: list[list[float]]) -> httpx.Response:
    return httpx.post(f"{url}/v1/models/{model}:predict", json={"instances": records(rows)})


def mean_of(home: Path, members: list[str], rows: list[list[float]]) -> tuple[list[str], Any]:
    """The label and probabilities the mean of ``members`` gives, computed here."""
    registry = Registry(home)
    answers = [registry.load(f"{m}:1").predict(records(rows)) for m in members]
    probabilities = np.mean([[row["probabilities"] for row in a] for a in answers], axis=0)
    labels = registry.load(f"{members[0]}:1").signature.outputs[1].labels
    assert labels is not None
    return [labels[j] for j in probabilities.argmax(axis=1)], probabilities


def test_ensemble_rows_every_member_answers_name_no_failed_member(
    live: str, ensemble_home: Path
) -> None:
    answer = predict(live, "iris-ensemble", PASSING)
    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    assert [row["failed"] for row in predictions] == ["", ""]
    labels, probabilities = mean_of(ensemble_home, ["forest", "bayes", "brittle"], PASSING)
    assert [row["label"] for row in predictions] == labels
    np.testing.assert_allclose([row["probabilities"] for row in predictions], probabilities)


def test_ensemble_member_failing_on_a_row_is_answered_from_the_rest(
    live: str, ensemble_home: Path
) -> None:
    """Only the row the member fails on is answered without it, and that row says so."""
    answer = predict(live, "iris-ensemble", [PASSING[1], BREAKING])
    assert answer.status_code == 200, answer.text
    passing, breaking = answer.json()["predictions"]
    assert (passing["failed"], breaking["failed"]) == ("", "brittle")
    labels, probabilities = mean_of(ensemble_home, ["forest", "bayes", "brittle"], [PASSING[1]])
    assert passing["label"] == labels[0]
    np.testing.assert_allclose(passing["probabilities"], probabilities[0])
    labels, probabilities = mean_of(ensemble_home, ["forest", "bayes"], [BREAKING])
    assert breaking["label"] == labels[0]
    np.testing.assert_allclose(breaking["probabilities"], probabilities[0])


def test_ensemble_clean_request_batched_with_a_breaking_one_keeps_every_member(
    live: str, ensemble_home: Path
) -> None:
    """Two clients' requests merged into one batch: the clean one is not degraded by the
    other's bad row."""
    path = "/v1/models/iris-ensemble:predict"

    async def together() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=live) as client:
            return list(
                await asyncio.gather(
                    client.post(path, json={"instances": records(PASSING)}),
                    client.post(path, json={"instances": records([PASSING[0], BREAKING])}),
                )
            )

    clean, breaking = asyncio.run(together())
    assert clean.status_code == 200, clean.text
    assert breaking.status_code == 200, breaking.text
    metrics = httpx.get(f"{live}/metrics").text
    batches = _sample(metrics, "roost_batch_requests_count")
    merged = _sample(metrics, "roost_batch_requests_sum")
    assert (batches, merged) == (1, 2), "the two requests were not merged into one batch"

    predictions = clean.json()["predictions"]
    assert [row["failed"] for row in predictions] == ["", ""]
    labels, probabilities = mean_of(ensemble_home, ["forest", "bayes", "brittle"], PASSING)
    assert [row["label"] for row in predictions] == labels
    np.testing.assert_allclose([row["probabilities"] for row in predictions], probabilities)

    passing, bad = breaking.json()["predictions"]
    assert (passing["failed"], bad["failed"]) == ("", "brittle")
    np.testing.assert_allclose(passing["probabilities"], probabilities[0])
    labels, probabilities = mean_of(ensemble_home, ["forest", "bayes"], [BREAKING])
    assert bad["label"] == labels[0]
    np.testing.assert_allclose(bad["probabilities"], probabilities[0])


def test_ensemble_telemetry_path_leaves_the_failed_member_out(live: str, tmp_path: Path) -> None:
    ids = {}
    for name, rows in (("passing", PASSING), ("breaking", [BREAKING])):
        answer = predict(live, "iris-ensemble", rows)
        assert answer.status_code == 200, answer.text
        ids[answer.headers["x-prediction-id"]] = name
    sink = open_sink(str(tmp_path / "telemetry.sqlite3"))
    try:
        deadline = time.monotonic() + 10  # the log writes every half second
        while True:
            logged = {r.prediction_id: r for r in sink.predictions()}
            if set(ids) <= set(logged) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        sink.close()
    assert set(ids) <= set(logged), "the predictions were not logged within 10 s"
    paths = {ids[i]: logged[i].path for i in ids}
    assert paths == {"passing": ["forest", "bayes", "brittle"], "breaking": ["forest", "bayes"]}


def test_ensemble_set_to_fail_answers_500_naming_the_member(live: str) -> None:
    answer = predict(live, "iris-ensemble-strict", [PASSING[0], BREAKING])
    assert answer.status_code == 500, answer.text
    error = answer.json()["error"]
    assert "ensemble member 'brittle' failed" in error
    assert "petal_length above 6 is out of range" in error
    assert predict(live, "iris-ensemble-strict", PASSING).status_code == 200  # rows it can answer


def _sample(metrics: str, name: str) -> float:
    """The value of ``name`` for ``iris-ensemble`` in the /metrics text."""
    match = re.search(rf'^{name}\{{model="iris-ensemble"[^}}]*\}} (\S+)$', metrics, re.M)
    assert match, f"{name} for iris-ensemble not in /metrics"
    return float(match.group(1))
