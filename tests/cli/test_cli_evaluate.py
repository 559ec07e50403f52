"""``roost evaluate``, in process: tables, JSON, the stored history, and one-line errors."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner, Result

from roost.cards.history import EvaluationHistory
from roost.cli import app
from roost.store import Registry

runner = CliRunner()

#: resamples per interval: enough to have intervals, few enough to stay fast
BOOTSTRAP = "30"


def invoke(home: Path, *args: str) -> Result:
    environ = {"ROOST_HOME": str(home), "ROOST_REGISTRY_URL": None, "COLUMNS": "200"}
    return runner.invoke(app, list(args), env=environ)


def assert_error(result: Result, exit_code: int, *fragments: str) -> None:
    assert result.exit_code == exit_code, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def cells(stdout: str, first: str) -> list[str]:
    """The cells of the printed row whose first cell is ``first`` (2+ spaces apart)."""
    for line in stdout.splitlines():
        row = re.split(r"\s{2,}", line.strip())
        if row[0] == first:
            return row
    raise AssertionError(f"no line starting with {first!r} in:\n{stdout}")


@pytest.fixture
def test_csv(tmp_path: Path, iris: tuple[Any, Any, Any]) -> Path:
    """Iris with its label and a ``site`` column the model does not take."""
    _, x, y = iris
    frame = x.assign(species=y, site=np.where(np.arange(len(x)) % 3 == 0, "north", "south"))
    path = tmp_path / "test.csv"
    frame.to_csv(path, index=False)
    return path


def evaluate(home: Path, data: Path, *args: str) -> Result:
    return invoke(home, "evaluate", "iris", "--data", str(data), "--bootstrap", BOOTSTRAP, *args)


def test_evaluate_prints_metrics_and_slices(saved: Registry, test_csv: Path) -> None:
    result = evaluate(saved.home, test_csv, "--label", "species", "--slice-by", "site")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "Evaluation of iris:1 on test.csv (150 rows, classification)" in result.stdout
    _, value, interval = cells(result.stdout, "accuracy")
    lower, upper = (float(bound) for bound in interval.split(" – "))
    assert lower <= float(value) <= upper
    assert cells(result.stdout, "metric") == ["metric", "value", "95% interval"]
    assert cells(result.stdout, "north")[1] == "50"
    assert cells(result.stdout, "south")[1] == "100"
    (saved_evaluation,) = EvaluationHistory(saved).list("iris:1")
    assert f"saved evaluation {saved_evaluation.id}" in result.stdout
    assert saved_evaluation.data["hashed"] == "file"


def test_evaluate_json_is_the_stored_evaluation(saved: Registry, test_csv: Path) -> None:
    result = evaluate(saved.home, test_csv, "--label", "species", "--json", "--seed", "3")
    assert result.exit_code == 0, result.stderr
    printed = json.loads(result.stdout)
    latest = EvaluationHistory(saved).latest("iris")
    assert latest is not None
    assert printed == latest.to_dict()
    assert printed["seed"] == 3
    assert printed["n_bootstrap"] == int(BOOTSTRAP)
    assert printed["slices"] == []


def test_evaluate_keeps_every_run(saved: Registry, test_csv: Path) -> None:
    for _ in range(2):
        assert evaluate(saved.home, test_csv, "--label", "species", "--json").exit_code == 0
    assert len(EvaluationHistory(saved).list("iris:1")) == 2


def test_evaluate_reads_text_labels_as_text(registry: Registry, tmp_path: Path) -> None:
    """Classes ``"01"`` and ``"02"`` match a label column that pandas would read as 1, 2."""
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.normal(size=60)})
    y = np.where(x["a"] > 0, "02", "01")
    registry.save(LogisticRegression().fit(x, y), "codes", example=x[:5])
    path = tmp_path / "codes.csv"
    x.assign(y=y).to_csv(path, index=False)
    result = invoke(
        registry.home, "evaluate", "codes", "--data", str(path), "--label", "y", "--json"
    )
    assert result.exit_code == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["data"]["notes"] == []
    assert printed["confusion"]["labels"] == ["01", "02"]


def test_evaluate_missing_label_column_names_the_columns(saved: Registry, test_csv: Path) -> None:
    result = evaluate(saved.home, test_csv, "--label", "kind")
    assert_error(result, 2, "--label: column 'kind' not in", "test.csv", "species, site")
    assert EvaluationHistory(saved).list("iris:1") == []


@pytest.mark.parametrize(
    ("args", "exit_code", "fragments"),
    [
        (["--slice-by", "region"], 2, ["slice column 'region' not in test.csv"]),
        (["--confidence", "1.5"], 2, ["--confidence: expected a level between 0 and 1"]),
        (["--bootstrap", "-1"], 2, ["--bootstrap: expected 0 or more"]),
        (["--task", "regression"], 2, ["cannot evaluate it as regression"]),
    ],
    ids=["slice", "confidence", "bootstrap", "task"],
)
def test_evaluate_bad_options_exit_2(
    saved: Registry, test_csv: Path, args: list[str], exit_code: int, fragments: list[str]
) -> None:
    result = evaluate(saved.home, test_csv, "--label", "species", *args)
    assert_error(result, exit_code, *fragments)


def test_evaluate_bad_cell_exits_2(saved: Registry, test_csv: Path) -> None:
    text = test_csv.read_text(encoding="utf-8").replace("5.1,", "five,", 1)
    test_csv.write_text(text, encoding="utf-8")
    result = evaluate(saved.home, test_csv, "--label", "species")
    assert_error(result, 2, "'five'", "test.csv")


def test_evaluate_unknown_model_exits_3(saved: Registry, test_csv: Path) -> None:
    result = invoke(saved.home, "evaluate", "nope", "--data", str(test_csv), "--label", "y")
    assert_error(result, 3, "model 'nope' not found")


def test_evaluate_missing_file_exits_1(saved: Registry, tmp_path: Path) -> None:
    result = evaluate(saved.home, tmp_path / "absent.csv", "--label", "species")
    assert_error(result, 1, "absent.csv")
