"""The ``roost`` commands, run in process with Typer's CliRunner against a temporary home."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from roost._version import __version__
from roost.cli import _models, app, main
from roost.errors import ModelNotFound
from roost.store import Registry

runner = CliRunner()


def invoke(home: Path, *args: str, input: str | None = None, **env: str) -> Result:
    return runner.invoke(app, list(args), input=input, env={"ROOST_HOME": str(home), **env})


def assert_error(result: Result, exit_code: int, *fragments: str) -> str:
    """The command failed with ``exit_code`` and one ``error:`` line naming the fragments."""
    assert result.exit_code == exit_code, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def test_version_option_prints_version(tmp_path: Path) -> None:
    result = invoke(tmp_path, "--version")
    assert result.exit_code == 0
    assert result.stdout == f"roost {__version__}\n"


def test_cli_import_does_not_import_heavy_frameworks() -> None:
    """`roost --version` stays fast: pandas, numpy and sklearn load only inside commands."""
    import subprocess

    code = "import sys, roost.cli; print(sorted({'pandas', 'numpy', 'sklearn'} & set(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


# ---------------------------------------------------------------- list


def test_models_list_empty_home_says_so(registry: Registry) -> None:
    result = invoke(registry.home, "models", "list")
    assert result.exit_code == 0
    assert "no models in" in result.stdout


def test_models_list_table_shows_latest_and_aliases(saved: Registry, iris: Any) -> None:
    saved.save(iris[0], "iris", example=iris[1][:5])
    saved.set_alias("iris", "production", 1)
    result = invoke(saved.home, "models", "list", COLUMNS="200")
    assert result.exit_code == 0
    row = next(line for line in result.stdout.splitlines() if line.strip().startswith("iris"))
    assert row.split()[:5] == ["iris", "2", "2", "production→1", "sklearn"]


def test_models_list_json_is_machine_readable(saved: Registry) -> None:
    saved.set_alias("iris", "production", 1)
    result = invoke(saved.home, "models", "list", "--json")
    assert result.exit_code == 0
    (record,) = json.loads(result.stdout)
    assert record["name"] == "iris"
    assert record["latest"] == 1
    assert record["versions"] == [1]
    assert record["aliases"] == {"production": 1}
    assert record["flavor"] == "sklearn"


def test_home_option_overrides_roost_home(saved: Registry, tmp_path: Path) -> None:
    result = invoke(tmp_path / "elsewhere", "--home", str(saved.home), "models", "list", "--json")
    assert result.exit_code == 0
    assert [r["name"] for r in json.loads(result.stdout)] == ["iris"]


# ---------------------------------------------------------------- show


def test_models_show_prints_summary(saved: Registry) -> None:
    saved.set_alias("iris", "production", 1)
    result = invoke(saved.home, "models", "show", "iris@production", COLUMNS="200")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    digest = saved.resolve("iris:1").digest
    for expected in (
        "iris:1",
        digest,
        "sklearn (scikit-learn",
        "@production",
        "sepal length (cm)",
        "probabilities",
        "data train",
        "150 rows",
        "max_iter",
        "ml-team",
    ):
        assert expected in out, expected


def test_models_show_json_is_metadata_with_digest_and_aliases(saved: Registry) -> None:
    saved.set_alias("iris", "production", 1)
    result = invoke(saved.home, "models", "show", "iris:1", "--json")
    assert result.exit_code == 0
    shown = json.loads(result.stdout)
    assert shown == {
        **saved.metadata("iris:1"),
        "digest": saved.resolve("iris:1").digest,
        "aliases": ["production"],
    }


def test_models_show_unknown_version_exits_3(saved: Registry) -> None:
    assert_error(invoke(saved.home, "models", "show", "iris:9"), 3, "version 9", "known: 1")


def test_models_show_malformed_ref_exits_2(saved: Registry) -> None:
    assert_error(invoke(saved.home, "models", "show", "../etc"), 2, "'../etc'")


def test_error_line_is_not_wrapped_in_narrow_terminal(saved: Registry) -> None:
    assert_error(invoke(saved.home, "models", "show", "nope", COLUMNS="20"), 3, "known models")


def test_debug_env_lets_exception_through(saved: Registry) -> None:
    result = invoke(saved.home, "models", "show", "iris:9", ROOST_DEBUG="1")
    assert isinstance(result.exception, ModelNotFound)


def test_bad_registry_url_exits_2(tmp_path: Path) -> None:
    result = invoke(tmp_path, "models", "list", ROOST_REGISTRY_URL="mysql://x")
    assert_error(result, 2, "ROOST_REGISTRY_URL")


def test_verbose_option_logs_info_on_stderr(saved: Registry) -> None:
    result = invoke(saved.home, "-v", "models", "rm", "iris:1", "--yes")
    assert result.exit_code == 0
    assert "INFO" in result.stderr


# ---------------------------------------------------------------- alias


def test_models_alias_sets_then_moves(saved: Registry, iris: Any) -> None:
    saved.save(iris[0], "iris", example=iris[1][:5])
    first = invoke(saved.home, "models", "alias", "iris", "production", "1")
    moved = invoke(saved.home, "models", "alias", "iris", "production", "2")
    assert first.stdout == "iris@production → 1\n"
    assert moved.stdout == "iris@production → 2 (was 1)\n"
    assert saved.resolve("iris@production").version == 2


def test_models_alias_delete_removes(saved: Registry) -> None:
    saved.set_alias("iris", "production", 1)
    result = invoke(saved.home, "models", "alias", "iris", "production", "--delete")
    assert result.stdout == "iris@production removed (was 1)\n"
    assert saved.summary("iris").aliases == {}


@pytest.mark.parametrize(
    "args", [("iris", "production"), ("iris", "production", "1", "--delete")], ids=["none", "both"]
)
def test_models_alias_needs_version_or_delete(saved: Registry, args: tuple[str, ...]) -> None:
    assert_error(invoke(saved.home, "models", "alias", *args), 2, "VERSION", "--delete")


def test_models_alias_unknown_version_exits_3(saved: Registry) -> None:
    assert_error(invoke(saved.home, "models", "alias", "iris", "production", "5"), 3, "version 5")


# ---------------------------------------------------------------- rm


def test_models_rm_yes_deletes(saved: Registry) -> None:
    result = invoke(saved.home, "models", "rm", "iris:1", "-y")
    assert result.stdout == "deleted iris:1\n"
    assert saved.list() == []


def test_models_rm_aliased_version_is_refused(saved: Registry) -> None:
    saved.set_alias("iris", "production", 1)
    assert_error(invoke(saved.home, "models", "rm", "iris:1", "--yes"), 4, "@production")
    assert saved.resolve("iris:1").version == 1


def test_models_rm_bare_name_is_refused_before_asking(saved: Registry) -> None:
    assert_error(invoke(saved.home, "models", "rm", "iris", "--yes"), 2, "explicitly, e.g. iris:3")
    assert saved.resolve("iris:1").version == 1


def test_models_rm_without_yes_or_terminal_is_refused(saved: Registry) -> None:
    assert_error(invoke(saved.home, "models", "rm", "iris:1"), 2, "--yes")
    assert saved.resolve("iris:1").version == 1


@pytest.mark.parametrize(
    ("answer", "exit_code", "remaining"), [("y", 0, []), ("n", 1, ["iris"])], ids=["yes", "no"]
)
def test_models_rm_asks_at_a_terminal(
    saved: Registry,
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    exit_code: int,
    remaining: list[str],
) -> None:
    monkeypatch.setattr(_models, "_stdin_is_interactive", lambda: True)
    result = invoke(saved.home, "models", "rm", "iris:1", input=f"{answer}\n")
    assert result.exit_code == exit_code
    assert "Delete iris:1" in result.stdout
    assert [s.name for s in saved.list()] == remaining


# ------------------------------------------------------- export / import


def test_models_export_writes_archive_in_current_folder(
    saved: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(saved.home, "models", "export", "iris")
    assert result.exit_code == 0, result.stderr
    archive = tmp_path / "iris-1.roost.tar.gz"
    assert archive.is_file()
    assert result.stdout.splitlines() == [
        f"wrote {archive}",
        f"digest {saved.resolve('iris:1').digest}",
    ]


def test_models_import_registers_into_other_home(saved: Registry, tmp_path: Path) -> None:
    archive = tmp_path / "out" / "iris.tar.gz"
    assert invoke(saved.home, "models", "export", "iris:1", "-o", str(archive)).exit_code == 0
    digest = saved.resolve("iris:1").digest
    other = tmp_path / "other-home"
    result = invoke(other, "models", "import", str(archive), "--digest", digest)
    assert result.stdout == "iris:1\n"
    assert Registry(other).resolve("iris:1").digest == digest


def test_models_import_wrong_digest_exits_5(saved: Registry, tmp_path: Path) -> None:
    archive = saved.export("iris:1", tmp_path)
    result = invoke(tmp_path / "other", "models", "import", str(archive), "--digest", "sha256:0")
    assert_error(result, 5, "sha256:0")


def test_models_import_missing_archive_exits_5(tmp_path: Path) -> None:
    assert_error(invoke(tmp_path, "models", "import", "nope.tar.gz"), 5, "nope.tar.gz")


# ---------------------------------------------------------------- predict


def test_predict_csv_matches_library(saved: Registry, iris: Any, tmp_path: Path) -> None:
    rows = tmp_path / "rows.csv"
    iris[1][:4].to_csv(rows, index=False)
    result = invoke(saved.home, "predict", "iris", "--input", str(rows))
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == saved.load("iris").predict(iris[1][:4])


def test_predict_stdin_jsonl_to_csv_flattens_outputs(saved: Registry, iris: Any) -> None:
    records = iris[1][:2].to_dict(orient="records")
    lines = "".join(json.dumps(r) + "\n" for r in records)
    result = invoke(saved.home, "predict", "iris", "-i", "-", "--format", "csv", input=lines)
    assert result.exit_code == 0, result.stderr
    header, *body = result.stdout.splitlines()
    assert header == "label,probabilities.0,probabilities.1,probabilities.2"
    expected = saved.load("iris").predict(records)
    assert [int(line.split(",")[0]) for line in body] == [e["label"] for e in expected]


def test_predict_one_json_object_is_one_row(saved: Registry, iris: Any) -> None:
    row = iris[1].iloc[0].to_dict()
    result = invoke(saved.home, "predict", "iris", "-i", "-", input=json.dumps(row))
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)) == 1


def test_predict_nested_lists_feed_tensor_model(registry: Registry, iris: Any) -> None:
    from sklearn.linear_model import LinearRegression

    x = iris[1].to_numpy()
    registry.save(LinearRegression().fit(x, iris[2]), "reg", example=x[:5])
    rows = x[:3].tolist()
    result = invoke(registry.home, "predict", "reg", "-i", "-", "-f", "csv", input=json.dumps(rows))
    assert result.exit_code == 0, result.stderr
    header, *body = result.stdout.splitlines()
    assert header == "prediction"
    assert [float(v) for v in body] == pytest.approx(registry.load("reg").predict(rows))


def test_predict_output_option_writes_file(saved: Registry, iris: Any, tmp_path: Path) -> None:
    rows, out = tmp_path / "rows.json", tmp_path / "out.json"
    rows.write_text(iris[1][:3].to_json(orient="records"))
    result = invoke(saved.home, "predict", "iris:1", "-i", str(rows), "-o", str(out))
    assert result.stdout == f"wrote 3 predictions of iris:1 to {out}\n"
    assert len(json.loads(out.read_text())) == 3


def test_predict_wrong_column_type_names_column_and_value(saved: Registry, iris: Any) -> None:
    row = {**iris[1].iloc[0].to_dict(), "petal width (cm)": "wide"}
    result = invoke(saved.home, "predict", "iris", "-i", "-", input=json.dumps([row]))
    assert_error(result, 2, "'petal width (cm)'", "float64", "'wide'", "row 0")


def test_predict_malformed_json_exits_2(saved: Registry, tmp_path: Path) -> None:
    rows = tmp_path / "rows.json"
    rows.write_text('[{"a": 1,]')
    assert_error(invoke(saved.home, "predict", "iris", "-i", str(rows)), 2, "not valid JSON")


def test_predict_missing_file_exits_1(saved: Registry, tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    result = invoke(saved.home, "predict", "iris", "-i", str(missing))
    assert_error(result, 1, str(missing), "No such file")


def test_predict_unknown_model_fails_before_reading_input(saved: Registry) -> None:
    result = invoke(saved.home, "predict", "nope", "-i", "missing.csv")
    assert_error(result, 3, "'nope'")


# ---------------------------------------------------------------- main


def test_main_reports_unexpected_error_in_one_line(
    saved: Registry, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(self: Registry) -> list[Any]:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setenv("ROOST_HOME", str(saved.home))
    monkeypatch.delenv("ROOST_DEBUG", raising=False)
    monkeypatch.setattr(Registry, "list", broken)
    with pytest.raises(SystemExit) as exited:
        main(["models", "list"])
    assert exited.value.code == 70
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "error: unexpected RuntimeError: boom second line "
        "(a bug in roost; set ROOST_DEBUG=1 to see the traceback)"
    ]


def test_main_exits_0_after_success(
    saved: Registry, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ROOST_HOME", str(saved.home))
    with pytest.raises(SystemExit) as exited:
        main(["models", "list", "--json"])
    assert exited.value.code == 0
    assert json.loads(capsys.readouterr().out)[0]["name"] == "iris"
