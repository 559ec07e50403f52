"""``roost serve``'s telemetry options, ``roost telemetry report`` and ``estimate``, in process.

The report tests write prediction and feedback records straight into a sink, as a
server would have, then read them back through the command. For ``roost serve``,
uvicorn is replaced by a stand-in that keeps the spec it was handed, as in
test_cli_serve.py.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner, Result

from roost.cli import app
from roost.cli._telemetry import parse_duration, parse_sample_options
from roost.config import TelemetryConfig
from roost.errors import ConfigError
from roost.serving.server import SPEC_VARIABLE, ServeSpec
from roost.store import Registry
from roost.telemetry import FeedbackRecord, PredictionRecord, mask_password, open_sink
from roost.telemetry.drift import MAJOR_PSI
from roost.telemetry.estimate import format_bytes, record_bytes

runner = CliRunner()

#: the feature the logged traffic moves far from training (every other one is unchanged)
DRIFTED = "petal width (cm)"
#: requests of one row each, then requests of two rows each, in the logged traffic
ONE_ROW_REQUESTS, TWO_ROW_REQUESTS = 100, 25
#: one-row requests with feedback, and how many of them the model got right
ONE_ROW_FEEDBACK, ONE_ROW_RIGHT = 36, 27
#: feedback sent again for an id that already has some, and for ids never logged
DUPLICATES, UNMATCHED = 2, 3
#: from the prediction to its feedback
DELAY_S = 30.0


def invoke(home: Path, *args: str, **env: str | None) -> Result:
    """Run ``roost ARGS`` on ``home``; ROOST_TELEMETRY_URL unset unless given in ``env``."""
    environ: dict[str, str | None] = {
        "ROOST_HOME": str(home),
        "ROOST_REGISTRY_URL": None,
        "ROOST_TELEMETRY_URL": None,
        "COLUMNS": "200",  # so that no table row wraps
        **env,
    }
    return runner.invoke(app, list(args), env=environ)


def assert_error(result: Result, exit_code: int, *fragments: str) -> None:
    assert result.exit_code == exit_code, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def cells(stdout: str, first: str) -> list[str]:
    """The cells of the printed table row (or key-value line) whose first cell is ``first``.

    Cells are separated by two spaces or more; a cell never holds two spaces in a row.
    """
    for line in stdout.splitlines():
        row = re.split(r"\s{2,}", line.strip())
        if row[0] == first:
            return row
    raise AssertionError(f"no line starting with {first!r} in:\n{stdout}")


def field(stdout: str, key: str) -> str:
    """The value printed beside ``key`` in a key-value table."""
    row = cells(stdout, key)
    return row[1] if len(row) > 1 else ""


# ------------------------------------------------------------------ roost serve


@pytest.fixture
def specs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Stands in for ``uvicorn.run``: collects the spec each run found in the environment."""
    handed: list[str] = []

    def run(target: str, **options: Any) -> None:
        handed.append(os.environ[SPEC_VARIABLE])

    monkeypatch.setattr(uvicorn, "run", run)
    monkeypatch.delenv(SPEC_VARIABLE, raising=False)
    return handed


def serve(home: Path, *args: str, **env: str | None) -> Result:
    """``roost serve iris ARGS`` on port 0, which skips the check that the port is free."""
    return invoke(home, "serve", "iris", "--port", "0", *args, **env)


def telemetry_of(result: Result, specs: list[str]) -> TelemetryConfig | None:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    (text,) = specs
    return ServeSpec.from_json(text).telemetry


def telemetry_line(stdout: str) -> str:
    (line,) = [line for line in stdout.splitlines() if line.startswith("telemetry ")]
    return line


def test_serve_without_telemetry_options_logs_nothing(saved: Registry, specs: list[str]) -> None:
    result = serve(saved.home)
    assert telemetry_of(result, specs) is None
    assert "telemetry" not in result.stdout


def test_serve_telemetry_without_url_logs_to_the_home(saved: Registry, specs: list[str]) -> None:
    result = serve(saved.home, "--telemetry")
    expected = TelemetryConfig(url=str(saved.home / "telemetry.sqlite3"))
    assert telemetry_of(result, specs) == expected


def test_serve_telemetry_without_url_logs_to_roost_telemetry_url(
    saved: Registry, specs: list[str], tmp_path: Path
) -> None:
    url = str(tmp_path / "shipped.jsonl")
    result = serve(saved.home, "--telemetry", ROOST_TELEMETRY_URL=url)
    assert telemetry_of(result, specs) == TelemetryConfig(url=url)


