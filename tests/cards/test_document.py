"""Model cards and factsheets: sections, where each fact comes from, completeness."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from roost.cards.document import (
    MISSING,
    REQUIRED_FIELDS,
    Document,
    Fact,
    factsheet,
    format_value,
    model_card,
    render,
)
from roost.cards.evaluation import Evaluation, MetricValue, SliceResult
from roost.cards.live import LiveFacts
from roost.errors import ConfigError
from roost.store import ModelVersion, Registry

#: a card with three of the fourteen required fields
PARTIAL_CARD = {
    "overview": "Tells iris species apart from four measurements.",
    "owners": [{"name": "ml-team", "contact": "ml@example.org"}],
    "license": "Apache-2.0",
    "tags": ["flowers"],
}
FULL_CARD: dict[str, Any] = {
    **{field: f"the {field.replace('_', ' ')}" for field in REQUIRED_FIELDS},
    "owners": ["ml-team"],
    "ethical_considerations": [{"name": "no people data", "mitigation": "none needed"}],
}
MITCHELL = [
    "Model Details",
    "Intended Use",
    "Factors",
    "Metrics",
    "Evaluation Data",
    "Training Data",
    "Quantitative Analyses",
    "Ethical Considerations",
    "Caveats and Recommendations",
    "Interface",
]


@pytest.fixture(scope="module")
def iris() -> tuple[Any, Any, Any]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(as_frame=True, return_X_y=True)
    return LogisticRegression(max_iter=1000).fit(x, y), x, y


def save(registry: Registry, iris: tuple[Any, Any, Any], card: dict[str, Any]) -> ModelVersion:
    clf, x, y = iris
    data = {"train": (x, y), "test": (x[:30], y[:30])}
    return registry.save(clf, "iris", example=x[:3], data=data, card=card)


def metric(name: str, value: float | None, width: float = 0.03) -> MetricValue:
    if value is None:
        return MetricValue(name, None)
    return MetricValue(name, value, round(value - width, 4), round(min(value + width, 1.0), 4))


def evaluation_of(
    version: ModelVersion, accuracy: float = 0.96, created_at: str = "2026-11-28T08:15:00+00:00"
) -> Evaluation:
    """A hand-made classification evaluation with two slices, a confusion matrix and bins."""
    return Evaluation(
        id=f"{created_at[:10].replace('-', '')}T081500Z-{int(accuracy * 100)}",
        model=version.name,
        version=version.version,
        digest=version.digest,
        created_at=created_at,
        task="classification",
        data={"source": "test.csv", "n_rows": 150, "sha256": "ab" * 32},
        label="species",
        confidence=0.95,
        n_bootstrap=200,
        seed=0,
        overall=(metric("accuracy", accuracy), metric("f1", 0.95), metric("roc_auc", None)),
        slices=(
            SliceResult("petal", "wide", 50, (metric("accuracy", 1.0), metric("f1", 1.0))),
            SliceResult("petal", "narrow", 100, (metric("accuracy", 0.94), metric("f1", 0.93))),
        ),
        confusion={"labels": [0, 1, 2], "matrix": [[50, 0, 0], [0, 47, 3], [0, 2, 48]]},
        calibration=[
            {"lower": 0.5, "upper": 0.75, "confidence": 0.66, "accuracy": 0.6, "n_rows": 10},
            {"lower": 0.75, "upper": 1.0, "confidence": 0.95, "accuracy": 0.97, "n_rows": 140},
        ],
    )


def card_of(registry: Registry, version: ModelVersion, evaluations: list[Evaluation]) -> Document:
    package = registry.path(version)
    example = json.loads((package / "examples" / "input_example.json").read_text("utf-8"))
    return model_card(
        registry.metadata(version), evaluations, example=example, digest=version.digest
    )


@pytest.fixture
def version(registry: Registry, iris: tuple[Any, Any, Any]) -> ModelVersion:
    return save(registry, iris, PARTIAL_CARD)


@pytest.fixture
def card(registry: Registry, version: ModelVersion) -> Document:
    return card_of(registry, version, [evaluation_of(version)])


def fact(document: Document, section: str, label: str) -> Fact:
    return next(f for f in document.section(section).facts if f.label == label)


# ---------------------------------------------------------------- model card


def test_model_card_sections_follow_mitchell_then_interface(card: Document) -> None:
    assert [s.title for s in card.sections] == MITCHELL
    assert card.title == "Model card: iris v1"


@pytest.mark.parametrize(
    ("section", "label", "source", "key"),
    [
        ("model_details", "Name", "measured", "name"),
        ("model_details", "Version", "measured", "version"),
        ("model_details", "Package digest", "measured", "digest"),
        ("model_details", "Algorithm", "measured", "training.algorithm"),
        ("model_details", "Parameters", "measured", "training.params"),
        ("model_details", "Code commit", "measured", "provenance.code"),
        ("model_details", "Overview", "declared", "card.overview"),
        ("model_details", "Tags", "declared", "card.tags"),
        ("intended_use", "Intended use", "declared", "card.intended_use"),
        ("training_data", "Train set", "measured", "provenance.data.train"),
        ("evaluation_data", "Test set", "measured", "provenance.data.test"),
        ("evaluation_data", "Evaluated on", "measured", "evaluation.data"),
        ("quantitative_analyses", "accuracy", "measured", "metrics.accuracy"),
        ("interface", "Signature", "measured", "signature.kind"),
    ],
)
def test_model_card_marks_where_each_fact_comes_from(
    card: Document, section: str, label: str, source: str, key: str
) -> None:
    found = fact(card, section, label)
    assert (found.source, found.key) == (source, key)


def test_model_card_holds_no_live_fact(card: Document) -> None:
    assert {f.source for _, f in card.facts()} == {"measured", "declared"}


def test_model_card_measured_values_come_from_the_package(
    card: Document, version: ModelVersion
) -> None:
    assert fact(card, "model_details", "Package digest").value == version.digest
    assert fact(card, "training_data", "Train set").value == {
        "n_rows": 150,
        "x_sha256": card.metadata["provenance"]["data"][0]["x_sha256"],
        "y_rows": 150,
        "y_sha256": card.metadata["provenance"]["data"][0]["y_sha256"],
        "columns": 4,
    }
    assert fact(card, "quantitative_analyses", "accuracy").value == {
        "value": 0.96,
        "lower": 0.93,
        "upper": 0.99,
    }


def test_model_card_completeness_and_missing_are_exact(card: Document) -> None:
    assert card.completeness == round(3 / 14, 4)
    assert card.missing == (
        "intended_use",
        "out_of_scope",
        "users",
        "factors",
        "limitations",
        "tradeoffs",
        "ethical_considerations",
        "caveats",
        "training_data",
        "evaluation_data",
        "monitoring",
    )


def test_missing_declared_fields_are_none_and_read_more_information_needed(card: Document) -> None:
    missing = {f.key for _, f in card.facts() if f.source == "declared" and f.value is None}
    assert missing == {f"card.{name}" for name in card.missing}
    assert fact(card, "caveats", "Limitations").value is None
    assert card.section("caveats").facts[1].label == "Limitations"
    assert MISSING == "[More information needed]"
    assert render(card, "md").count(MISSING) >= len(card.missing)


def test_optional_fields_are_left_out_unless_written(card: Document) -> None:
    labels = {f.label for _, f in card.facts()}
    assert "Tags" in labels
    assert not labels & {"References", "Citation", "Sensitive fields"}


def test_fully_declared_card_is_complete(registry: Registry, iris: tuple[Any, Any, Any]) -> None:
    version = save(registry, iris, FULL_CARD)
    card = card_of(registry, version, [])
    assert (card.completeness, card.missing) == (1.0, ())
    assert all(f.value is not None for _, f in card.facts() if f.source == "declared")


def test_blank_declared_field_counts_as_missing(
    registry: Registry, iris: tuple[Any, Any, Any]
) -> None:
    version = save(registry, iris, {**FULL_CARD, "caveats": "  ", "users": []})
    card = card_of(registry, version, [])
    assert card.missing == ("users", "caveats")
    assert card.completeness == round(12 / 14, 4)


def test_model_card_uses_the_latest_evaluation_and_lists_the_history(
    registry: Registry, version: ModelVersion
) -> None:
    older = evaluation_of(version, 0.8, "2026-10-01T08:00:00+00:00")
    newer = evaluation_of(version, 0.96, "2026-11-28T08:15:00+00:00")
    card = card_of(registry, version, [newer, older])  # any order in
    assert card.evaluation == newer
    accuracy = fact(card, "quantitative_analyses", "accuracy").value
    assert isinstance(accuracy, dict)
    assert accuracy["value"] == 0.96
    history = next(t for t in card.section("quantitative_analyses").tables if "history" in t.title)
    assert [row[0] for row in history.rows] == [older.created_at, newer.created_at]
    assert [row[2] for row in history.rows] == ["test.csv", "test.csv"]
    assert [row[4] for row in history.rows] == ["accuracy", "accuracy"]


def test_model_card_per_slice_table_has_counts_and_intervals(card: Document) -> None:
    table = card.section("quantitative_analyses").tables[0]
    assert table.columns == ("slice", "rows", "accuracy", "f1", "roc_auc")
    assert table.rows[0][:2] == ("all rows", 150)
    assert table.rows[1][:3] == ("petal=wide", 50, {"value": 1.0, "lower": 0.97, "upper": 1.0})
    assert table.rows[2][4] is None  # no roc_auc measured on the slice
    figures = card.section("quantitative_analyses").figures
    assert figures == ("slices", "confusion", "calibration")


def test_model_card_without_evaluation_says_metrics_are_missing(
    registry: Registry, version: ModelVersion
) -> None:
    card = card_of(registry, version, [])
    assert card.evaluation is None
    assert fact(card, "metrics", "Metrics").value is None
    assert card.section("quantitative_analyses").figures == ()


def test_model_card_digest_defaults_to_the_evaluation(card: Document) -> None:
    again = model_card(card.metadata, list(card.evaluations))
    assert again.digest == card.evaluations[0].digest


# ----------------------------------------------------------------- factsheet

FACTSHEET = [
    "Purpose",
    "Intended domain",
    "Model information",
    "Inputs and outputs",
    "Training data",
    "Test data",
    "Performance",
    "Optimal and poor conditions",
    "Bias and fairness",
    "Domain shift and drift",
    "Lineage and provenance",
    "Evolution",
    "Contact and governance",
]
LIVE = LiveFacts(
    serving_since="2026-11-28T09:00:00+00:00",
    requests=200,
    errors=4,
    throughput_rps=2.5,
    latency_ms={"p50": 2.0, "p95": 7.5, "p99": 12.0},
    telemetry=True,
    production={"accuracy": 0.91, "scored_rows": 120},
    drift={"petal length (cm)": 0.31, "sepal width (cm)": 0.02, "sepal length (cm)": 0.12},
)


@pytest.fixture
def sheet(registry: Registry, version: ModelVersion) -> Document:
    return factsheet(registry.metadata(version), [evaluation_of(version)], live=LIVE)


def test_factsheet_sections_follow_factsheets_then_live(sheet: Document) -> None:
    assert [s.title for s in sheet.sections] == [*FACTSHEET, "Live"]
    assert sheet.kind == "factsheet"


def test_factsheet_without_live_facts_has_no_live_section(
    registry: Registry, version: ModelVersion
) -> None:
    sheet = factsheet(registry.metadata(version), [])
    assert [s.title for s in sheet.sections] == FACTSHEET
    assert "live" not in {f.source for _, f in sheet.facts()}


def test_factsheet_live_facts_are_marked_live(sheet: Document) -> None:
    live = {f.label: f for f in sheet.section("live").facts}
    assert {f.source for f in live.values()} == {"live"}
    assert live["Latency p95 (ms)"].value == 7.5
    assert live["Error rate"].value == 0.02
    assert live["Production accuracy"].value == 0.91
    assert live["Scored rows"].value == 120
    assert live["Drift"].value == "3 features: 1 major, 1 moderate, 1 stable"
    (drift,) = sheet.section("live").tables
    assert drift.source == "live"
    assert drift.rows == (
        ("petal length (cm)", 0.31, "major"),
        ("sepal length (cm)", 0.12, "moderate"),
        ("sepal width (cm)", 0.02, "stable"),
    )
    assert fact(sheet, "drift", "Live drift").source == "live"


def test_factsheet_names_the_best_and_worst_slices(sheet: Document) -> None:
    assert fact(sheet, "conditions", "Best slice").value == (
        "petal=wide: accuracy 1.000 (0.970–1.000), 50 rows"
    )
    assert fact(sheet, "conditions", "Worst slice").value == (
        "petal=narrow: accuracy 0.940 (0.910–0.970), 100 rows"
    )
    gap = fact(sheet, "fairness", "accuracy gap across petal")
    assert gap.source == "measured"
    assert str(gap.value).startswith("0.060 (best petal=wide")


def test_factsheet_regression_ranks_the_lowest_error_best(
    registry: Registry, version: ModelVersion
) -> None:
    regression = replace(
        evaluation_of(version),
        task="regression",
        overall=(MetricValue("mae", 2.0, 1.5, 2.5),),
        slices=(
            SliceResult("city", "A", 10, (MetricValue("mae", 3.0),)),
            SliceResult("city", "B", 10, (MetricValue("mae", 1.0),)),
        ),
        confusion=None,
        calibration=None,
        residuals={"edges": [-1.0, 0.0, 1.0], "counts": [4, 6], "mean": 0.1, "std": 0.5},
    )
    sheet = factsheet(registry.metadata(version), [regression])
    assert str(fact(sheet, "conditions", "Best slice").value).startswith("city=B: mae 1.000")
    assert sheet.section("performance").figures == ("slices", "residuals")


def test_factsheet_and_card_share_completeness(card: Document, sheet: Document) -> None:
    assert (sheet.completeness, sheet.missing) == (card.completeness, card.missing)


# -------------------------------------------------------------- values, errors


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, MISSING),
        (True, "yes"),
        (3, "3"),
        (0.25, "0.250"),
        (0.0004, "0.0004"),
        (12345.678, "12,345.7"),
        ({"value": 0.9, "lower": 0.85, "upper": 0.95}, "0.900 (0.850–0.950)"),
        ({"value": 1.0, "lower": None, "upper": None}, "1.000"),
        ({"value": None, "lower": None, "upper": None}, "—"),
        (["a", None], "a, —"),
        ({"rows": 3, "hash": None}, "rows: 3; hash: —"),
    ],
    ids=repr,
)
def test_format_value(value: Any, text: str) -> None:
    assert format_value(value) == text


def test_fact_refuses_an_unknown_source() -> None:
    with pytest.raises(ConfigError, match="source must be one of"):
        Fact("x", 1, "guessed")  # type: ignore[arg-type]


def test_render_refuses_an_unknown_format(card: Document) -> None:
    with pytest.raises(ConfigError, match="json, md, html, got 'pdf'"):
        render(card, "pdf")


def test_section_lookup_names_the_sections(card: Document) -> None:
    with pytest.raises(KeyError, match="model_details"):
        card.section("nope")
