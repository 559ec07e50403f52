"""The OpenAPI document and the docs page: valid, complete, honest, cached, offline.

The snapshot lives in ``snapshots/openapi.json``. After a deliberate change to the
document, rewrite it with ``ROOST_UPDATE_SNAPSHOTS=1 pytest tests/serving/test_openapi.py``
and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from starlette.applications import Starlette
from starlette.routing import Match, Route
from starlette.testclient import TestClient

import roost.serving.openapi as openapi
from roost.serving.openapi import build_document
from roost.store import Registry

SNAPSHOT = Path(__file__).parent / "snapshots" / "openapi.json"
MODELS = ("iris", "digits")


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


def schema_validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for one schema of the document, its ``$ref``s resolved in the document."""
    return Draft202012Validator({**schema, "components": document["components"]})


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def request_examples(operation: dict[str, Any]) -> Iterator[tuple[str, Any, dict[str, Any]]]:
    """(media type, example, schema) for every example of the operation's request body."""
    content = operation.get("requestBody", {}).get("content", {})
    for media_type, media in content.items():
        if "example" in media:
            yield media_type, media["example"], media["schema"]
        for named in media.get("examples", {}).values():
            yield media_type, named["value"], media["schema"]


def test_openapi_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    validate(document)


@pytest.mark.parametrize("name", MODELS)
def test_openapi_documents_every_protocol_of_every_served_model(
    document: dict[str, Any], name: str
) -> None:
    paths = document["paths"]
    assert "post" in paths[f"/v1/models/{name}:predict"]
    assert "get" in paths[f"/v1/models/{name}"]
    for prefix in (f"/v2/models/{name}", f"/v2/models/{name}/versions/1"):
        assert "get" in paths[prefix]
        assert "get" in paths[f"{prefix}/ready"]
        assert "post" in paths[f"{prefix}/infer"]
    schemas = document["components"]["schemas"]
    for kind in ("Row", "Prediction", "V1Request", "V1Response", "V2InferenceRequest"):
        assert f"{name}.{kind}" in schemas
    tag = next(t for t in document["tags"] if t["name"] == name)
    assert tag["x-roost-model"]["predict"] == f"/v1/models/{name}:predict"


def test_openapi_documents_mlflow_for_the_default_model_only(document: dict[str, Any]) -> None:
    invocations = document["paths"]["/invocations"]["post"]
    assert "iris" in invocations["tags"]
    assert set(invocations["requestBody"]["content"]) == {"application/json", "text/csv"}
    formats = document["components"]["schemas"]["iris.MLflowRequest"]["oneOf"]
    assert [f["title"] for f in formats] == [
        "dataframe_split",
        "dataframe_records",
        "instances",
        "inputs",
    ]
    assert "digits.MLflowRequest" not in document["components"]["schemas"]
    for path in ("/ping", "/health", "/version", "/v1/models", "/v2", "/health/ready"):
        assert "get" in document["paths"][path]


#: routes the document leaves out on purpose
UNDOCUMENTED = {
    "/docs/{asset}",  # the docs page's script and stylesheet
    "/v2/{rest:path}",  # the V2 catch-all that answers unknown paths with a JSON 404
    "/v1/models/{name}:explain",  # always 501: roost has no explainers yet
    "/v1/models/{name}:{verb}",  # unknown verbs: a JSON 404
}


def test_openapi_documents_every_route_of_the_app(
    client: TestClient, document: dict[str, Any]
) -> None:
    """A route added without documentation fails here (trailing-slash twins aside)."""
    documented = [path for path, _, _ in operations(document)]
    for route in client.app.routes:  # type: ignore[attr-defined]
        if not isinstance(route, Route) or route.path in UNDOCUMENTED:
            continue
        if route.path.endswith("/") and route.path != "/":
            continue
        scopes = ({"type": "http", "path": p, "method": "GET", "root_path": ""} for p in documented)
        assert any(route.matches(s)[0] != Match.NONE for s in scopes), route.path