def test_serve_telemetry_url_alone_switches_telemetry_on(
    saved: Registry, specs: list[str], tmp_path: Path
) -> None:
    """``--telemetry-url`` implies ``--telemetry``, and wins over ROOST_TELEMETRY_URL."""
    url = f"sqlite:///{tmp_path / 'named.sqlite3'}"
    result = serve(
        saved.home, "--telemetry-url", url, ROOST_TELEMETRY_URL=str(tmp_path / "env.sqlite3")
    )
    assert telemetry_of(result, specs) == TelemetryConfig(url=url)


def test_serve_sample_options_give_default_and_per_model_rates(
    saved: Registry, specs: list[str]
) -> None:
    result = serve(saved.home, "--telemetry", "--sample", "iris=0.5", "--sample", "0.25")
    telemetry = telemetry_of(result, specs)
    assert telemetry is not None
    assert (telemetry.sample_rate, dict(telemetry.sample_rates)) == (0.25, {"iris": 0.5})


def test_serve_sample_without_telemetry_is_exit_2(saved: Registry, specs: list[str]) -> None:
    assert_error(serve(saved.home, "--sample", "0.5"), 2, "--sample: expected --telemetry too")
    assert specs == []


@pytest.mark.parametrize(
    ("samples", "fragment"),
    [
        (["1.5"], "got '1.5'"),
        (["x"], "got 'x'"),
        (["=0.3"], "got '=0.3'"),
        (["iris=2"], "got 'iris=2'"),
        (["0.1", "0.2"], "the default rate is given twice (0.1, 0.2)"),
    ],
    ids=["above-one", "not-a-number", "no-name", "model-rate", "two-defaults"],
)
def test_serve_malformed_sample_is_exit_2(
    saved: Registry, specs: list[str], samples: list[str], fragment: str
) -> None:
    options = [arg for text in samples for arg in ("--sample", text)]
    assert_error(serve(saved.home, "--telemetry", *options), 2, "--sample: ", fragment)
    assert specs == []


def test_serve_banner_says_where_telemetry_goes_and_where_feedback_is_sent(
    saved: Registry, specs: list[str]
) -> None:
    result = serve(saved.home, "--telemetry", "--sample", "0.25")
    assert result.exit_code == 0, result.stderr
    assert telemetry_line(result.stdout) == (
        f"telemetry {saved.home / 'telemetry.sqlite3'} (25% of requests)    "
        "feedback: POST http://127.0.0.1:0/v1/feedback"
    )


def test_serve_banner_lists_each_model_rate(saved: Registry, specs: list[str]) -> None:
    result = serve(saved.home, "--telemetry", "--sample", "0.001", "--sample", "iris=0.5")
    assert result.exit_code == 0, result.stderr
    assert "(0.1% of requests, iris 50%)" in telemetry_line(result.stdout)


def test_serve_sample_for_a_model_not_served_is_exit_2(saved: Registry, specs: list[str]) -> None:
    result = serve(saved.home, "--telemetry", "--sample", "churn=0.5")
    assert_error(result, 2, "--sample: expected names of served models (iris), got churn")
    assert specs == []


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql://roost:s3cret@db.internal:5432/telemetry",
            "postgresql://roost:***@db.internal:5432/telemetry",
        ),
        (
            "postgresql://db.internal/telemetry?user=roost&password=s3cret",
            "postgresql://db.internal/telemetry?user=roost&password=***",
        ),
    ],
    ids=["userinfo", "query"],
)
def test_serve_banner_masks_the_password_of_a_postgresql_url(
    saved: Registry, specs: list[str], url: str, shown: str
) -> None:
    result = serve(saved.home, "--telemetry-url", url)
    assert result.exit_code == 0, result.stderr
    assert telemetry_line(result.stdout).startswith(f"telemetry {shown} (100% of requests)")
    assert "s3cret" not in result.stdout + result.stderr


# ------------------------------------------------------------------ roost telemetry report


