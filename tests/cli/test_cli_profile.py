"""``roost profile``: a version measured on this machine, printed and written for the planner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from roost.cli import app
from roost.cli._plan import read_profile
from roost.store import Registry

runner = CliRunner()

#: few calls and two batch sizes: the command's path, not a benchmark
FAST = ("--batch-sizes", "1,4", "--repeat", "3")


def invoke(home: Path, *args: str) -> Result:
    return runner.invoke(app, list(args), env={"ROOST_HOME": str(home), "COLUMNS": "200"})


def assert_error(result: Result, exit_code: int, *fragments: str) -> None:
    """The command failed with ``exit_code`` and one ``error:`` line naming the fragments."""
    assert result.exit_code == exit_code, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_profile_prints_tables_and_writes_both_files(saved: Registry, tmp_path: Path) -> None:
    out, block = tmp_path / "profile.json", tmp_path / "component.yaml"
    result = invoke(
        saved.home, "profile", "iris", *FAST, "--location", "edge-1", "--out", str(out),
        "--yaml", str(block),
    )  # fmt: skip
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "Profile of iris:1 at edge-1" in result.stdout
    batch_rows = [line.split()[0] for line in result.stdout.splitlines() if line[:1] == " "]
    assert {"1", "4"} <= set(batch_rows)
    assert "oip-v2-binary" in result.stdout
    assert f"wrote the profile of iris:1 to {out}" in result.stdout
    assert f"wrote component 'iris' to {block}" in result.stdout
    # the file roost plan capacity --profile reads, keyed by the batch sizes asked (p99)
    written = json.loads(out.read_text(encoding="utf-8"))
    p99 = {entry["batch_size"]: entry["p99_ms"] for entry in written["latency"]}
    assert read_profile(out) == p99
    assert sorted(p99) == [1, 4]
    component = yaml.safe_load(block.read_text(encoding="utf-8"))
    variant = component["iris"]["variants"]["default"]
    assert component["iris"]["allowed_at"] == ["edge-1"]
    times = variant["compute_s"]["edge-1"]
    assert 0 < times["best"] <= times["worst"]
    assert variant["size_mb"] > 0
    assert variant["ram_mb"] > 0


def test_profile_json_is_the_profile_alone(saved: Registry) -> None:
    result = invoke(saved.home, "profile", "iris:1", *FAST, "--json", "--quantile", "p50")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["ref"] == "iris:1"
    medians = {str(entry["batch_size"]): entry["p50_ms"] for entry in document["latency"]}
    assert document["latency_ms_by_batch"] == medians
    assert document["latency_quantile"] == "p50"
    assert {entry["protocol"] for entry in document["wire"]} == {
        "kserve-v1",
        "oip-v2-json",
        "oip-v2-binary",
        "mlflow",
    }
    assert result.stderr == ""  # no terminal: the progress bar draws nothing


def test_profile_unknown_model_exits_3(saved: Registry) -> None:
    assert_error(invoke(saved.home, "profile", "nope", *FAST), 3, "'nope' not found")


@pytest.mark.parametrize(
    ("sizes", "fragment"),
    [
        ("1,x", "got '1,x'"),
        ("0", "got '0'"),
        ("", "got ''"),
        ("1,,2", "got '1,,2'"),
        ("-1", "got '-1'"),
        ("2,4,2", "expected each batch size once, got 2 twice"),
    ],
    ids=["word", "zero", "empty", "gap", "negative", "repeated"],
)
def test_profile_bad_batch_sizes_exit_2(saved: Registry, sizes: str, fragment: str) -> None:
    result = invoke(saved.home, "profile", "iris", "--batch-sizes", sizes)
    assert_error(result, 2, "--batch-sizes: expected", fragment)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--repeat", "0"), "--repeat: expected at least 1 timed call, got 0"),
        (("--location", ""), "--location: expected a name"),
        (("--batch-sizes", "2,4", "--yaml", "c.yaml"), "--yaml: the component block"),
    ],
    ids=["repeat", "location", "yaml-without-1"],
)
def test_profile_bad_options_exit_2(saved: Registry, args: tuple[str, ...], fragment: str) -> None:
    assert_error(invoke(saved.home, "profile", "iris", *args), 2, fragment)
