"""``roost plan SYSTEM.yaml`` in process: table, front, recommendation, JSON, Mermaid, errors.

Until ``roost plan`` is wired to ``plan_system`` (see ``roost.cli._plan_system``), the
tests run on an app wired the same way here: the root group, a ``plan`` group of class
``PlanGroup`` holding ``capacity`` and ``system``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from roost.cli._errors import ErrorHandlingGroup
from roost.cli._plan import capacity, plan_app
from roost.cli._plan_system import PlanGroup, plan_system

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
AR = EXAMPLES / "ar_translation.yaml"
CROP = EXAMPLES / "ar_translation_crop.yaml"

runner = CliRunner()


def _app() -> typer.Typer:
    """The real app once ``plan system`` is registered; until then the same wiring, built here."""
    if any(command.name == "system" for command in plan_app.registered_commands):
        from roost.cli import app

        return app
    app = typer.Typer(cls=ErrorHandlingGroup, no_args_is_help=True, pretty_exceptions_enable=False)

    @app.callback()
    def root() -> None:
        """The root group."""

    plan = typer.Typer(cls=PlanGroup, no_args_is_help=True)
    plan.command("capacity")(capacity)
    plan.command("system")(plan_system)
    app.add_typer(plan, name="plan")
    return app


APP = _app()


def invoke(*args: str) -> Result:
    return runner.invoke(APP, list(args), env={"COLUMNS": "250"})


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


def test_plan_system_prints_table_front_recommendation_and_why_not() -> None:
    result = invoke("plan", str(AR))
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "Placements of ar-translation, network scenario wifi: 10 feasible" in out
    row = cells(out, "G-C")
    assert row[1:4] == ["1", "0.911-1.071", "no"]
    assert "12,045-55,845" in row
    assert "translate 22-102" in row
    assert "Recommendation: G-hybrid(C|P)" in out
    assert "- offline is preferred: kept the 5 that work offline for 100% of requests" in out
    assert "Why not (7)" in out
    assert cells(out, "P-*")[1].startswith("link 'bt' utilisation 2.67 > 1; latency")
    assert (
        cells(out, "G-G")[1]
        == "glasses RAM 650 MB > 512 MB available (ocr 250 MB, translate 400 MB)"
    )


def test_plan_system_by_its_name_and_another_scenario() -> None:
    result = invoke("plan", "system", str(AR), "--scenario", "cellular")
    assert result.exit_code == 0, result.stderr
    assert "network scenario cellular" in result.stdout
    assert cells(result.stdout, "G-C")[2] == "0.974-1.134"
    assert "Recommendation: G-P\n" in result.stdout


def test_plan_system_notes_sensitive_bytes_to_the_cloud() -> None:
    result = invoke("plan", str(CROP))
    assert result.exit_code == 0, result.stderr
    assert "Recommendation: P-hybrid(C|P)" in result.stdout
    assert (
        "note: C-C sends 50 KB of sensitive data per request to a cloud "
        "(1.35 GB per user per month)" in result.stdout
    )


def test_plan_system_json() -> None:
    result = invoke("plan", str(AR), "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["recommendation"]["placement"] == "G-hybrid(C|P)"
    assert {"G-P", "G-C"} <= set(data["front"])
    assert data["mermaid"].startswith("flowchart LR")
    g_c = next(row for row in data["placements"] if row["placement"] == "G-C")
    assert g_c["metrics"]["operator_usd_month"] == {"average": 12045.0, "peak": 55845.0}


def test_plan_system_mermaid() -> None:
    result = invoke("plan", str(AR), "--mermaid")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("flowchart LR\n")
    assert "translate (offline fallback)" in result.stdout


def test_plan_system_all_evaluates_every_placement() -> None:
    result = invoke("plan", str(AR), "--all")
    assert result.exit_code == 0, result.stderr
    assert "10 feasible of 35 evaluated, 0 branches cut" in result.stdout
    assert "Why not (25)" in result.stdout


def test_plan_capacity_still_runs_next_to_plan_system() -> None:
    result = invoke(
        "plan", "capacity", "--rate", "5000", "--p99-ms", "100", "--service-ms", "25", "--json"
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["without_batching"]["replicas"] == 127


def test_plan_system_schema_error_is_one_line_with_exit_2(tmp_path: Path) -> None:
    text = AR.read_text(encoding="utf-8").replace("ram_mb: 250", "ram_mb: lots")
    path = tmp_path / "system.yaml"
    path.write_text(text, encoding="utf-8")
    line = next(i for i, row in enumerate(text.splitlines(), start=1) if "ram_mb: lots" in row)
    assert_error(
        invoke("plan", str(path)),
        2,
        f"system.yaml, line {line}: components.ocr.variants.default.ram_mb: expected a number",
    )


def test_plan_system_unknown_key_is_one_line_with_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "system.yaml"
    path.write_text(
        AR.read_text(encoding="utf-8").replace("size_mb: 30", "sise_mb: 30"), encoding="utf-8"
    )
    assert_error(
        invoke("plan", str(path)),
        2,
        "components.ocr.variants.default.sise_mb: unknown key 'sise_mb'",
        "did you mean 'size_mb'?",
    )


def test_plan_system_unknown_scenario_is_exit_2() -> None:
    assert_error(
        invoke("plan", str(AR), "--scenario", "lte"),
        2,
        "network scenario 'lte' not found (known: wifi, cellular, offline)",
    )


def test_plan_system_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke("plan", str(tmp_path / "absent.yaml"))
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_plan_system_without_a_feasible_placement_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "system.yaml"
    path.write_text(
        AR.read_text(encoding="utf-8").replace("max_s: 2.0", "max_s: 0.5"), encoding="utf-8"
    )
    result = invoke("plan", str(path))
    assert_error(
        result,
        1,
        "no feasible placement of 'ar-translation' in scenario 'wifi' (5 rejected: latency ",
    )
    assert "Why not (5)" in result.stdout


@pytest.mark.parametrize("flag", ["--json", "--mermaid"])
def test_plan_system_outputs_are_deterministic(flag: str) -> None:
    assert invoke("plan", str(AR), flag).stdout == invoke("plan", str(AR), flag).stdout