def write_traffic(url: str, iris: tuple[Any, Any, Any], now: float) -> None:
    """Log what a server would have for iris, ending 10 minutes before ``now``.

    Every training row once, with ``DRIFTED`` moved far above its training range:
    ``ONE_ROW_REQUESTS`` one-row requests, then ``TWO_ROW_REQUESTS`` two-row ones,
    latencies 1, 2, … ms in request order. Feedback comes ``DELAY_S`` after its
    prediction: 30 of the 40 rows it covers are right (accuracy 0.75), ``DUPLICATES``
    ids get it twice, and ``UNMATCHED`` ids were never logged.
    """
    _, x, y = iris
    rows = x.to_dict("records")
    for row in rows:
        row[DRIFTED] += 10.0
    labels = [int(label) for label in y]
    starts = [*range(ONE_ROW_REQUESTS), *range(ONE_ROW_REQUESTS, len(rows), 2)]
    first_ts = now - 600.0 - 5.0 * len(starts)
    records: list[PredictionRecord] = []
    for i, start in enumerate(starts):
        end = start + (1 if i < ONE_ROW_REQUESTS else 2)
        records.append(
            PredictionRecord(
                prediction_id=f"p{i:03d}",
                timestamp=first_ts + 5.0 * i,
                model="iris",
                version=1,
                protocol="v1",
                inputs=rows[start:end],
                outputs=[{"label": label} for label in labels[start:end]],
                latency_ms=float(i + 1),
            )
        )

    def feedback(i: int, truth: Any) -> FeedbackRecord:
        return FeedbackRecord(f"p{i:03d}", truth, records[i].timestamp + DELAY_S)

    def wrong(label: int) -> int:
        return (label + 1) % 3

    two_a, two_b = ONE_ROW_REQUESTS, ONE_ROW_REQUESTS + 1  # the first two two-row requests
    answers = [
        *(
            feedback(i, labels[i] if i < ONE_ROW_RIGHT else wrong(labels[i]))
            for i in range(ONE_ROW_FEEDBACK)
        ),
        feedback(two_a, labels[starts[two_a] : starts[two_a] + 2]),  # 2 of 2 right
        feedback(two_b, [labels[starts[two_b]], wrong(labels[starts[two_b] + 1])]),  # 1 of 2
        *(feedback(i, labels[i]) for i in range(DUPLICATES)),
        *(FeedbackRecord(f"ghost{i}", 0, now - 60.0) for i in range(UNMATCHED)),
    ]
    sink = open_sink(url)
    try:
        sink.write_predictions(records)
        sink.write_feedback(answers)
    finally:
        sink.close()


def write_old_traffic(url: str, iris: tuple[Any, Any, Any], now: float, n: int) -> None:
    """Log ``n`` one-row requests two hours before ``now``, each with right feedback."""
    _, x, y = iris
    rows, labels = x.to_dict("records"), [int(label) for label in y]
    sink = open_sink(url)
    try:
        sink.write_predictions(
            [
                PredictionRecord(
                    f"old{i}", now - 7200.0 + i, "iris", 1, "v1", [rows[i]], [labels[i]], 1.0
                )
                for i in range(n)
            ]
        )
        sink.write_feedback([FeedbackRecord(f"old{i}", labels[i], now - 7000.0) for i in range(n)])
    finally:
        sink.close()


@pytest.fixture
def logged(saved: Registry, iris: tuple[Any, Any, Any]) -> Registry:
    """``saved`` (iris with its training baseline) and its traffic in the default sink."""
    write_traffic(str(saved.home / "telemetry.sqlite3"), iris, time.time())
    return saved


