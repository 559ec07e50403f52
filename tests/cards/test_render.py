"""Rendering documents: Model Card Toolkit JSON, Hugging Face Markdown, one HTML page."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import pytest
import yaml

from roost.cards.document import MISSING, Document, factsheet, model_card, render
from roost.cards.evaluation import Evaluation, MetricValue, SliceResult
from roost.cards.live import LiveFacts
from roost.store import ModelVersion, Registry

CARD = {
    "overview": "Tells iris species apart. <script>alert(1)</script>",
    "owners": [{"name": "ml-team", "contact": "ml@example.org"}, "Ada"],
    "license": "Apache-2.0",
    "intended_use": "Teaching.",
    "users": ["students", "teachers"],
    "limitations": "Three species only.",
    "ethical_considerations": {"no people data": "none needed"},
    "references": ["https://example.org/iris"],
    "tags": ["flowers"],
}


@pytest.fixture(scope="module")
def iris() -> tuple[Any, Any, Any]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(as_frame=True, return_X_y=True)
    return LogisticRegression(max_iter=1000).fit(x, y), x, y


@pytest.fixture
def version(registry: Registry, iris: tuple[Any, Any, Any]) -> ModelVersion:
    clf, x, y = iris
    return registry.save(clf, "iris", example=x[:2], data={"train": (x, y)}, card=CARD)


@pytest.fixture
def evaluation(version: ModelVersion) -> Evaluation:
    return Evaluation(
        id="20261128T081500Z-3f9a",
        model="iris",
        version=version.version,
        digest=version.digest,
        created_at="2026-11-28T08:15:00+00:00",
        task="classification",
        data={"source": "test.csv", "n_rows": 150, "sha256": "ab" * 32},
        label="species",
        confidence=0.95,
        n_bootstrap=200,
        seed=0,
        overall=(MetricValue("accuracy", 0.96, 0.93, 0.99), MetricValue("roc_auc", None)),
        slices=(
            SliceResult("region", "EU", 40, (MetricValue("f1", 0.91, 0.85, 0.97),)),
            SliceResult("region", "US", 110, (MetricValue("f1", float("nan")),)),
        ),
        confusion={"labels": ["a", "b"], "matrix": [[70, 5], [1, 74]]},
        calibration=[
            {"lower": 0.5, "upper": 1.0, "confidence": 0.9, "accuracy": 0.96, "n_rows": 150}
        ],
    )


@pytest.fixture
def card(registry: Registry, version: ModelVersion, evaluation: Evaluation) -> Document:
    example = json.loads(
        (registry.path(version) / "examples" / "input_example.json").read_text("utf-8")
    )
    metadata = registry.metadata(version)
    return model_card(metadata, [evaluation], example=example, digest=version.digest)


LIVE = LiveFacts("2026-11-28T09:00:00+00:00", 10, 0, 1.0, {"p50": 1.0}, True, None, {"x": 0.3})


# ---------------------------------------------------------------------- JSON


def test_json_card_has_model_card_toolkit_fields(card: Document) -> None:
    data = json.loads(render(card, "json"))
    assert data["schema_version"] == "0.0.2"
    details = data["model_details"]
    assert details["name"] == "iris"
    assert details["overview"] == CARD["overview"]
    assert details["version"] == {"name": "1", "date": card.metadata["created_at"]}
    assert details["owners"] == [{"name": "ml-team", "contact": "ml@example.org"}, {"name": "Ada"}]
    assert details["licenses"] == [{"identifier": "Apache-2.0"}]
    assert details["references"] == [{"reference": "https://example.org/iris"}]
    parameters = data["model_parameters"]
    assert parameters["model_architecture"].startswith(
        "sklearn.linear_model._logistic.LogisticRegression (scikit-learn "
    )
    assert [d["name"] for d in parameters["data"]] == ["train set", "evaluation: test.csv"]
    assert parameters["input_format_map"][0] == {"key": "sepal length (cm)", "value": "float64"}
    assert parameters["output_format_map"][1]["key"] == "probabilities"
    considerations = data["considerations"]
    assert considerations["users"] == [{"description": "students"}, {"description": "teachers"}]
    assert considerations["use_cases"] == [{"description": "Teaching."}]
    assert considerations["limitations"] == [{"description": "Three species only."}]
    assert considerations["ethical_considerations"] == [
        {"name": "no people data", "mitigation_strategy": "none needed"}
    ]
    assert "tradeoffs" not in considerations  # empty fields are left out, as MCT does


def test_json_performance_metrics_are_strings_with_slices_and_intervals(card: Document) -> None:
    metrics = json.loads(render(card, "json"))["quantitative_analysis"]["performance_metrics"]
    assert metrics == [
        {
            "type": "accuracy",
            "value": "0.96",
            "slice": "",
            "confidence_interval": {"lower_bound": "0.93", "upper_bound": "0.99"},
        },
        {
            "type": "f1",
            "value": "0.91",
            "slice": "region=EU",
            "confidence_interval": {"lower_bound": "0.85", "upper_bound": "0.97"},
        },
    ]  # roc_auc and the NaN f1 have no value, so no entry


def test_json_card_roost_block_has_completeness_and_every_fact(card: Document) -> None:
    roost = json.loads(render(card, "json"))["roost"]
    assert roost["completeness"] == card.completeness
    assert roost["missing"] == list(card.missing)
    assert len(roost["facts"]) == len(list(card.facts()))
    by_key = {f["key"]: f for f in roost["facts"]}
    assert by_key["card.overview"]["source"] == "declared"
    assert by_key["name"] == {
        "section": "model_details",
        "label": "Name",
        "value": "iris",
        "source": "measured",
        "key": "name",
    }
    assert by_key["card.monitoring"]["value"] is None
    assert next(r["protocol"] for r in roost["requests"]) == "KServe V1"


def test_json_round_trips_and_writes_no_nan(
    registry: Registry, version: ModelVersion, evaluation: Evaluation
) -> None:
    odd = replace(evaluation, overall=(MetricValue("accuracy", float("nan"), None, None),))
    card = model_card(registry.metadata(version), [odd])
    text = render(card, "json")
    assert "NaN" not in text
    assert json.loads(text) == json.loads(json.dumps(json.loads(text)))


def test_json_factsheet_is_sections_of_facts_with_sources(
    registry: Registry, version: ModelVersion, evaluation: Evaluation
) -> None:
    sheet = factsheet(registry.metadata(version), [evaluation], live=LIVE)
    data = json.loads(render(sheet, "json"))
    assert data["kind"] == "factsheet"
    assert [s["key"] for s in data["sections"]][-1] == "live"
    live = data["sections"][-1]
    assert {f["source"] for f in live["facts"]} == {"live"}
    assert data["live"]["requests"] == 10
    assert data["completeness"] == sheet.completeness


# ------------------------------------------------------------------ Markdown


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    assert text.startswith("---\n")
    head, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(head), body


def test_markdown_front_matter_parses_with_model_index(card: Document) -> None:
    meta, _ = split_front_matter(render(card, "md"))
    assert meta["license"] == "apache-2.0"
    assert meta["library_name"] == "scikit-learn"
    assert meta["tags"] == ["roost", "sklearn", "flowers"]
    assert meta["datasets"] == ["test.csv"]
    assert meta["metrics"] == ["accuracy", "roc_auc"]
    (entry,) = meta["model-index"]
    assert entry["name"] == "iris"
    (result,) = entry["results"]
    assert result["task"]["type"] == "tabular-classification"
    assert result["dataset"] == {"type": "test.csv", "name": "test.csv", "split": "test"}
    names = [(m["name"], m["type"], m["value"]) for m in result["metrics"]]
    assert names == [("accuracy", "accuracy", 0.96), ("f1 (region=EU)", "f1", 0.91)]


def test_markdown_body_has_sections_tags_and_missing_fields(card: Document) -> None:
    _, body = split_front_matter(render(card, "md"))
    headings = re.findall(r"^## (.+)$", body, re.M)
    assert headings == [s.title for s in card.sections]
    assert "- **Name** `measured`: iris" in body
    assert "- **Intended use** `declared`: Teaching." in body
    assert f"- **Monitoring** `declared`: {MISSING}" in body
    assert "| region=EU | 40 |" in body
    assert "```console\ncurl -s -X POST http://127.0.0.1:8000/v1/models/iris:predict" in body


def test_markdown_front_matter_without_license_or_evaluation(
    registry: Registry, iris: tuple[Any, Any, Any]
) -> None:
    clf, x, _ = iris
    bare = registry.save(clf, "bare", example=x[:1])
    meta, body = split_front_matter(render(model_card(registry.metadata(bare), []), "md"))
    assert "license" not in meta
    assert "model-index" not in meta
    assert "**Completeness:** 0%" in body


def test_markdown_factsheet_has_no_front_matter(
    registry: Registry, version: ModelVersion, evaluation: Evaluation
) -> None:
    text = render(factsheet(registry.metadata(version), [evaluation], live=LIVE), "md")
    assert text.startswith("# Factsheet: iris v1\n")
    assert "- **Requests** `live`: 10" in text


# ---------------------------------------------------------------------- HTML


def outside_code(page: str) -> str:
    """The page without its <pre> blocks (the curl examples, which name the server)."""
    return re.sub(r"<pre>.*?</pre>", "", page, flags=re.S)


def test_html_is_one_self_contained_page(card: Document) -> None:
    page = render(card, "html")
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    rest = outside_code(page)
    assert "http://" not in rest.replace("https://example.org/iris", "")
    assert "<script" not in page  # the overview's script tag is escaped
    assert "&lt;script&gt;" in page
    assert "<link" not in page
    assert "@import" not in page


def test_html_draws_the_plots_the_evaluation_has_data_for(card: Document) -> None:
    page = render(card, "html")
    assert page.count("<svg") == 3
    assert "accuracy overall and per slice" in page
    assert "confusion matrix" in page
    assert "calibration" in page


def test_html_shows_completeness_badge_and_sources(card: Document) -> None:
    page = render(card, "html")
    share = f"{card.completeness:.0%}"
    assert card.completeness == 0.5  # seven of the fourteen
    assert f'<span class="badge badge-partial">completeness {share} (7 of 14' in page
    assert '<span class="src src-declared">declared</span>' in page
    assert f'<span class="missing">{MISSING}</span>' in page
    assert [m for m in re.findall(r'<section id="([a-z_]+)">', page)] == [
        s.key for s in card.sections
    ]


def test_html_regression_card_draws_residuals(
    registry: Registry, version: ModelVersion, evaluation: Evaluation
) -> None:
    regression = replace(
        evaluation,
        task="regression",
        overall=(MetricValue("mae", 1.5, 1.0, 2.0),),
        slices=(),
        confusion=None,
        calibration=None,
        residuals={
            "edges": [-2.0, -1.0, 0.0, 1.0, 2.0],
            "counts": [1, 5, 6, 2],
            "mean": 0,
            "std": 1,
        },
    )
    page = render(model_card(registry.metadata(version), [regression]), "html")
    assert page.count("<svg") == 1
    assert "residuals: truth − prediction" in page


def test_html_factsheet_has_live_section(
    registry: Registry, version: ModelVersion, evaluation: Evaluation
) -> None:
    page = render(factsheet(registry.metadata(version), [evaluation], live=LIVE), "html")
    assert '<section id="live">' in page
    assert '<span class="src src-live">live</span>' in page
    assert "major" in page
