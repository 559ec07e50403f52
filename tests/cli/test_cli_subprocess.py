"""The real ``roost`` program, run as a user would: ``python -m roost`` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from roost.store import Registry

pytestmark = pytest.mark.integration

_TIMEOUT_S = 120


def roost(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ROOST_")}
    env["ROOST_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "roost", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=_TIMEOUT_S,
        check=False,
    )


def assert_one_error_line(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_roost_version_runs() -> None:
    done = roost(Path("unused"), "--version")
    assert done.returncode == 0
    assert done.stdout.startswith("roost ")


def test_roost_models_lifecycle_between_two_homes(saved: Registry, tmp_path: Path) -> None:
    """list, show, alias, refused rm, export, then import into a second home."""
    home = saved.home
    listed = roost(home, "models", "list", "--json")
    assert [m["name"] for m in json.loads(listed.stdout)] == ["iris"]
    shown = roost(home, "models", "show", "iris")
    assert shown.returncode == 0
    assert saved.resolve("iris:1").digest in shown.stdout

    aliased = roost(home, "models", "alias", "iris", "production", "1")
    assert aliased.stdout.strip() == "iris@production → 1"
    refused = roost(home, "models", "rm", "iris@production", "--yes")
    assert refused.returncode == 4
    assert_one_error_line(refused, "@production")

    exported = roost(home, "models", "export", "iris@production", "--output", str(tmp_path))
    assert exported.returncode == 0, exported.stderr
    archive = tmp_path / "iris-1.roost.tar.gz"
    digest = saved.resolve("iris:1").digest
    assert exported.stdout.splitlines() == [f"wrote {archive}", f"digest {digest}"]

    other = tmp_path / "other-home"
    imported = roost(other, "models", "import", str(archive), "--digest", digest)
    assert imported.stdout == "iris:1\n"
    assert Registry(other).resolve("iris:1").digest == digest


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_roost_predict_file_matches_library(
    saved: Registry, iris: Any, tmp_path: Path, suffix: str
) -> None:
    rows = tmp_path / f"rows{suffix}"
    sample = iris[1].sample(10, random_state=0)
    if suffix == ".csv":
        sample.to_csv(rows, index=False)
    else:
        rows.write_text(sample.to_json(orient="records"))
    done = roost(saved.home, "predict", "iris:latest", "--input", str(rows))
    assert done.returncode == 0, done.stderr
    expected = saved.load("iris:latest").predict(sample)
    predicted = json.loads(done.stdout)
    assert [p["label"] for p in predicted] == [e["label"] for e in expected]
    for got, want in zip(predicted, expected, strict=True):
        assert got["probabilities"] == pytest.approx(want["probabilities"])


def test_roost_bad_reference_is_one_line(saved: Registry) -> None:
    done = roost(saved.home, "models", "show", "iris:9")
    assert done.returncode == 3
    assert_one_error_line(done, "version 9", "known: 1")


def test_roost_predict_missing_file_is_one_line(saved: Registry, tmp_path: Path) -> None:
    assert_one_error_line(
        roost(saved.home, "predict", "iris", "-i", str(tmp_path / "missing.csv")), "missing.csv"
    )


def test_roost_predict_malformed_json_is_one_line(saved: Registry) -> None:
    done = roost(saved.home, "predict", "iris", "-i", "-", stdin='[{"sepal length (cm)": 1,')
    assert_one_error_line(done, "not valid JSON")


def test_roost_predict_wrong_column_type_is_one_line(
    saved: Registry, iris: Any, tmp_path: Path
) -> None:
    rows = tmp_path / "rows.csv"
    sample = iris[1][:2].astype(object)
    sample.loc[1, "sepal width (cm)"] = "wide"
    sample.to_csv(rows, index=False)
    done = roost(saved.home, "predict", "iris", "-i", str(rows))
    assert done.returncode == 2
    assert_one_error_line(done, "'sepal width (cm)'", "'wide'", "float64", "row 1")