def report(home: Path, *args: str) -> str:
    result = invoke(home, "telemetry", "report", "iris", *args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


def test_report_counts_requests_and_rows(logged: Registry) -> None:
    stdout = report(logged.home)
    rows = ONE_ROW_REQUESTS + 2 * TWO_ROW_REQUESTS
    assert field(stdout, "requests") == f"{ONE_ROW_REQUESTS + TWO_ROW_REQUESTS} ({rows} rows)"
    assert field(stdout, "versions") == "1"


def test_report_latency_is_nearest_rank_over_requests(logged: Registry) -> None:
    # 125 requests of 1 … 125 ms: ranks ceil(62.5) = 63 and ceil(123.75) = 124
    assert field(report(logged.home), "latency") == "p50 63 ms, p99 124 ms"


def test_report_accuracy_scores_every_row_with_feedback(logged: Registry) -> None:
    assert cells(report(logged.home), "1") == ["1", "40", "0.75"]


def test_report_feedback_counts_duplicates_and_unmatched(logged: Registry) -> None:
    stdout = report(logged.home)
    recorded = ONE_ROW_FEEDBACK + 2 + UNMATCHED
    assert field(stdout, "feedback") == (
        f"{recorded} recorded, {DUPLICATES} duplicates, {UNMATCHED} unmatched, 0 late"
    )
    assert field(stdout, "median delay") == f"{DELAY_S:.1f} s"


def test_report_drift_lists_the_moved_feature_as_major_first(logged: Registry) -> None:
    stdout = report(logged.home)
    _, psi, level, values = cells(stdout, DRIFTED)
    assert (level, values) == ("major", "150")
    assert float(psi) >= MAJOR_PSI
    for other in ("sepal length (cm)", "sepal width (cm)", "petal length (cm)"):
        assert cells(stdout, other)[2] == "stable"
    table = stdout[stdout.index("Drift against the training baseline") :]
    assert table.splitlines()[2].strip().startswith(DRIFTED)  # after the heading and header


def test_report_late_after_counts_slow_feedback_as_late(logged: Registry) -> None:
    stdout = report(logged.home, "--late-after", "10s")
    late = ONE_ROW_FEEDBACK + 2  # every matched one took 30 s
    assert field(stdout, "feedback").endswith(f"{UNMATCHED} unmatched, {late} late")


def test_report_since_leaves_out_older_records(saved: Registry, iris: tuple[Any, Any, Any]) -> None:
    now = time.time()
    url = str(saved.home / "telemetry.sqlite3")
    write_traffic(url, iris, now)
    write_old_traffic(url, iris, now, 10)
    recent = ONE_ROW_REQUESTS + TWO_ROW_REQUESTS
    assert field(report(saved.home), "requests") == f"{recent + 10} (160 rows)"
    stdout = report(saved.home, "--since", "30m")
    assert field(stdout, "requests") == f"{recent} (150 rows)"
    assert field(stdout, "feedback").startswith(f"{ONE_ROW_FEEDBACK + 2 + UNMATCHED} recorded")


def test_report_window_without_records_says_none_were_logged(
    saved: Registry, iris: tuple[Any, Any, Any]
) -> None:
    write_old_traffic(str(saved.home / "telemetry.sqlite3"), iris, time.time(), 10)
    stdout = report(saved.home, "--since", "1h")
    assert field(stdout, "requests") == "0 (0 rows)"
    assert field(stdout, "latency") == "none logged"
    assert "note: No prediction of this model was logged in this window." in stdout.splitlines()


def test_report_html_is_one_self_contained_page(logged: Registry, tmp_path: Path) -> None:
    page = tmp_path / "out.html"
    result = invoke(logged.home, "telemetry", "report", "iris", "--html", str(page))
    assert result.exit_code == 0, result.stderr
    assert f"wrote {page}" in result.stdout
    text = page.read_text(encoding="utf-8")
    assert "<svg" in text
    assert "http://" not in text
    assert "https://" not in text


def test_report_reads_a_jsonl_sink_named_by_url(
    saved: Registry, iris: tuple[Any, Any, Any], tmp_path: Path
) -> None:
    path = tmp_path / "shipped" / "predictions.jsonl"
    write_traffic(str(path), iris, time.time())
    stdout = report(saved.home, "--url", str(path))
    assert field(stdout, "sink") == f"jsonl:///{path}"
    assert field(stdout, "requests") == f"{ONE_ROW_REQUESTS + TWO_ROW_REQUESTS} (150 rows)"
    assert cells(stdout, "1") == ["1", "40", "0.75"]
    assert field(stdout, "feedback").startswith(
        f"{ONE_ROW_FEEDBACK + 2 + UNMATCHED} recorded, {DUPLICATES} duplicates"
    )
    assert cells(stdout, DRIFTED)[2] == "major"
    assert not (saved.home / "telemetry.sqlite3").exists()  # the default sink stays unmade


def test_report_model_without_baseline_says_drift_was_not_measured(
    saved: Registry, iris: tuple[Any, Any, Any]
) -> None:
    clf, x, _ = iris
    saved.save(clf, "plain", example=x[:5])  # no training data: no baseline
    sink = open_sink(str(saved.home / "telemetry.sqlite3"))
    try:
        row = x.iloc[0].to_dict()
        sink.write_predictions(
            [PredictionRecord("a1", time.time() - 60, "plain", 1, "v1", [row], [0], 2.0)]
        )
    finally:
        sink.close()
    result = invoke(saved.home, "telemetry", "report", "plain")
    assert result.exit_code == 0, result.stderr
    assert field(result.stdout, "requests") == "1 (1 row)"
    assert "note: The package holds no training baseline: drift was not measured." in (
        result.stdout.splitlines()
    )
    assert "Drift against" not in result.stdout


@pytest.mark.parametrize(
    ("url", "missing"),
    [
        (None, "roost-home/telemetry.sqlite3"),
        ("sqlite:///{tmp}/typo.sqlite3", "typo.sqlite3"),
        ("{tmp}/typo.jsonl", "typo.jsonl"),
        ("jsonl:///{tmp}/typo.jsonl", "typo.jsonl"),
    ],
    ids=["default", "sqlite-url", "jsonl-path", "jsonl-url"],
)
def test_report_without_a_sink_is_one_line_and_creates_nothing(
    saved: Registry, tmp_path: Path, url: str | None, missing: str
) -> None:
    """A report never creates the sink it reads: a mistyped path must not look empty."""
    args = [] if url is None else ["--url", url.format(tmp=tmp_path)]
    result = invoke(saved.home, "telemetry", "report", "iris", *args)
    assert_error(result, 1, "no telemetry at ", missing, "`roost serve REF --telemetry`")
    assert not (saved.home / "telemetry.sqlite3").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["roost-home"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--since", "5x"], "--since: expected a duration such as 30m, 1h, 2d or 1w, got '5x'"),
        (["--late-after", "soon"], "--late-after: expected a duration"),
    ],
    ids=["since", "late-after"],
)
def test_report_malformed_duration_is_exit_2(
    logged: Registry, args: list[str], fragment: str
) -> None:
    assert_error(invoke(logged.home, "telemetry", "report", "iris", *args), 2, fragment)


