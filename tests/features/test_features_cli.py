"""``roost features`` as a user runs it: in subprocesses, on a registry the fraud example trained.

One module-scoped ROOST_HOME holds examples/fraud_model.py's run (300 cards); run as its
docstring says (``python examples/fraud_model.py``); tests that change the store (ingest)
work on a copy of it. Every subprocess has a timeout.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
#: one training run takes ~2 s here; the bounds are for a slow, busy CI machine
TRAIN_TIMEOUT_S = 300
CLI_TIMEOUT_S = 120
CARDS = 300
DEFINITIONS = {
    "amount_eur@1": "transform",
    "amount_vs_usual@1": "transform",
    "at_night@1": "transform",
    "fraud_features@1": "service",
    "merchant@1": "request",
    "spend_30d@1": "aggregate",
    "velocity_24h@1": "aggregate",
}
COLUMNS = (
    "spend_30d",
    "payments_30d",
    "avg_payment_30d",
    "payments_24h",
    "max_payment_24h",
    "amount_eur",
    "amount_vs_usual",
    "at_night",
    "merchant",
)
CSV_HEADER = "card_id,ts,amount,currency,amount_eur,hour,merchant\n"


def environment(home: Path) -> dict[str, str]:
    """This environment without any ROOST_ setting, with ROOST_HOME at ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    return {**env, "ROOST_HOME": str(home)}


def roost(home: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "roost", *args],
        cwd=cwd,
        env=environment(home),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single ``error: …`` line a failed command printed (no traceback)."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    return lines[0]


def event_count(home: Path) -> int:
    """How many payments the offline store holds (read with sqlite3, not roost)."""
    with contextlib.closing(sqlite3.connect(home / "features" / "offline.db")) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM events_payments").fetchone()
    return int(count)