def test_openapi_typed_row_comes_from_the_signature(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["iris.Row"]["properties"]["sepal_length"] == {"type": "number"}
    assert schemas["digits.Row"] == {
        "type": "array",
        "items": {"type": "number"},
        "minItems": 8,
        "maxItems": 8,
    }
    label = schemas["iris.Prediction"]["properties"]["probabilities"]
    assert "setosa, versicolor, virginica" in label["description"]


def test_openapi_every_example_fits_its_schema(document: dict[str, Any]) -> None:
    checked = 0
    for _, _, operation in operations(document):
        for _, example, schema in request_examples(operation):
            schema_validator(document, schema).validate(example)
            checked += 1
        for response in operation["responses"].values():
            for media in response.get("content", {}).values():
                if "example" in media:
                    schema_validator(document, media["schema"]).validate(media["example"])
                    checked += 1
    assert checked >= 20


def answer_every_example(client: TestClient, document: dict[str, Any]) -> int:
    """Send each request example (and each GET); check the 200 fits the documented response."""
    answered = 0
    for path, method, operation in operations(document):
        ok = operation["responses"].get("200", {}).get("content", {}).get("application/json", {})
        calls = [
            {
                "content": ex if isinstance(ex, str) else json.dumps(ex),
                "headers": {"content-type": t},
            }
            for t, ex, _ in request_examples(operation)
        ]
        if method == "get" and path not in ("/", "/openapi.json"):
            calls = [{}]
        for call in calls:
            response = client.request(method.upper(), path, **call)
            assert response.status_code == 200, (path, response.text)
            if "schema" in ok:
                schema_validator(document, ok["schema"]).validate(response.json())
            if method == "get" and "example" in ok:
                assert response.json() == ok["example"], path
            answered += 1
    return answered


def test_openapi_every_example_gets_a_documented_200(
    client: TestClient, document: dict[str, Any]
) -> None:
    """Each request example really works, and the answer fits the documented response."""
    assert answer_every_example(client, document) >= 30


def double(rows: Any) -> Any:
    return rows["x"] * 2


def add_tensors(batch: Any) -> Any:
    return batch["a"].sum(axis=1) + batch["b"]


def describe(rows: Any) -> Any:
    return [{"n": float(v), "tags": ["x"]} for v in rows["x"]]


def test_openapi_examples_work_for_other_signatures(
    make_app: Callable[..., Starlette], serving_registry: Registry
) -> None:
    """One column and one output; two tensors; an object output: documented and working."""
    import numpy as np

    serving_registry.save(double, "doubler", example=[{"x": 1.0}, {"x": 2.5}])
    serving_registry.save(add_tensors, "adder", example={"a": np.ones((3, 2)), "b": np.ones(3)})
    serving_registry.save(describe, "describer", example=[{"x": 1.0, "s": "a"}])
    with TestClient(make_app(["doubler", "adder", "describer"])) as client:
        document = client.get("/openapi.json").json()
        validate(document)
        assert answer_every_example(client, document) >= 20
    schemas = document["components"]["schemas"]
    assert schemas["doubler.Prediction"] == {"type": ["number", "null"]}
    assert schemas["adder.Row"]["properties"]["a"]["maxItems"] == 2
    assert schemas["describer.Prediction"] == {}


def test_openapi_matches_its_snapshot(document: dict[str, Any]) -> None:
    actual = _normalised(document)
    text = json.dumps(actual, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("ROOST_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(text, encoding="utf-8")
    if not SNAPSHOT.is_file():
        pytest.fail(f"no snapshot at {SNAPSHOT}: ROOST_UPDATE_SNAPSHOTS=1 writes it")
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert actual == expected, "the document changed: ROOST_UPDATE_SNAPSHOTS=1 rewrites it"


def _normalised(value: Any) -> Any:
    """The document without what legitimately varies: roost's version, and the last digits
    of the example predictions (fitted coefficients differ across BLAS, scipy and
    scikit-learn builds: a probability of 0.9715 moved across a third-decimal boundary)."""
    if isinstance(value, dict):
        return {
            k: "<roost version>"
            if k == "version" and isinstance(v, str) and "." in v
            else _normalised(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_normalised(v) for v in value]
    if isinstance(value, float):
        return round(value, 2)
    return value


def test_openapi_response_is_deterministic(client: TestClient) -> None:
    first = client.get("/openapi.json").content
    assert client.get("/openapi.json").content == first
    keys = list(json.loads(first))
    assert keys == sorted(keys)


def test_openapi_is_built_once_per_set_of_served_versions(
    client: TestClient,
    serving_registry: Registry,
    iris_data: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Cached while nothing changes; rebuilt when a hot swap serves a new version."""
    from sklearn.tree import DecisionTreeClassifier

    builds: list[int] = []

    def counting(*args: Any, **kwargs: Any) -> Any:
        builds.append(1)
        return build_document(*args, **kwargs)

    monkeypatch.setattr(openapi, "build_document", counting)
    client.get("/openapi.json")
    client.get("/openapi.json")
    assert len(builds) == 1

    x, y = iris_data
    serving_registry.save(DecisionTreeClassifier(random_state=0).fit(x, y), "iris", example=x[:2])
    serving_registry.set_alias("iris", "production", 2)
    repository = client.app.state.roost.repository  # type: ignore[attr-defined]
    assert client.portal is not None
    assert client.portal.call(repository.refresh) == [("iris", 1, 2)]
    document = client.get("/openapi.json").json()
    assert len(builds) == 2
    assert "/v2/models/iris/versions/2/infer" in document["paths"]
    assert "/v2/models/iris/versions/1/infer" not in document["paths"]
    tag = next(t for t in document["tags"] if t["name"] == "iris")
    assert tag["x-roost-model"]["version"] == "2"


def test_openapi_shows_the_model_card(
    make_app: Callable[..., Starlette], serving_registry: Registry, iris_data: Any
) -> None:
    from sklearn.linear_model import LogisticRegression

    x, y = iris_data
    card = {
        "overview": "Tells iris species apart from four measurements.",
        "intended_use": "Teaching.",
        "limitations": ["three species only", "lab flowers"],
        "license": "CC0",
    }
    model = LogisticRegression(max_iter=1000).fit(x, y)
    serving_registry.save(model, "flowers", example=x[:2], card=card)
    with TestClient(make_app(["flowers"])) as client:
        document = client.get("/openapi.json").json()
    tag = next(t for t in document["tags"] if t["name"] == "flowers")
    assert "**Overview.** Tells iris species apart from four measurements." in tag["description"]
    assert "**Intended use.** Teaching." in tag["description"]
    assert "**Limitations.** three species only; lab flowers" in tag["description"]
    assert tag["x-roost-model"]["card"] == {k: card[k] for k in card if k != "license"}


def test_build_document_keeps_only_routed_paths(client: TestClient) -> None:
    repository = client.app.state.roost.repository  # type: ignore[attr-defined]
    document = build_document(
        repository.served(), "iris", is_routed=lambda path, method: path.startswith("/v1/")
    )
    assert sorted(document["paths"]) == [
        "/v1/feedback",
        "/v1/models",
        "/v1/models/digits",
        "/v1/models/digits/card",
        "/v1/models/digits/factsheet",
        "/v1/models/digits:predict",
        "/v1/models/iris",
        "/v1/models/iris/card",
        "/v1/models/iris/factsheet",
        "/v1/models/iris:predict",
    ]


def test_build_document_without_the_default_model_has_no_invocations(
    client: TestClient,
) -> None:
    repository = client.app.state.roost.repository  # type: ignore[attr-defined]
    digits = [m for m in repository.served() if m.name == "digits"]
    document = build_document(digits, default_name="iris")
    assert "/invocations" not in document["paths"]
    assert "/v1/models/digits:predict" in document["paths"]
    validate(document)


@pytest.mark.parametrize("path", ["/docs", "/docs/docs.js", "/docs/docs.css"])
def test_docs_page_loads_nothing_from_other_hosts(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    # no absolute URL, and no protocol-relative one ("//host/...") in an attribute or url()
    assert not re.search(r"https?://|(?:src|href)=[\"']//|url\(\s*[\"']?//", response.text)
    assert response.headers["content-security-policy"].startswith("default-src 'self'")


def test_docs_page_names_its_assets_and_the_document(client: TestClient) -> None:
    html = client.get("/docs").text
    assert 'src="docs/docs.js"' in html
    assert 'href="docs/docs.css"' in html
    assert 'href="openapi.json"' in html
    assert "openapi.json" in client.get("/docs/docs.js").text


def test_docs_unknown_asset_is_404(client: TestClient) -> None:
    response = client.get("/docs/secrets.txt")
    assert (response.status_code, response.json()) == (
        404,
        {"error": "no docs asset 'secrets.txt'"},
    )


def test_root_redirects_to_docs(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (307, "docs")
    assert client.get("/").url.path == "/docs"