def test_report_unknown_model_is_exit_3(logged: Registry) -> None:
    result = invoke(logged.home, "telemetry", "report", "nope")
    assert_error(result, 3, "model 'nope' not found")


# ------------------------------------------------------------------ roost telemetry estimate


def estimate(home: Path, *args: str) -> str:
    result = invoke(home, "telemetry", "estimate", "iris", *args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


def size_in_bytes(text: str) -> float:
    """``350 B`` or ``1.2 kB`` (as ``format_bytes`` writes them) in bytes."""
    number, unit = text.split()[:2]
    return float(number) * 1000.0 ** ["B", "kB", "MB", "GB", "TB"].index(unit)


def expected_record_bytes(registry: Registry, n_rows: int) -> int:
    """The size of a record of the package's first ``n_rows`` example rows, as logged."""
    found = registry.resolve("iris")
    example = registry.path(found) / "examples" / "input_example.json"
    rows = json.loads(example.read_text(encoding="utf-8"))[:n_rows]
    outputs = registry.load(found).predict(rows)
    return record_bytes(PredictionRecord("0" * 32, 0.0, "iris", 1, "v1", rows, outputs, 1.0))


def test_estimate_measures_one_record_of_the_example(saved: Registry) -> None:
    stdout = estimate(saved.home, "--rate", "200", "--sample", "0.1")
    size = expected_record_bytes(saved, 1)
    assert 100 < size < 1000  # four numbers in, a label and three probabilities out
    assert field(stdout, "one record") == f"{format_bytes(size)} (1 row, measured)"
    assert field(stdout, "logged") == "20 requests/s (10% of 200)"


def test_estimate_daily_volume_is_records_times_record_size(saved: Registry) -> None:
    stdout = estimate(saved.home, "--rate", "200", "--sample", "0.1")
    records_per_day = 200 * 0.1 * 86_400
    assert field(stdout, "records a day") == f"{records_per_day:,.0f}"
    size = size_in_bytes(field(stdout, "one record"))
    assert field(stdout, "written a day") == format_bytes(records_per_day * size)


def test_estimate_more_rows_per_request_give_a_bigger_record(saved: Registry) -> None:
    one = field(estimate(saved.home, "--rate", "1"), "one record")
    three = field(estimate(saved.home, "--rate", "1", "--rows-per-request", "3"), "one record")
    assert three == f"{format_bytes(expected_record_bytes(saved, 3))} (3 rows, measured)"
    assert size_in_bytes(three) > size_in_bytes(one)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--rate", "200", "--sample", "2"], "--sample: expected a share from 0 to 1, got 2"),
        (["--rate", "-1"], "--rate: expected a number >= 0, got -1"),
        (["--rate", "nan"], "--rate: expected a number >= 0, got nan"),
        (["--rate", "1", "--rows-per-request", "0"], "--rows-per-request: expected 1 or more"),
        (["--rate", "1", "--feedback-rate", "1.5"], "--feedback-rate: expected a share"),
        (["--rate", "1", "--retention-days", "-7"], "--retention-days: expected a number >= 0"),
        (["--rate", "1", "--price-per-gb", "-1"], "--price-per-gb: expected a number >= 0"),
    ],
    ids=["sample", "rate", "rate-nan", "rows", "feedback", "retention", "price"],
)
def test_estimate_bad_value_is_exit_2_naming_the_option(
    saved: Registry, args: list[str], fragment: str
) -> None:
    assert_error(invoke(saved.home, "telemetry", "estimate", "iris", *args), 2, fragment)


