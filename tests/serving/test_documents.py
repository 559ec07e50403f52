"""``GET /v1/models/{name}/card`` and ``/factsheet``: formats, errors, caching, live facts.

The served tests run a real server on a 127.0.0.1 port and call it with httpx.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from roost.cards.evaluate import evaluate
from roost.cards.history import EvaluationHistory
from roost.config import ServingConfig, StoreConfig, TelemetryConfig
from roost.serving import _live
from roost.serving.documents import NotAcceptable, negotiate
from roost.serving.errors import BadRequest
from roost.serving.metrics import Metrics
from roost.serving.server import ServeSpec, app_from_spec
from roost.store import Registry

ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
Serve = Callable[[Starlette], contextlib.AbstractContextManager[str]]


# ------------------------------------------------------------------ negotiation


@pytest.mark.parametrize(
    ("accept", "query", "expected"),
    [
        (None, None, "json"),
        ("", None, "json"),
        ("*/*", None, "json"),
        ("application/json", None, "json"),
        ("text/html", None, "html"),
        ("text/markdown", None, "md"),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", None, "html"),
        ("text/markdown, */*", None, "md"),
        ("application/json;q=0.5, text/markdown", None, "md"),
        ("text/*", None, "html"),
        ("text/*;q=0, */*", None, "json"),
        ("TEXT/HTML", None, "html"),
        ("text/html", "md", "md"),
        ("image/png", "json", "json"),
    ],
    ids=[
        "absent",
        "empty",
        "any",
        "json",
        "html",
        "markdown",
        "browser",
        "named-beats-wildcard",
        "higher-q-wins",
        "text-wildcard",
        "zero-q-excludes",
        "case-insensitive",
        "query-overrides",
        "query-overrides-unacceptable",
    ],
)
def test_negotiate_picks_the_format(accept: str | None, query: str | None, expected: str) -> None:
    assert negotiate(accept, query) == expected


@pytest.mark.parametrize(
    "accept", ["image/png", "application/json;q=0", "text/plain", "application/json;q=nope"]
)
def test_negotiate_nothing_acceptable_raises(accept: str) -> None:
    with pytest.raises(NotAcceptable, match="expected one of application/json"):
        negotiate(accept)


def test_negotiate_unknown_format_query_is_a_bad_request() -> None:
    with pytest.raises(BadRequest, match="format: expected one of json, html, md, got 'pdf'"):
        negotiate("*/*", "pdf")


# ------------------------------------------------------------------- live facts


INF = float("inf")


@pytest.mark.parametrize(
    ("q", "buckets", "expected"),
    [
        (0.5, [(0.1, 10), (0.2, 20), (0.5, 30), (INF, 30)], 0.15),
        (0.99, [(0.1, 10), (0.2, 20), (0.5, 30), (INF, 30)], 0.491),
        (0.25, [(0.1, 10), (0.2, 20), (0.5, 30), (INF, 30)], 0.075),
        (0.9, [(0.1, 5), (INF, 10)], 0.1),
        (0.5, [(INF, 10), (0.2, 20), (0.1, 10)], 0.1),
    ],
    ids=["middle-bucket", "last-finite-bucket", "first-bucket", "in-inf-bucket", "unsorted"],
)
def test_histogram_quantile_interpolates_as_prometheus_does(
    q: float, buckets: list[tuple[float, float]], expected: float
) -> None:
    assert _live.histogram_quantile(q, buckets) == pytest.approx(expected)


@pytest.mark.parametrize(
    "buckets",
    [[(0.1, 0), (INF, 0)], [(0.1, 3), (0.2, 5)], []],
    ids=["no-observations", "no-inf-bucket", "no-buckets"],
)
def test_histogram_quantile_without_an_answer_is_none(buckets: list[tuple[float, float]]) -> None:
    assert _live.histogram_quantile(0.5, buckets) is None


def served_stub(name: str = "iris", version: int = 1, since: float = 100.0) -> Any:
    return SimpleNamespace(name=name, version=version, serving_since=since)


def test_live_facts_count_only_the_version_asked_about() -> None:
    metrics = Metrics()
    for _ in range(3):
        metrics.request_done("iris", "1", "v1", 200, 0.004)
    metrics.request_done("iris", "1", "v2", 503, 0.002)
    metrics.request_done("iris", "1", "v1", 404, 0.001)  # a client error: not an error here
    metrics.request_done("iris", "2", "v1", 500, 0.004)  # another version
    metrics.request_done("digits", "1", "v1", 200, 0.004)  # another model
    metrics.flush()
    live = _live.live_facts(_live.collect(metrics), served_stub(), telemetry=False, now=110.0)
    assert (live.requests, live.errors) == (5, 1)
    assert live.error_rate == pytest.approx(0.2)
    assert live.throughput_rps == pytest.approx(0.5)
    assert live.serving_since == "1970-01-01T00:01:40+00:00"
    assert set(live.latency_ms) == {"p50", "p95", "p99"}
    assert 2.5 <= live.latency_ms["p50"] <= 5.0  # in the (2.5 ms, 5 ms] bucket
    assert (live.telemetry, live.production, live.drift) == (False, None, None)


def test_live_facts_before_any_request_are_empty() -> None:
    live = _live.live_facts(_live.collect(Metrics()), served_stub(), telemetry=True, now=110.0)
    assert (live.requests, live.errors, live.throughput_rps) == (0, 0, None)
    assert (live.latency_ms, live.production, live.drift) == ({}, None, None)


@pytest.mark.parametrize(
    ("gauge", "expected"),
    [("accuracy", {"accuracy": 0.9, "scored_rows": 40}), ("mae", {"mae": 0.9, "scored_rows": 40})],
)
def test_live_facts_read_production_quality_when_telemetry_is_on(
    gauge: str, expected: dict[str, Any]
) -> None:
    metrics = Metrics()
    getattr(metrics.quality, gauge).labels("iris", "1").set(0.9)
    metrics.quality.scored_rows.labels("iris", "1").set(40)
    metrics.quality.drift.labels("iris", "1", "petal_length").set(0.31)
    metrics.quality.drift.labels("iris", "2", "petal_length").set(0.05)  # another version
    families = _live.collect(metrics)
    on = _live.live_facts(families, served_stub(), telemetry=True, now=110.0)
    assert on.production == expected
    assert on.drift == pytest.approx({"petal_length": 0.31})
    off = _live.live_facts(families, served_stub(), telemetry=False, now=110.0)
    assert (off.production, off.drift) == (None, None)


# ----------------------------------------------------------- served, over HTTP


def petal_size(x: Any) -> Any:
    return (x["petal_length"] >= 2.5).map({True: "large", False: "small"}).rename("petal_size")


def save_evaluation(registry: Registry, ref: str, x: Any, y: Any, seed: int = 0) -> str:
    """Evaluate ``ref`` on the iris rows, sliced by petal size; return the evaluation's id."""
    model = registry.load(ref)
    evaluation = evaluate(
        model,
        x.assign(petal_size=petal_size(x)),
        y,
        slice_by=["petal_size"],
        n_bootstrap=20,
        seed=seed,
        source="iris.csv",
    )
    EvaluationHistory(registry).save(evaluation)
    return evaluation.id


