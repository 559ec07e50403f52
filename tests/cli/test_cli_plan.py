"""``roost plan capacity``, in process with Typer's CliRunner (no registry involved)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from roost.cli import app
from roost.cli._plan import read_profile
from roost.errors import ConfigError

runner = CliRunner()

#: resnet50_v2's batch latencies, ms, as ``roost profile`` will write them
RESNET50 = {"latency_ms_by_batch": {"1": 2.73, "2": 4.05, "4": 5.87, "8": 9.93, "16": 17.30}}


def invoke(home: Path, *args: str) -> Result:
    """Run ``roost plan capacity ARGS`` with a wide terminal, so that no row wraps."""
    env = {"ROOST_HOME": str(home), "COLUMNS": "200"}
    return runner.invoke(app, ["plan", "capacity", *args], env=env)


def assert_error(result: Result, exit_code: int, *fragments: str) -> None:
    """The command failed with ``exit_code`` and one ``error:`` line naming the fragments."""
    assert result.exit_code == exit_code, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(RESNET50), encoding="utf-8")
    return path


def _row(out: str, name: str) -> list[str]:
    """The cells of the one table row that starts with ``name`` (a one-word name)."""
    (cells,) = [line.split()[1:] for line in out.splitlines() if line.split()[:1] == [name]]
    return cells


def _json(result: Result) -> Any:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_plan_capacity_service_time_prints_table(tmp_path: Path) -> None:
    result = invoke(tmp_path, "--rate", "5000", "--p99-ms", "100", "--service-ms", "25")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "Capacity for 5000 req/s, p99 within 100 ms" in out
    assert "without batching" in out
    assert "with batching" not in out.replace("without batching", "")
    assert _row(out, "replicas") == ["127"]
    assert _row(out, "utilisation") == ["0.98"]
    assert _row(out, "P(wait)") == ["0.80"]
    assert "p99 wait" in out
    assert "minReplicas" in out
    assert "maxReplicas" in out
    assert "39.37 req/s" in out
    assert "note: minReplicas is 1" in out


def test_plan_capacity_json_matches_ar_table(tmp_path: Path) -> None:
    document = _json(
        invoke(tmp_path, "--rate", "5000", "--p99-ms", "100", "--service-ms", "20", "--json")
    )
    assert document["with_batching"] is None
    assert document["without_batching"]["replicas"] == 102
    assert document["autoscaler"]["max_replicas"] == 102
    assert document["autoscaler"]["plan"] == "without_batching"


def test_plan_capacity_min_rate_sizes_min_replicas(tmp_path: Path) -> None:
    args = ["--rate", "5000", "--p99-ms", "100", "--service-ms", "25", "--min-rate", "1041.7"]
    autoscaler = _json(invoke(tmp_path, *args, "--json"))["autoscaler"]
    assert (autoscaler["min_replicas"], autoscaler["max_replicas"]) == (28, 127)


def test_plan_capacity_profile_compares_batching(tmp_path: Path, profile: Path) -> None:
    """T4 through the command: 6 replicas at b = 16, 14 without batching."""
    document = _json(
        invoke(tmp_path, "--rate", "5000", "--p99-ms", "50", "--profile", str(profile), "--json")
    )
    assert document["with_batching"]["batch_size"] == 16
    assert document["with_batching"]["replicas"] == 6
    assert document["without_batching"]["replicas"] == 14
    assert document["autoscaler"]["plan"] == "with_batching"
    assert document["autoscaler"]["max_replicas"] == 6


def test_plan_capacity_profile_table_has_both_columns(tmp_path: Path, profile: Path) -> None:
    args = ["--rate", "5000", "--slo-ms", "50", "--profile", str(profile), "--headroom", "1.1"]
    result = invoke(tmp_path, *args)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "without batching" in out
    assert "with batching" in out
    assert "≤ 34.6 ms" in out
    assert "before headroom" in out
    assert "Autoscaler (HPA on requests per second per pod, with batching)" in out


def test_plan_capacity_profile_without_batch_of_one(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"latency_ms_by_batch": {"8": 9.93, "16": 17.3}, "device": "T4"}')
    result = invoke(tmp_path, "--rate", "5000", "--p99-ms", "50", "--profile", str(path))
    assert result.exit_code == 0, result.stderr
    assert "without batching: the profile has no batch size 1" in result.stdout


def test_plan_capacity_infeasible_exits_1_with_reason(tmp_path: Path) -> None:
    result = invoke(tmp_path, "--rate", "5000", "--p99-ms", "20", "--service-ms", "25")
    assert_error(result, 1, "no fleet meets 20 ms", "25 ms alone")


def test_plan_capacity_only_unbatched_feasible_still_plans(tmp_path: Path) -> None:
    """Within 3 ms, 2 × 1.9 ms rules batching out, while b = 1 queues within 1.1 ms."""
    path = tmp_path / "p.json"
    path.write_text('{"latency_ms_by_batch": {"1": 1.9, "2": 2.1}}')
    args = ["--rate", "100", "--p99-ms", "3", "--profile", str(path)]
    document = _json(invoke(tmp_path, *args, "--json"))
    assert document["with_batching"]["feasible"] is False
    assert document["without_batching"]["feasible"] is True
    assert document["autoscaler"]["plan"] == "without_batching"
    result = invoke(tmp_path, *args)
    assert "note: with batching: infeasible: no batch size meets 3 ms" in result.stdout
    assert "infeasible" in result.stdout.split("note:")[0]


def test_plan_capacity_nothing_feasible_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"latency_ms_by_batch": {"1": 1.9, "2": 2.1}}')
    args = ["--rate", "100", "--p99-ms", "1.5", "--profile", str(path)]
    assert_error(invoke(tmp_path, *args), 1, "no fleet meets 1.5 ms", "1.9 ms alone", "2 × 1.9")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--rate", "0", "--p99-ms", "100", "--service-ms", "25"], "--rate: expected"),
        (["--rate", "5000", "--p99-ms", "-1", "--service-ms", "25"], "--p99-ms: expected"),
        (["--rate", "5000", "--p99-ms", "100", "--service-ms", "0"], "--service-ms: expected"),
        (["--rate", "5000", "--p99-ms", "100", "--service-ms", "nan"], "--service-ms: expected"),
        (["--rate", "5000", "--p99-ms", "100"], "--service-ms, --profile: expected exactly one"),
        (
            ["--rate", "1e12", "--p99-ms", "100", "--service-ms", "25"],
            "--rate: expected at most 4e+07 req/s for a service time of 25 ms",
        ),
        (
            ["--rate", "5000", "--p99-ms", "100", "--service-ms", "25", "--percentile", "1"],
            "--percentile: expected",
        ),
        (
            ["--rate", "5000", "--p99-ms", "100", "--service-ms", "25", "--arrival-cv2", "-1"],
            "--arrival-cv2: expected",
        ),
        (
            ["--rate", "5000", "--p99-ms", "100", "--service-ms", "25", "--service-cv2", "-1"],
            "--service-cv2: expected",
        ),
        (
            ["--rate", "5000", "--p99-ms", "100", "--service-ms", "25", "--max-utilization", "0"],
            "--max-utilization: expected",
        ),
        (
            ["--rate", "5000", "--p99-ms", "100", "--service-ms", "25", "--headroom", "0.5"],
            "--headroom: expected",
        ),
        (
            ["--rate", "5000", "--p99-ms", "100", "--service-ms", "25", "--min-rate", "6000"],
            "--min-rate: expected a number from 0 to --rate 5000",
        ),
    ],
    ids=[
        "rate",
        "p99",
        "service",
        "service-nan",
        "neither",
        "offered-load",
        "percentile",
        "arrival-cv2",
        "service-cv2",
        "max-utilization",
        "headroom",
        "min-rate",
    ],
)
def test_plan_capacity_bad_option_exits_2_naming_it(
    tmp_path: Path, args: list[str], fragment: str
) -> None:
    assert_error(invoke(tmp_path, *args), 2, fragment)


def test_plan_capacity_both_service_and_profile_exits_2(tmp_path: Path, profile: Path) -> None:
    args = ["--rate", "1", "--p99-ms", "50", "--service-ms", "2", "--profile", str(profile)]
    assert_error(invoke(tmp_path, *args), 2, "--service-ms, --profile: expected exactly one")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (None, "--profile: cannot read"),
        ("{not json", "is not JSON"),
        ('{"latency": {"1": 2}}', 'to hold {"latency_ms_by_batch"'),
        ('{"latency_ms_by_batch": {}}', "at least one batch size"),
        ('{"latency_ms_by_batch": {"0": 2}}', "expected batch sizes 1, 2, … in"),
        ('{"latency_ms_by_batch": {"1.5": 2}}', "got '1.5'"),
        ('{"latency_ms_by_batch": {"1": "fast"}}', "latency in ms above 0 for batch size 1"),
        ('{"latency_ms_by_batch": {"1": true}}', "got True"),
        ("[1, 2]", 'to hold {"latency_ms_by_batch"'),
    ],
    ids=[
        "missing",
        "not-json",
        "no-key",
        "empty",
        "zero-size",
        "float-size",
        "string-latency",
        "bool-latency",
        "list",
    ],
)
def test_plan_capacity_bad_profile_exits_2(tmp_path: Path, text: str | None, fragment: str) -> None:
    path = tmp_path / "profile.json"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    args = ["--rate", "5000", "--p99-ms", "50", "--profile", str(path)]
    assert_error(invoke(tmp_path, *args), 2, "--profile", fragment)


def test_read_profile_returns_sizes_as_ints(profile: Path) -> None:
    assert read_profile(profile) == {1: 2.73, 2: 4.05, 4: 5.87, 8: 9.93, 16: 17.3}


def test_read_profile_missing_file_raises_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^--profile: cannot read"):
        read_profile(tmp_path / "absent.json")