def test_estimate_unknown_model_is_exit_3(saved: Registry) -> None:
    result = invoke(saved.home, "telemetry", "estimate", "nope", "--rate", "1")
    assert_error(result, 3, "model 'nope' not found")


# ------------------------------------------------------------------ the option parsers


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("15m", 900.0),
        ("1h", 3600.0),
        ("2d", 172_800.0),
        ("1w", 604_800.0),
        ("1.5h", 5400.0),
        (" 90m ", 5400.0),
        ("0m", 0.0),
    ],
    ids=["seconds", "minutes", "hours", "days", "weeks", "fraction", "spaces", "zero"],
)
def test_parse_duration_reads_number_and_unit(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text",
    ["5x", "", "h", "30", "-1h", "1h30m", "1e3s", "1H"],
    ids=["unit", "empty", "no-number", "no-unit", "negative", "compound", "exponent", "upper"],
)
def test_parse_duration_refuses_malformed(text: str) -> None:
    with pytest.raises(ConfigError, match=rf"^--late-after: expected a duration .*got {text!r}$"):
        parse_duration(text, "--late-after")


@pytest.mark.parametrize(
    ("texts", "parsed"),
    [
        ([], (1.0, {})),
        (["0.1"], (0.1, {})),
        (["iris=1"], (1.0, {"iris": 1.0})),
        (["0", "iris=0.5", "fraud=1"], (0.0, {"iris": 0.5, "fraud": 1.0})),
        ([" iris = 0.5 "], (1.0, {"iris": 0.5})),
    ],
    ids=["none", "default", "model-only", "both", "spaces"],
)
def test_parse_sample_options_reads_default_and_models(
    texts: list[str], parsed: tuple[float, dict[str, float]]
) -> None:
    assert parse_sample_options(texts) == parsed


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        (["1.5"], "got '1.5'"),
        (["-0.1"], "got '-0.1'"),
        (["x"], "got 'x'"),
        (["nan"], "got 'nan'"),
        (["=0.3"], "got '=0.3'"),
        (["iris="], "got 'iris='"),
        (["iris=2"], "got 'iris=2'"),
        (["0.1", "0.2"], "the default rate is given twice (0.1, 0.2)"),
    ],
    ids=["above-one", "negative", "word", "nan", "no-name", "no-rate", "model-above", "twice"],
)
def test_parse_sample_options_refuses_malformed(texts: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=f"^--sample: .*{re.escape(message)}$"):
        parse_sample_options(texts)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://roost:s3cret@db/telemetry", "postgresql://roost:***@db/telemetry"),
        (
            "postgresql://db/telemetry?user=roost&Password=s3cret&sslmode=require",
            "postgresql://db/telemetry?user=roost&Password=***&sslmode=require",
        ),
        ("postgresql://roost:s3/c@ret@db/t", "postgresql://roost:***@db/t"),
        (
            "postgresql://roost:s3cret@db/t?application_name=a@b",
            "postgresql://roost:***@db/t?application_name=a@b",
        ),
        ("postgresql://roost@db/telemetry", "postgresql://roost@db/telemetry"),
        ("sqlite:///srv/a:b@c/telemetry.sqlite3", "sqlite:///srv/a:b@c/telemetry.sqlite3"),
        ("/srv/roost/telemetry.sqlite3", "/srv/roost/telemetry.sqlite3"),
    ],
    ids=["userinfo", "query", "odd-password", "at-in-query", "no-password", "file-url", "path"],
)
def test_mask_password_hides_only_the_password(url: str, shown: str) -> None:
    assert mask_password(url) == shown