@pytest.fixture
def evaluated(serving_registry: Registry, iris_data: Any) -> Registry:
    """The serving registry with one evaluation of iris:1 (the production version)."""
    x, y = iris_data
    save_evaluation(serving_registry, "iris:1", x, y)
    return serving_registry


@pytest.fixture
def http(
    evaluated: Registry, make_app: Callable[..., Starlette], serve_live: Serve
) -> Iterator[httpx.Client]:
    """An httpx client of a live server of iris@production (evaluated) and digits:1."""
    with serve_live(make_app()) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client


@pytest.mark.integration
def test_card_as_json_has_the_model_card_toolkit_fields(http: httpx.Client) -> None:
    response = http.get("/v1/models/iris/card", headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    for key in ("model_details", "model_parameters", "quantitative_analysis", "roost"):
        assert key in body
    assert body["model_details"]["name"] == "iris"
    assert body["quantitative_analysis"]["performance_metrics"]
    assert response.headers["vary"] == "Accept"
    assert response.headers["cache-control"] == "no-cache"


@pytest.mark.integration
def test_card_as_html_is_one_page_with_plots(http: httpx.Client) -> None:
    response = http.get("/v1/models/iris/card", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<svg" in response.text  # the per-slice metrics, from the evaluation's slices
    assert "petal_size" in response.text
    assert "default-src 'none'" in response.headers["content-security-policy"]


@pytest.mark.integration
def test_card_as_markdown_has_front_matter(http: httpx.Client) -> None:
    response = http.get("/v1/models/iris/card", headers={"Accept": "text/markdown"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    assert response.text.startswith("---\n")
    assert "iris" in response.text


@pytest.mark.integration
@pytest.mark.parametrize(
    ("headers", "path", "media_type"),
    [
        ({}, "/v1/models/iris/card", "application/json"),
        ({"Accept": "*/*"}, "/v1/models/iris/card/", "application/json"),
        ({"Accept": "text/html"}, "/v1/models/iris/card?format=md", "text/markdown"),
        ({"Accept": "text/markdown"}, "/v1/models/iris/factsheet?format=html", "text/html"),
    ],
    ids=["no-accept", "any-trailing-slash", "query-over-accept", "factsheet-query"],
)
def test_document_format_defaults_to_json_and_the_query_overrides(
    http: httpx.Client, headers: dict[str, str], path: str, media_type: str
) -> None:
    http.headers.pop("accept", None)  # httpx sends */* unless told otherwise
    response = http.get(path, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media_type


@pytest.mark.parametrize("kind", ["card", "factsheet"])
@pytest.mark.integration
def test_document_nothing_acceptable_is_406(http: httpx.Client, kind: str) -> None:
    response = http.get(f"/v1/models/iris/{kind}", headers={"Accept": "image/png"})
    assert response.status_code == 406
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "error": "Accept: expected one of application/json, text/html, text/markdown "
        "(or ?format=json, html or md), got 'image/png'"
    }


@pytest.mark.parametrize("kind", ["card", "factsheet"])
@pytest.mark.integration
def test_document_unknown_model_is_404_as_for_predict(http: httpx.Client, kind: str) -> None:
    response = http.get(f"/v1/models/nope/{kind}")
    predicted = http.post("/v1/models/nope:predict", json={"instances": [ROW]})
    assert response.status_code == predicted.status_code == 404
    assert response.json() == predicted.json()


@pytest.mark.integration
def test_document_bad_format_is_400_and_wrong_method_405(http: httpx.Client) -> None:
    bad = http.get("/v1/models/iris/card?format=pdf")
    assert bad.status_code == 400
    assert "expected one of json, html, md" in bad.json()["error"]
    wrong = http.post("/v1/models/iris/factsheet")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET, HEAD"


@pytest.mark.integration
def test_card_etag_answers_304_until_a_new_evaluation(
    http: httpx.Client, evaluated: Registry, iris_data: Any
) -> None:
    first = http.get("/v1/models/iris/card")
    etag = first.headers["etag"]
    again = http.get("/v1/models/iris/card", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    weak = http.get("/v1/models/iris/card", headers={"If-None-Match": f'"other", W/{etag}'})
    assert weak.status_code == 304
    html = http.get("/v1/models/iris/card?format=html", headers={"If-None-Match": etag})
    assert html.status_code == 200  # another representation, another tag
    assert html.headers["etag"] != etag

    x, y = iris_data
    newer = save_evaluation(evaluated, "iris:1", x, y, seed=1)
    changed = http.get("/v1/models/iris/card", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert newer in changed.headers["etag"]


@pytest.mark.integration
def test_factsheet_is_never_cached(http: httpx.Client) -> None:
    response = http.get("/v1/models/iris/factsheet")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert "etag" not in response.headers


@pytest.mark.integration
def test_factsheet_live_facts_follow_the_requests_sent(http: httpx.Client) -> None:
    n = 25
    for _ in range(n):
        assert http.post("/v1/models/iris:predict", json={"instances": [ROW]}).is_success
    http.post("/v1/models/iris:predict", json={"instances": [{"sepal_length": "x"}]})  # a 400
    body = http.get("/v1/models/iris/factsheet").json()
    live = body["live"]
    assert live["requests"] >= n + 1
    assert live["errors"] == 0  # only 5xx count as errors
    assert set(live["latency_ms"]) == {"p50", "p95", "p99"}
    assert 0 < live["latency_ms"]["p50"] <= live["latency_ms"]["p95"] <= live["latency_ms"]["p99"]
    assert live["throughput_rps"] > 0
    assert live["telemetry"] is False
    assert (live["production"], live["drift"]) == (None, None)
    sources = {fact["source"] for section in body["sections"] for fact in section["facts"]}
    assert sources >= {"measured", "declared", "live"}
    digits = http.get("/v1/models/digits/factsheet").json()["live"]
    assert digits["requests"] < n  # each model counts its own


@pytest.mark.integration
def test_factsheet_shows_production_accuracy_and_drift_with_telemetry(
    serving_registry: Registry, tmp_path: Path, iris_data: Any, serve_live: Serve
) -> None:
    """Half the feedback says the prediction was wrong: the factsheet says 0.5."""
    from sklearn.linear_model import LogisticRegression

    x, y = iris_data
    model = LogisticRegression(max_iter=500).fit(x, y)
    serving_registry.save(model, "iris", example=x[:5], data={"train": (x, y)})
    serving_registry.set_alias("iris", "production", 2)
    spec = ServeSpec(
        ("iris@production",),
        StoreConfig(home=serving_registry.home),
        ServingConfig(),
        telemetry=TelemetryConfig(url=str(tmp_path / "telemetry.sqlite3")),
    )
    app = app_from_spec(spec)
    with serve_live(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        before = http.get("/v1/models/iris/factsheet").json()["live"]
        assert before["telemetry"] is True
        assert before["production"] is None  # no feedback yet
        for i, row in enumerate(x.assign(petal_length=x["petal_length"] + 3.0).to_dict("records")):
            answer = http.post("/v1/models/iris:predict", json={"instances": [row]})
            label = answer.json()["predictions"][0]["label"]
            truth = label if i % 2 == 0 else f"not-{label}"
            feedback = {"prediction_id": answer.headers["x-prediction-id"], "truth": truth}
            assert http.post("/v1/feedback", json=feedback).is_success
        # what the quality task does every 30 s, done now
        state = app.state.roost
        assert state.telemetry.log.flush(10)
        recent = {name: list(records) for name, records in state.telemetry.recent.items()}
        state.metrics.quality.update(state.repository.served(), recent, time.time())
        live = http.get("/v1/models/iris/factsheet").json()["live"]
        page = http.get("/v1/models/iris/factsheet", headers={"Accept": "text/html"}).text
    assert live["production"] == {"accuracy": pytest.approx(0.5), "scored_rows": len(x)}
    assert live["drift"]["petal_length"] > 0.25
    assert live["requests"] >= len(x)  # the predictions (feedback names no model)
    assert "0.500" in page


def test_openapi_documents_both_routes_of_each_model(evaluated: Registry, make_app: Any) -> None:
    with TestClient(make_app()) as client:
        paths = client.get("/openapi.json").json()["paths"]
    for name in ("iris", "digits"):
        card = paths[f"/v1/models/{name}/card"]["get"]
        assert set(card["responses"]) >= {"200", "304", "404", "406"}
        assert set(card["responses"]["200"]["content"]) == {
            "application/json",
            "text/html",
            "text/markdown",
        }
        factsheet = paths[f"/v1/models/{name}/factsheet"]["get"]
        assert "304" not in factsheet["responses"]
        assert [p["name"] for p in factsheet["parameters"]] == ["format"]
