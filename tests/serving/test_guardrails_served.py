"""A guarded model served on a real port: every answer and log record says which rule fired."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from roost.compose import AllowedRange, Fallback, Guarded, Override
from roost.config import BatchingConfig, ServingConfig, StoreConfig, TelemetryConfig
from roost.serving.server import ServeSpec, app_from_spec
from roost.store import Registry
from roost.telemetry import open_sink

pytestmark = pytest.mark.integration

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
#: a plain setosa (nothing fires), a wide petal (the override), a wide sepal (the fallback)
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.3, 3.3, 6.0, 2.5], [5.7, 4.4, 1.5, 0.4]]
RULES = ["", "wide_petal", "wide_sepal,fallback"]
#: petal_length 11: the input rule that rejects refuses the whole request
REJECTED = [5.1, 3.5, 11.0, 0.2]
UNKNOWN = {"label": "unknown", "probabilities": [1 / 3, 1 / 3, 1 / 3]}
#: petal_length 6.9: the brittle model raises on any batch that holds it
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


def records(rows: list[list[float]]) -> list[dict[str, float]]:
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows]


@pytest.fixture(scope="module")
def guarded_home(tmp_path_factory: pytest.TempPathFactory, serving_registry_home: Path) -> Path:
    """The serving registry plus ``iris-guarded:1``: ``iris:1`` with three rules and a
    fallback value."""
    from sklearn.datasets import load_iris

    home = tmp_path_factory.mktemp("guarded") / "home"
    shutil.copytree(serving_registry_home, home)
    registry = Registry(home)
    x = load_iris(as_frame=True).data.set_axis(COLUMNS, axis=1)
    iris = registry.model("iris:1")
    iris.load()  # the override sets `label`: it must hold strings, not class numbers
    assert {s.name: s.dtype for s in iris.signature.outputs}["label"] == "string"
    rules = [
        AllowedRange("petal_length", max=10, action="reject"),
        AllowedRange("sepal_width", max=4.2, name="wide_sepal"),  # answered by the fallback
        Override(when="petal_width > 2.4", set={"label": "needs_review"}, name="wide_petal"),
    ]
    guarded = Guarded(iris, rules, Fallback(value=UNKNOWN))
    registry.save(guarded, "iris-guarded", example=x[:5])
    return home


@pytest.fixture
def live(guarded_home: Path, tmp_path: Path, serve_live: Any) -> Iterator[str]:
    """``iris-guarded:1`` on a real port, logging to a SQLite file, batching for 20 ms."""
    spec = ServeSpec(
        ("iris-guarded:1",),
        StoreConfig(home=guarded_home),
        ServingConfig(batching=BatchingConfig(max_batch_size=64, max_wait_ms=20)),
        telemetry=TelemetryConfig(url=str(tmp_path / "telemetry.sqlite3")),
    )
    with serve_live(app_from_spec(spec)) as url:
        yield url


@pytest.fixture(scope="module")
def expected(guarded_home: Path) -> list[Any]:
    """What the registered composite answers for ``ROWS`` in library mode."""
    want: list[Any] = Registry(guarded_home).load("iris-guarded:1").predict(records(ROWS))
    assert [row["rules"] for row in want] == RULES
    assert want[1]["label"] == "needs_review"
    assert want[2] == {**UNKNOWN, "rules": "wide_sepal,fallback"}
    return want


def v2_inputs(rows: list[list[float]]) -> list[dict[str, Any]]:
    return [
        {"name": column, "shape": [len(rows)], "datatype": "FP64", "data": [r[i] for r in rows]}
        for i, column in enumerate(COLUMNS)
    ]


def test_v1_v2_and_mlflow_answers_name_the_rule_that_fired(live: str, expected: Any) -> None:
    v1 = httpx.post(f"{live}/v1/models/iris-guarded:predict", json={"instances": records(ROWS)})
    assert v1.status_code == 200, v1.text
    assert v1.json()["predictions"] == expected

    mlflow = httpx.post(f"{live}/invocations", json={"dataframe_records": records(ROWS)})
    assert mlflow.status_code == 200, mlflow.text
    assert mlflow.json()["predictions"] == expected

    v2 = httpx.post(f"{live}/v2/models/iris-guarded/infer", json={"inputs": v2_inputs(ROWS)})
    assert v2.status_code == 200, v2.text
    outputs = {output["name"]: output for output in v2.json()["outputs"]}
    assert outputs["rules"] == {"name": "rules", "datatype": "BYTES", "shape": [3], "data": RULES}
    assert outputs["label"]["data"] == [row["label"] for row in expected]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/models/iris-guarded:predict", {"instances": records([REJECTED])}),
        ("/v2/models/iris-guarded/infer", {"inputs": v2_inputs([REJECTED])}),
        ("/invocations", {"dataframe_records": records([REJECTED])}),
    ],
    ids=["v1", "v2", "mlflow"],
)
def test_reject_rule_is_a_400_naming_the_rule_and_field(live: str, path: str, body: Any) -> None:
    response = httpx.post(f"{live}{path}", json=body)
    assert response.status_code == 400, response.text
    assert "rule 'range_petal_length': input 'petal_length' expected <= 10" in response.text


def test_rejected_request_fails_alone_among_concurrent_good_ones(live: str, expected: Any) -> None:
    """Requests merge into one batch after each is validated, so the one at fault fails alone."""
    path = "/v1/models/iris-guarded:predict"

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=live) as client:
            bad = client.post(path, json={"instances": records([ROWS[0], REJECTED])})
            good = [client.post(path, json={"instances": records(ROWS)}) for _ in range(5)]
            return list(await asyncio.gather(bad, *good))

    bad, *good = asyncio.run(burst())
    assert bad.status_code == 400, bad.text
    assert bad.json()["error"] == (
        "rule 'range_petal_length': input 'petal_length' expected <= 10, got 11.0 (row 1)"
    )
    assert [answer.status_code for answer in good] == [200] * 5
    assert all(answer.json()["predictions"] == expected for answer in good)


def test_telemetry_records_the_rules_and_the_path(live: str, tmp_path: Path) -> None:
    ids = {}
    for name, rows in (("calm", ROWS[:1]), ("all", ROWS), ("sepal", ROWS[2:])):
        answer = httpx.post(
            f"{live}/v1/models/iris-guarded:predict", json={"instances": records(rows)}
        )
        assert answer.status_code == 200, answer.text
        ids[answer.headers["x-prediction-id"]] = name
    sink = open_sink(str(tmp_path / "telemetry.sqlite3"))
    try:
        for _ in range(100):  # the log writes every half second
            logged = {r.prediction_id: r for r in sink.predictions()}
            if set(ids) <= set(logged):
                break
            asyncio.run(asyncio.sleep(0.1))
    finally:
        sink.close()
    by_name = {name: logged[i] for i, name in ids.items()}
    assert [row["rules"] for row in by_name["all"].outputs] == RULES
    assert {name: record.path for name, record in by_name.items()} == {
        "calm": ["model"],
        "all": ["model", "fallback", "rule:wide_sepal", "rule:wide_petal"],
        "sepal": ["fallback", "rule:wide_sepal"],
    }


@pytest.fixture(scope="module")
def brittle_home(
    tmp_path_factory: pytest.TempPathFactory, serving_registry_home: Path, iris_data: Any
) -> Path:
    """The serving registry plus ``brittle:1`` and, over it, ``brittle-guarded:1`` (no
    rules, a fallback value)."""
    from sklearn.linear_model import LogisticRegression

    home = tmp_path_factory.mktemp("brittle") / "home"
    shutil.copytree(serving_registry_home, home)
    registry = Registry(home)
    x, y = iris_data
    signature = registry.load("iris:1").signature  # label and probabilities, as iris:1
    brittle = Brittle(LogisticRegression(max_iter=1000).fit(x, y))
    registry.save(brittle, "brittle", example=x[:5], signature=signature)
    guarded = Guarded(registry.model("brittle:1"), [], Fallback(value=UNKNOWN))
    registry.save(guarded, "brittle-guarded", example=x[:5])
    return home


def test_row_the_model_fails_on_leaves_other_requests_in_the_batch_their_answers(
    brittle_home: Path, serve_live: Any
) -> None:
    """Two clients' requests merge into one batch (50 ms); the model raises on it, so each
    row is tried alone and only the row it fails on is answered by the fallback."""
    clean, breaking = ROWS[:2], [ROWS[2], BREAKING]
    model = Registry(brittle_home).load("brittle:1")
    answers = model.predict(records([*clean, ROWS[2]]))
    spec = ServeSpec(
        ("brittle-guarded:1",),
        StoreConfig(home=brittle_home),
        ServingConfig(batching=BatchingConfig(max_batch_size=64, max_wait_ms=50)),
    )
    path = "/v1/models/brittle-guarded:predict"

    async def together(url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url) as client:
            requests = (
                client.post(path, json={"instances": records(rows)}) for rows in (clean, breaking)
            )
            return list(await asyncio.gather(*requests))

    with serve_live(app_from_spec(spec)) as url:
        first, second = asyncio.run(together(url))
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    got = [*first.json()["predictions"], *second.json()["predictions"]]
    want = [*({**row, "rules": ""} for row in answers), {**UNKNOWN, "rules": "fallback"}]
    assert [(row["label"], row["rules"]) for row in got] == [
        (row["label"], row["rules"]) for row in want
    ]
    for row, expected in zip(got, want, strict=True):  # a row run alone may differ in the last bits
        assert row["probabilities"] == pytest.approx(expected["probabilities"])
