"""``roost card``: a version's model card or factsheet, printed or written to a file."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner, Result

from roost.cards.evaluation import Evaluation, MetricValue, SliceResult
from roost.cli import app
from roost.store import Registry

runner = CliRunner()


def invoke(home: Path, *args: str) -> Result:
    return runner.invoke(app, list(args), env={"ROOST_HOME": str(home)})


def write_evaluation(registry: Registry, ref: str = "iris:1") -> Evaluation:
    """An evaluation of ``ref``, stored where the evaluation history keeps it."""
    found = registry.resolve(ref)
    evaluation = Evaluation(
        id="20261128T081500Z-3f9a",
        model=found.name,
        version=found.version,
        digest=found.digest,
        created_at="2026-11-28T08:15:00+00:00",
        task="classification",
        data={"source": "test.csv", "n_rows": 150},
        label="target",
        confidence=0.95,
        n_bootstrap=200,
        seed=0,
        overall=(MetricValue("accuracy", 0.97, 0.94, 0.99),),
        slices=(SliceResult("band", "low", 50, (MetricValue("accuracy", 1.0, 1.0, 1.0),)),),
        confusion={"labels": [0, 1, 2], "matrix": [[50, 0, 0], [0, 47, 3], [0, 1, 49]]},
    )
    folder = registry.home / "evaluations" / found.name / str(found.version)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{evaluation.id}.json").write_text(json.dumps(evaluation.to_dict()), "utf-8")
    return evaluation


def assert_one_error(result: Result, exit_code: int, fragment: str) -> None:
    assert result.exit_code == exit_code, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert fragment in lines[0]


def test_card_prints_markdown_with_front_matter_by_default(saved: Registry) -> None:
    write_evaluation(saved)
    result = invoke(saved.home, "card", "iris")
    assert result.exit_code == 0, result.stderr
    head, body = result.stdout[4:].split("\n---\n", 1)
    meta = yaml.safe_load(head)
    metrics = meta["model-index"][0]["results"][0]["metrics"]
    assert [m["name"] for m in metrics] == ["accuracy", "accuracy (band=low)"]
    assert "# Model card: iris v1" in body
    assert "- **Owners** `declared`: ml-team" in body
    assert "[More information needed]" in body


def test_card_json_is_model_card_toolkit_json(saved: Registry) -> None:
    write_evaluation(saved)
    result = invoke(saved.home, "card", "iris:1", "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["model_details"]["name"] == "iris"
    assert data["quantitative_analysis"]["performance_metrics"][0]["value"] == "0.97"
    assert data["roost"]["evaluation"] == "20261128T081500Z-3f9a"
    assert data["roost"]["digest"] == saved.resolve("iris:1").digest


def test_card_without_evaluations_still_renders(saved: Registry) -> None:
    result = invoke(saved.home, "card", "iris", "-f", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert "performance_metrics" not in data.get("quantitative_analysis", {})
    assert "overview" in data["roost"]["missing"]


def test_card_html_out_writes_the_file_and_says_so(saved: Registry, tmp_path: Path) -> None:
    write_evaluation(saved)
    out = tmp_path / "card.html"
    result = invoke(saved.home, "card", "iris", "--format", "html", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"wrote {out} (model card of iris:1, ")
    page = out.read_text("utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == 2  # the slice chart and the confusion matrix


def test_card_factsheet(saved: Registry) -> None:
    write_evaluation(saved)
    result = invoke(saved.home, "card", "iris", "--factsheet", "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["kind"] == "factsheet"
    assert data["live"] is None
    assert "live" not in [s["key"] for s in data["sections"]]


def test_card_unknown_model_is_one_error_line(saved: Registry) -> None:
    assert_one_error(invoke(saved.home, "card", "nope"), 3, "model 'nope' not found")


def test_card_unknown_format_is_a_usage_error(saved: Registry) -> None:
    result = invoke(saved.home, "card", "iris", "--format", "pdf")
    assert result.exit_code == 2
    assert "pdf" in result.stderr


def test_card_of_a_changed_package_is_refused(saved: Registry) -> None:
    """A card is built from verified metadata only."""
    model_yaml = saved.path("iris:1") / "model.yaml"
    model_yaml.write_text(model_yaml.read_text("utf-8") + "\n# edited\n", "utf-8")
    assert_one_error(invoke(saved.home, "card", "iris"), 5, "model.yaml")