@pytest.fixture(scope="module")
def fraud_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ROOST_HOME where the fraud example ran (catalog, events, online values, model)."""
    home = tmp_path_factory.mktemp("fraud-cli") / "roost-home"
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "fraud_model.py"), "--cards", str(CARDS)],
        cwd=home.parent,
        env=environment(home),
        capture_output=True,
        text=True,
        timeout=TRAIN_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "registered fraud:1" in result.stdout
    return home


@pytest.fixture
def home_copy(fraud_home: Path, tmp_path: Path) -> Path:
    """A copy of the trained home, for a test that changes it."""
    return Path(shutil.copytree(fraud_home, tmp_path / "roost-home"))


# ---------------------------------------------------------------------- the happy path


def test_features_list_after_example_shows_every_definition(
    fraud_home: Path, tmp_path: Path
) -> None:
    table = roost(fraud_home, "features", "list", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    for ref, kind in DEFINITIONS.items():
        (line,) = [row for row in table.stdout.splitlines() if f" {ref} " in row]
        assert kind in line
        assert "sha256:" in line

    listed = roost(fraud_home, "features", "list", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    entries = json.loads(listed.stdout)
    assert {e["ref"]: e["kind"] for e in entries} == DEFINITIONS
    assert {e["module"] for e in entries} == {"fraud_features"}
    assert {e["file"] for e in entries} == {str(EXAMPLES / "fraud_features.py")}
    assert all(e["hash"].startswith("sha256:") and len(e["hash"]) == 71 for e in entries)


def test_features_check_example_every_column_identical(fraud_home: Path, tmp_path: Path) -> None:
    result = roost(
        fraud_home, "features", "check", "fraud_features", "--sample", "100", cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    heading = result.stdout.splitlines()[0]
    assert "fraud_features@1" in heading
    assert "training path vs online path" in heading
    for column in COLUMNS:
        (line,) = [row for row in result.stdout.splitlines() if row.split()[:1] == [column]]
        assert line.split()[1:] == ["100", "0", "0", "identical"], line
    assert "statuses: " in result.stdout


def test_features_check_json_reports_ok_and_no_mismatch(fraud_home: Path, tmp_path: Path) -> None:
    result = roost(
        fraud_home, "features", "check", "fraud_features", "--sample", "100", "--json", cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["service"] == "fraud_features@1"
    assert report["entities"] == 100
    assert [c["column"] for c in report["columns"]] == list(COLUMNS)
    assert all(c["compared"] == 100 and c["mismatched"] == 0 for c in report["columns"])
    assert all(c["max_abs_diff"] == 0 and c["example"] is None for c in report["columns"])
    # 100 entities x 9 columns, each with a status
    assert sum(report["statuses"].values()) == 100 * len(COLUMNS)
    assert set(report["statuses"]) <= {"present", "defaulted", "expired", "missing"}


def test_features_get_known_card_prints_values_statuses_and_origins(
    fraud_home: Path, tmp_path: Path
) -> None:
    fields = ("card_id=7", "amount=120.0", "currency=USD", "hour=3", "merchant=electronics")
    table = roost(fraud_home, "features", "get", "fraud_features", *fields, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    rows = {line.split()[0]: line.split()[1:] for line in table.stdout.splitlines()[1:]}
    assert list(rows) == list(COLUMNS)
    assert rows["amount_eur"] == [repr(120.0 * 0.92), "present", "request"]
    assert rows["at_night"] == ["1", "present", "request"]
    assert rows["merchant"] == ["electronics", "present", "request"]
    assert rows["spend_30d"][1:] == ["present", "store"]  # card 7 has paid in 30 days
    assert {rows[c][2] for c in ("payments_24h", "max_payment_24h")} <= {"store", "computed"}

    as_json = roost(
        fraud_home, "features", "get", "fraud_features", *fields, "--json", cwd=tmp_path
    )
    assert as_json.returncode == 0, as_json.stderr
    got = json.loads(as_json.stdout)
    assert got["values"]["amount_eur"] == 120.0 * 0.92
    assert got["values"]["amount_vs_usual"] == 120.0 * 0.92 / (
        got["values"]["avg_payment_30d"] + 1.0
    )
    assert got["values"]["at_night"] == 1
    assert set(got["statuses"]) == set(COLUMNS)
    assert set(got["origins"]) == {"spend_30d", "velocity_24h"}


def test_features_get_unknown_card_is_defaulted(fraud_home: Path, tmp_path: Path) -> None:
    fields = ("card_id=99999999", "amount=10", "currency=EUR", "hour=14", "merchant=fuel")
    result = roost(fraud_home, "features", "get", "fraud_features", *fields, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    views = ("spend_30d", "payments_30d", "avg_payment_30d", "payments_24h", "max_payment_24h")
    assert {got["statuses"][c] for c in views} == {"defaulted"}
    assert got["values"]["spend_30d"] == 0.0
    assert got["values"]["payments_30d"] == 0
    assert got["values"]["at_night"] == 0
    assert got["values"]["amount_eur"] == 10.0


def test_features_materialize_json_reports_both_views(fraud_home: Path, tmp_path: Path) -> None:
    result = roost(fraud_home, "features", "materialize", "fraud_features", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    reports = json.loads(result.stdout)
    assert [r["view"] for r in reports] == ["spend_30d@1", "velocity_24h@1"]
    for report in reports:
        # every card has payments; a re-materialization rewrites each (same newest event)
        assert report["entities"] == CARDS
        assert report["written"] == CARDS
        assert report["seconds"] >= 0


def test_features_ingest_valid_csv_appends_rows(home_copy: Path, tmp_path: Path) -> None:
    before = event_count(home_copy)
    events = tmp_path / "more.csv"
    events.write_text(
        CSV_HEADER
        + "5,2026-01-02T10:00:00Z,12.5,EUR,12.5,3,fuel\n"
        + "6,2026-01-02T11:00:00Z,10,USD,9.2,23,online\n"
    )
    result = roost(home_copy, "features", "ingest", "payments", str(events), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ingested 2 events into payments"
    assert event_count(home_copy) == before + 2


# ---------------------------------------------------------------------- errors: one line each


def test_features_check_unknown_service_exits_nonzero_one_line(
    fraud_home: Path, tmp_path: Path
) -> None:
    result = roost(fraud_home, "features", "check", "nosuch", cwd=tmp_path)
    assert result.returncode not in (0, 70)
    line = one_error_line(result)
    assert "'nosuch'" in line
    assert "fraud_features" in line


def test_features_apply_missing_file_exits_nonzero_one_line(
    fraud_home: Path, tmp_path: Path
) -> None:
    result = roost(fraud_home, "features", "apply", "does_not_exist.py", cwd=tmp_path)
    assert result.returncode not in (0, 70)
    assert "does_not_exist.py" in one_error_line(result)


def test_features_get_missing_fields_exits_2_naming_them(fraud_home: Path, tmp_path: Path) -> None:
    result = roost(fraud_home, "features", "get", "fraud_features", "card_id=1", cwd=tmp_path)
    assert result.returncode == 2
    line = one_error_line(result)
    for name in ("amount", "currency", "hour", "merchant"):
        assert name in line
    assert "card_id" not in line


def test_features_get_malformed_field_exits_2(fraud_home: Path, tmp_path: Path) -> None:
    result = roost(fraud_home, "features", "get", "fraud_features", "card_id", cwd=tmp_path)
    assert result.returncode == 2
    assert "NAME=VALUE" in one_error_line(result)


@pytest.mark.parametrize("sample", ["0", "-3"])
def test_features_check_sample_not_positive_exits_nonzero_one_line(
    fraud_home: Path, tmp_path: Path, sample: str
) -> None:
    result = roost(
        fraud_home, "features", "check", "fraud_features", "--sample", sample, cwd=tmp_path
    )
    assert result.returncode not in (0, 70)
    assert "--sample" in one_error_line(result)


def test_features_ingest_bad_value_exits_nonzero_naming_column_nothing_ingested(
    home_copy: Path, tmp_path: Path
) -> None:
    before = event_count(home_copy)
    events = tmp_path / "bad.csv"
    events.write_text(
        CSV_HEADER
        + "5,2026-01-02T10:00:00Z,12.5,EUR,12.5,3,fuel\n"
        + "6,2026-01-02T11:00:00Z,12.5,EUR,12.5,3.5,fuel\n"
    )
    result = roost(home_copy, "features", "ingest", "payments", str(events), cwd=tmp_path)
    assert result.returncode not in (0, 70)
    line = one_error_line(result)
    assert "'payments'" in line
    assert "'hour'" in line
    assert "3.5" in line
    assert event_count(home_copy) == before


def test_features_ingest_non_number_names_the_bad_value_and_row(
    home_copy: Path, tmp_path: Path
) -> None:
    before = event_count(home_copy)
    events = tmp_path / "bad.csv"
    events.write_text(
        CSV_HEADER
        + "5,2026-01-02T10:00:00Z,12.5,EUR,12.5,3,fuel\n"
        + "6,2026-01-02T11:00:00Z,abc,EUR,12.5,3,fuel\n"
    )
    result = roost(home_copy, "features", "ingest", "payments", str(events), cwd=tmp_path)
    assert result.returncode == 2  # bad data
    assert event_count(home_copy) == before
    line = one_error_line(result)
    assert "'amount'" in line
    assert "'abc'" in line
    assert "row 1" in line


def test_features_ingest_unknown_table_exits_nonzero_naming_known_ones(
    fraud_home: Path, tmp_path: Path
) -> None:
    events = tmp_path / "events.csv"
    events.write_text(CSV_HEADER)
    result = roost(fraud_home, "features", "ingest", "refunds", str(events), cwd=tmp_path)
    assert result.returncode not in (0, 70)
    line = one_error_line(result)
    assert "'refunds'" in line
    assert "payments" in line


def test_features_ingest_missing_file_exits_nonzero_one_line(
    fraud_home: Path, tmp_path: Path
) -> None:
    before = event_count(fraud_home)
    missing = tmp_path / "nowhere.csv"
    result = roost(fraud_home, "features", "ingest", "payments", str(missing), cwd=tmp_path)
    assert result.returncode not in (0, 70)
    assert "nowhere.csv" in one_error_line(result)
    assert event_count(fraud_home) == before
