"""Every sink (SQLite, PostgreSQL, JSON lines) keeps predictions and feedback the same way."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from roost.errors import ConfigError, TelemetryError
from roost.telemetry._jsonl_sink import JsonlSink
from roost.telemetry._records import (
    DUPLICATE,
    RECORDED,
    FeedbackRecord,
    PredictionRecord,
    RenderedPrediction,
)
from roost.telemetry._sink import Sink, dump_json, mask_password, open_sink
from roost.telemetry._sql_sink import RECORDS_PER_BATCH
from roost.telemetry._sqlite_sink import SqliteSink

T0 = 1_800_000_000.0
TIMEOUT_S = 120


def prediction(
    prediction_id: str,
    ts: float,
    model: str = "fraud",
    *,
    inputs: list[Any] | None = None,
    outputs: list[Any] | None = None,
    path: list[str] | None = None,
) -> PredictionRecord:
    return PredictionRecord(
        prediction_id=prediction_id,
        timestamp=ts,
        model=model,
        version=3,
        protocol="v2",
        inputs=[{"amount": 12.5, "country": "NL"}] if inputs is None else inputs,
        outputs=[1] if outputs is None else outputs,
        latency_ms=4.25,
        path=path,
    )


def feedback(prediction_id: str, received_at: float, truth: object = 1) -> FeedbackRecord:
    return FeedbackRecord(prediction_id, truth, received_at)


@pytest.fixture(
    params=[
        "sqlite",
        "jsonl",
        pytest.param("postgres", marks=pytest.mark.integration),
    ]
)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a new, empty sink of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'telemetry.sqlite3'}"
    if request.param == "jsonl":
        return f"jsonl:///{tmp_path / 'telemetry.jsonl'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def sink(url: str) -> Iterator[Sink]:
    opened = open_sink(url)
    yield opened
    opened.close()


def ids(records: list[PredictionRecord]) -> list[str]:
    return [record.prediction_id for record in records]


# ------------------------------------------------------------------- round trips


def test_sink_round_trips_every_field(sink: Sink) -> None:
    written = [
        prediction("a", T0, path=["scaler", "forest"], outputs=[0.25, 0.75]),
        prediction("b", T0 + 1, inputs=[[1, 2], [3, 4]], outputs=[[0.1, 0.9], [0.8, 0.2]]),
    ]
    sink.write_predictions(written)
    assert sink.predictions() == written


def test_sink_takes_rendered_records_and_batches_past_one_batch_row(sink: Sink) -> None:
    """Serving hands over rendered records; a write longer than a batch row loses nothing."""
    written = [
        prediction(f"p{i:05d}", T0 + i, "fraud" if i % 3 else "churn", outputs=[i])
        for i in range(2 * RECORDS_PER_BATCH + 7)
    ]
    rendered = [RenderedPrediction.of(record) for record in written]
    sink.write_predictions([*rendered[:-3], *written[-3:]])  # both kinds in one write
    assert sink.predictions() == written
    assert sink.predictions(model="churn") == [r for r in written if r.model == "churn"]
    sink.write_predictions(rendered[5:9])  # a retry: ignored
    assert len(sink.predictions()) == len(written)


def test_rendered_record_round_trips() -> None:
    record = prediction("a", T0, path=["fast", "rule:cap"], inputs=[np.array([1.5, np.nan])])
    rendered = RenderedPrediction.of(record)
    assert (rendered.prediction_id, rendered.timestamp, rendered.model) == ("a", T0, "fraud")
    assert rendered.line.startswith('["a",1800000000.0,"fraud",3,"v2",[[1.5,null]],[1],')
    assert rendered.record() == prediction("a", T0, path=["fast", "rule:cap"], inputs=[[1.5, None]])


def test_rendered_record_keeps_the_other_fields_when_one_cannot_be_encoded() -> None:
    record = prediction("a", T0, outputs=[2**70])
    assert RenderedPrediction.of(record).record() == prediction(
        "a", T0, outputs=["[1180591620717411303424]"]
    )


def test_sink_stores_numpy_values_and_nan_as_json(sink: Sink) -> None:
    sink.write_predictions(
        [prediction("a", T0, inputs=[np.array([1.5, np.nan])], outputs=[np.int64(2)])]
    )
    (read,) = sink.predictions()
    assert read.inputs == [[1.5, None]]
    assert read.outputs == [2]


def test_sink_retried_prediction_ids_are_ignored(sink: Sink) -> None:
    """A retried batch (ids already stored) neither fails nor doubles the records."""
    sink.write_predictions([prediction("a", T0), prediction("b", T0 + 1)])
    sink.write_predictions([prediction("b", T0 + 1), prediction("c", T0 + 2)])
    sink.write_predictions([prediction("a", T0)])  # a whole batch repeated
    assert ids(sink.predictions()) == ["a", "b", "c"]
    sink.write_feedback([feedback("b", T0 + 5), feedback("c", T0 + 5)])
    assert [p.prediction_id for p, _ in sink.joined()] == ["b", "c"]


def test_sink_keeps_the_first_record_of_an_id_twice_in_one_batch(sink: Sink) -> None:
    sink.write_predictions([prediction("a", T0), prediction("a", T0 + 1, outputs=[0])])
    assert sink.predictions() == [prediction("a", T0)]


def test_sink_empty_batches_store_nothing(sink: Sink) -> None:
    sink.write_predictions([])
    assert sink.write_feedback([]) == []
    assert sink.predictions() == []
    assert sink.feedback_counts().recorded == 0


# --------------------------------------------------------------------- queries


def test_sink_predictions_are_ordered_by_time(sink: Sink) -> None:
    sink.write_predictions([prediction("late", T0 + 5), prediction("early", T0)])
    sink.write_predictions([prediction("middle", T0 + 2)])
    assert ids(sink.predictions()) == ["early", "middle", "late"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"model": "fraud"}, ["f0", "f2", "f4"]),
        ({"model": "churn"}, ["c1", "c3"]),
        ({"since": T0 + 2}, ["f2", "c3", "f4"]),
        ({"until": T0 + 2}, ["f0", "c1"]),
        ({"model": "fraud", "since": T0 + 1, "until": T0 + 4}, ["f2"]),
        ({"model": "unknown"}, []),
    ],
    ids=["model", "other-model", "since-inclusive", "until-exclusive", "all-three", "none"],
)
def test_sink_predictions_filter_by_model_and_window(
    sink: Sink, query: dict[str, object], expected: list[str]
) -> None:
    sink.write_predictions(
        [
            prediction(
                f"{'f' if i % 2 == 0 else 'c'}{i}", T0 + i, "fraud" if i % 2 == 0 else "churn"
            )
            for i in range(5)
        ]
    )
    assert ids(sink.predictions(**query)) == expected  # type: ignore[arg-type]


def test_sink_joined_pairs_predictions_with_their_feedback(sink: Sink) -> None:
    sink.write_predictions(
        [prediction("a", T0), prediction("b", T0 + 1), prediction("c", T0 + 2, "churn")]
    )
    sink.write_feedback([feedback("b", T0 + 50, truth=[0, 1]), feedback("c", T0 + 60)])
    sink.write_feedback([feedback("ghost", T0 + 70)])
    pairs = sink.joined()
    assert [(p.prediction_id, f.prediction_id, f.truth) for p, f in pairs] == [
        ("b", "b", [0, 1]),
        ("c", "c", 1),
    ]
    assert pairs[0][1].received_at == T0 + 50
    assert [p.prediction_id for p, _ in sink.joined(model="fraud")] == ["b"]
    assert sink.joined(since=T0 + 1.5) == pairs[1:]  # the window is on prediction time
    assert sink.joined(until=T0 + 1) == []


def test_sqlite_joined_reads_the_windows_feedback_not_all_its_predictions(
    tmp_path: Path,
) -> None:
    # the quality gauges run this every 30 s over the last hour: its work must follow
    # the feedback received, not the traffic
    sink = SqliteSink(tmp_path / "telemetry.sqlite3")
    sink.write_predictions([prediction(f"p{i}", T0 + i / 100) for i in range(20_000)])
    sink.write_feedback([feedback("p19990", T0 + 500)])
    calls = 0

    def count() -> int:
        nonlocal calls
        calls += 1
        return 0  # go on

    connection = sink._connections.get()  # this thread's, the one joined() uses
    connection.set_progress_handler(count, 100)  # called every 100 VM instructions
    try:
        pairs = sink.joined(model="fraud", since=T0)
    finally:
        connection.set_progress_handler(None, 0)
        sink.close()
    assert [p.prediction_id for p, _ in pairs] == ["p19990"]
    assert calls < 10  # walking the window's 20,000 predictions took 1,200


def test_sink_joined_finds_few_and_many_records_of_one_batch(sink: Sink) -> None:
    """Feedback for a few records of a batch row finds each one's line; feedback for
    most of them reads the whole row. Both give the same records."""
    written = [prediction(f'id "{i}"', T0 + i / 10, outputs=[i]) for i in range(40)]
    sink.write_predictions(written)  # one batch row; ids that JSON must escape
    sink.write_feedback([feedback(written[7].prediction_id, T0 + 10)])
    assert [p for p, _ in sink.joined()] == [written[7]]
    sink.write_feedback([feedback(r.prediction_id, T0 + 10) for r in written[8:]])
    assert [p for p, _ in sink.joined()] == written[7:]


# the layout of roost before batch rows: one row per record
_ROW_LAYOUT = (
    """CREATE TABLE roost_predictions (
        prediction_id TEXT PRIMARY KEY, ts {real} NOT NULL, model TEXT NOT NULL,
        version INTEGER NOT NULL, protocol TEXT NOT NULL, n_rows INTEGER NOT NULL,
        inputs TEXT NOT NULL, outputs TEXT NOT NULL, latency_ms {real} NOT NULL, path TEXT)""",
    """CREATE TABLE roost_feedback (
        prediction_id TEXT PRIMARY KEY, truth TEXT NOT NULL, received_at {real} NOT NULL,
        duplicates INTEGER NOT NULL DEFAULT 0)""",
)
_ROW_RECORDS = [
    ("b", T0 + 1, "fraud", 3, "v2", 2, '[{"amount":1}]', "[0,1]", 4.25, None),
    ("a", T0, "churn", 1, "v1", 1, "[[1.5,2]]", "[0.5]", 3.0, '["fast","rule:cap"]'),
]


@pytest.mark.parametrize(
    "kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.integration)]
)
def test_sql_sink_converts_the_rows_of_an_older_roost(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'telemetry.sqlite3'}"
        connection: Any = sqlite3.connect(tmp_path / "telemetry.sqlite3")
        real, mark = "REAL", "?"
    else:
        url = str(request.getfixturevalue("postgres_url"))
        connection = pytest.importorskip("psycopg").connect(url)
        real, mark = "DOUBLE PRECISION", "%s"
    with closing(connection):
        for statement in _ROW_LAYOUT:
            connection.execute(statement.format(real=real))
        for row in _ROW_RECORDS:
            connection.execute(
                f"INSERT INTO roost_predictions VALUES ({', '.join([mark] * 10)})", row
            )
        connection.execute(
            f"INSERT INTO roost_feedback VALUES ({mark}, {mark}, {mark}, 1)", ("b", "[0,1]", T0 + 9)
        )
        connection.commit()

    sink = open_sink(url)
    try:
        a = PredictionRecord(
            "a", T0, "churn", 1, "v1", [[1.5, 2]], [0.5], 3.0, ["fast", "rule:cap"]
        )
        b = PredictionRecord("b", T0 + 1, "fraud", 3, "v2", [{"amount": 1}], [0, 1], 4.25)
        assert sink.predictions() == [a, b]
        assert sink.joined() == [(b, FeedbackRecord("b", [0, 1], T0 + 9))]
        counts = sink.feedback_counts(model="fraud")
        assert (counts.recorded, counts.duplicates, counts.median_delay_s) == (1, 1, 8.0)
    finally:
        sink.close()
    open_sink(url).close()  # opening again finds nothing left to convert
    with closing(
        sqlite3.connect(tmp_path / "telemetry.sqlite3")
        if kind == "sqlite"
        else pytest.importorskip("psycopg").connect(url)
    ) as connection:
        (count,) = connection.execute("SELECT COUNT(*) FROM roost_prediction_batches").fetchone()
        assert count == 2  # one per model
        with pytest.raises(Exception, match="roost_predictions"):
            connection.execute("SELECT 1 FROM roost_predictions")


# -------------------------------------------------------------------- feedback


def test_sink_feedback_duplicates_keep_the_first_truth_and_are_counted(sink: Sink) -> None:
    sink.write_predictions([prediction("a", T0), prediction("b", T0)])
    assert sink.write_feedback([feedback("a", T0 + 1, truth="yes")]) == [RECORDED]
    statuses = sink.write_feedback(
        [feedback("a", T0 + 2, truth="no"), feedback("b", T0 + 2), feedback("b", T0 + 3)]
    )
    assert statuses == [DUPLICATE, RECORDED, DUPLICATE]
    assert [f.truth for _, f in sink.joined() if f.prediction_id == "a"] == ["yes"]
    counts = sink.feedback_counts()
    assert (counts.recorded, counts.duplicates) == (2, 2)


def test_sink_feedback_counts_unmatched_even_for_a_model(sink: Sink) -> None:
    """Feedback for ids not (yet) logged is unmatched; having no model, it counts for any."""
    sink.write_predictions([prediction("a", T0), prediction("c", T0, "churn")])
    sink.write_feedback([feedback("a", T0 + 1), feedback("c", T0 + 1), feedback("x", T0 + 1)])
    assert sink.feedback_counts().unmatched == 1
    fraud = sink.feedback_counts(model="fraud")
    assert (fraud.recorded, fraud.unmatched) == (2, 1)


def test_sink_feedback_matches_once_the_prediction_arrives(sink: Sink) -> None:
    sink.write_feedback([feedback("a", T0 + 1)])
    assert sink.feedback_counts().unmatched == 1
    sink.write_predictions([prediction("a", T0)])
    assert sink.feedback_counts().unmatched == 0


def test_sink_feedback_counts_late_and_median_delay(sink: Sink) -> None:
    delays = [10.0, 20.0, 40.0, 100.0]
    sink.write_predictions([prediction(f"p{i}", T0 + i) for i in range(len(delays))])
    sink.write_feedback([feedback(f"p{i}", T0 + i + d) for i, d in enumerate(delays)])
    counts = sink.feedback_counts(late_after_s=30)
    assert (counts.late, counts.median_delay_s) == (2, 30.0)  # the mean of 20 and 40
    sink.write_predictions([prediction("p9", T0)])
    sink.write_feedback([feedback("p9", T0 + 1000)])
    assert sink.feedback_counts(late_after_s=30).median_delay_s == 40.0


def test_sink_feedback_counts_since_and_median_of_none(sink: Sink) -> None:
    sink.write_predictions([prediction("a", T0), prediction("b", T0)])
    sink.write_feedback([feedback("a", T0 + 10), feedback("b", T0 + 100)])
    counts = sink.feedback_counts(since=T0 + 50)
    assert (counts.recorded, counts.median_delay_s) == (1, 100.0)
    nothing = sink.feedback_counts(since=T0 + 500)
    assert (nothing.recorded, nothing.late, nothing.median_delay_s) == (0, 0, None)


def test_sink_closed_refuses_to_write(url: str) -> None:
    sink = open_sink(url)
    sink.close()
    sink.close()  # idempotent
    with pytest.raises(TelemetryError, match="closed"):
        sink.write_feedback([feedback("a", T0)])


def test_sink_writes_from_several_threads(sink: Sink) -> None:
    """The log's writer thread and feedback threads write at once, each with its own turn."""

    def write(thread: int) -> None:
        for batch in range(10):
            sink.write_predictions(
                [prediction(f"t{thread}-{batch}-{i}", T0 + i) for i in range(20)]
            )
            sink.write_feedback([feedback(f"t{thread}-{batch}-0", T0 + 30)])

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT_S)
    assert len(sink.predictions()) == 4 * 10 * 20
    assert sink.feedback_counts().recorded == 4 * 10


# ------------------------------------------------------------- several processes

WRITER = """
import sys
from roost.telemetry._records import FeedbackRecord, PredictionRecord
from roost.telemetry._sink import open_sink

url, tag = sys.argv[1], sys.argv[2]
print("ready", flush=True)
sys.stdin.readline()  # the parent says go once every child is ready
sink = open_sink(url)  # so the children create the tables at once, too
for batch in range(20):
    sink.write_predictions([
        PredictionRecord(f"{tag}-{batch}-{i}", 1.8e9 + i, "fraud", 1, "v1", [[i]], [i], 1.0)
        for i in range(25)
    ])
    sink.write_feedback([FeedbackRecord(f"{tag}-{batch}-{i}", i, 1.8e9 + 60) for i in range(3)])
sink.close()
"""


def run_at_once(script: str, args: list[list[str]]) -> None:
    """Start one child per argument list, let them go together, and check they succeed."""
    children = [
        subprocess.Popen(
            [sys.executable, "-c", script, *child_args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for child_args in args
    ]
    try:
        for child in children:
            assert child.stdout is not None
            assert child.stdout.readline() == "ready\n", child.communicate()[1]
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        results = [child.communicate(timeout=TIMEOUT_S) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    for child, (_, stderr) in zip(children, results, strict=True):
        assert child.returncode == 0, stderr


@pytest.mark.integration
def test_sink_two_processes_writing_at_once_lose_nothing(url: str) -> None:
    run_at_once(WRITER, [[url, "one"], [url, "two"]])
    sink = open_sink(url)
    try:
        stored = ids(sink.predictions())
        counts = sink.feedback_counts()
    finally:
        sink.close()
    expected = {f"{tag}-{b}-{i}" for tag in ("one", "two") for b in range(20) for i in range(25)}
    assert sorted(stored) == sorted(expected)
    assert (counts.recorded, counts.duplicates, counts.unmatched) == (2 * 20 * 3, 0, 0)


ACKNOWLEDGER = """
import sys
from roost.telemetry._records import FeedbackRecord
from roost.telemetry._sqlite_sink import SqliteSink

sink = SqliteSink(sys.argv[1])
n = 0
while True:
    sink.write_feedback([FeedbackRecord(f"id-{n}", n, 1.8e9)])
    print(f"id-{n}", flush=True)  # acknowledged: the write returned
    n += 1
"""


@pytest.mark.integration
def test_sqlite_acknowledged_feedback_survives_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.sqlite3"
    child = subprocess.Popen(
        [sys.executable, "-c", ACKNOWLEDGER, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    acknowledged: list[str] = []
    try:
        assert child.stdout is not None
        while len(acknowledged) < 200:
            line = child.stdout.readline()
            assert line.endswith("\n"), child.communicate(timeout=TIMEOUT_S)[1]
            acknowledged.append(line.strip())
    finally:
        child.kill()  # SIGKILL, mid-stream: it is writing the next one
        rest, _ = child.communicate(timeout=TIMEOUT_S)  # reaps it and closes the pipes
    acknowledged += [line.strip() for line in rest.splitlines(keepends=True) if line[-1] == "\n"]
    assert child.returncode == -signal.SIGKILL
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        stored = {row[0] for row in connection.execute("SELECT prediction_id FROM roost_feedback")}
    assert set(acknowledged) <= stored


# ------------------------------------------------------------------- JSON lines


def test_jsonl_torn_last_line_is_skipped_and_the_next_batch_kept(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.jsonl"
    sink = JsonlSink(path)
    try:
        sink.write_predictions([prediction("a", T0)])
        with path.open("ab") as file:  # a crash mid-write
            file.write(b'{"kind": "prediction", "prediction_id": "to')
        assert ids(sink.predictions()) == ["a"]
        sink.write_predictions([prediction("b", T0 + 1)])
        assert ids(sink.predictions()) == ["a", "b"]
    finally:
        sink.close()


def test_jsonl_lines_name_their_kind(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.jsonl"
    sink = JsonlSink(path)
    sink.write_predictions([prediction("a", T0)])
    sink.write_feedback([feedback("a", T0 + 1, truth=[1, 0])])
    sink.close()
    lines = path.read_text().splitlines()
    assert [line.split(",")[0] for line in lines] == ['{"kind":"prediction"', '{"kind":"feedback"']
    assert lines[1].endswith('"truth":[1,0],"received_at":1800000001.0}')
    assert orjson.loads(lines[0]) == {
        "kind": "prediction",
        "prediction_id": "a",
        "timestamp": T0,
        "model": "fraud",
        "version": 3,
        "protocol": "v2",
        "inputs": [{"amount": 12.5, "country": "NL"}],
        "outputs": [1],
        "latency_ms": 4.25,
        "path": None,
        "n_rows": 1,
    }


def test_jsonl_duplicates_across_sink_objects_are_found_when_reading(tmp_path: Path) -> None:
    """Another process's earlier feedback is not known when writing, only when reading."""
    first, second = JsonlSink(tmp_path / "t.jsonl"), JsonlSink(tmp_path / "t.jsonl")
    assert first.write_feedback([feedback("a", T0, truth=1)]) == [RECORDED]
    assert second.write_feedback([feedback("a", T0 + 1, truth=2)]) == [RECORDED]
    counts = second.feedback_counts()
    assert (counts.recorded, counts.duplicates) == (1, 1)
    second.write_predictions([prediction("a", T0 - 1)])
    assert [f.truth for _, f in first.joined()] == [1]
    first.close()
    second.close()


# ---------------------------------------------------------------- open_sink


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("t.sqlite3", SqliteSink),
        ("t.sqlite", SqliteSink),
        ("t.db", SqliteSink),
        ("t.jsonl", JsonlSink),
    ],
    ids=["sqlite3", "sqlite", "db", "jsonl"],
)
def test_open_sink_picks_the_sink_from_the_path(tmp_path: Path, name: str, kind: type) -> None:
    sink = open_sink(str(tmp_path / "sub" / name))
    try:
        assert isinstance(sink, kind)
        assert (tmp_path / "sub" / name).exists()
    finally:
        sink.close()


@pytest.mark.parametrize(
    "url",
    ["telemetry.csv", "mysql://root:hunter2@db/x", "sqlite:/t.sqlite3", "telemetry"],
    ids=["suffix", "scheme", "malformed", "bare"],
)
def test_open_sink_unknown_url_raises_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="expected sqlite:///PATH") as caught:
        open_sink(url)
    assert "hunter2" not in str(caught.value)
    assert mask_password(url) in str(caught.value)


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://roost:hunter2@db:5432/t", "postgresql://roost:***@db:5432/t"),
        (
            "postgresql://roost@db/t?password=hunter2&x=1",
            "postgresql://roost@db/t?password=***&x=1",
        ),
        ("postgresql://db/t", "postgresql://db/t"),
        ("/var/lib/t.sqlite3", "/var/lib/t.sqlite3"),
    ],
    ids=["userinfo", "query", "none", "path"],
)
def test_mask_password_hides_only_the_password(url: str, masked: str) -> None:
    assert mask_password(url) == masked


def test_open_sink_unwritable_folder_raises_telemetry_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    for name in ("t.sqlite3", "t.jsonl"):
        with pytest.raises(TelemetryError, match=r"telemetry sink .*file/t\.") as caught:
            open_sink(str(blocker / name))
        assert "\n" not in str(caught.value)


@pytest.mark.integration
def test_open_sink_unreachable_postgres_raises_telemetry_error() -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(TelemetryError, match="cannot connect") as caught:
        open_sink("postgresql://roost:hunter2@127.0.0.1:1/t?connect_timeout=5")
    message = str(caught.value)
    assert "postgresql://roost:***@127.0.0.1:1/t" in message
    assert "hunter2" not in message
    assert "\n" not in message


@pytest.mark.integration
def test_postgres_tables_live_in_the_url_search_path(postgres_url: str) -> None:
    psycopg = pytest.importorskip("psycopg")
    open_sink(postgres_url).close()
    with psycopg.connect(postgres_url) as connection:
        schema, tables = connection.execute(
            "SELECT current_schema(), array_agg(table_name::text ORDER BY table_name) "
            "FROM information_schema.tables WHERE table_schema = current_schema() "
            "GROUP BY 1"
        ).fetchone()
    assert schema.startswith("roost_test_")
    assert tables == ["roost_feedback", "roost_prediction_batches", "roost_prediction_ids"]


class _Odd:
    def __str__(self) -> str:
        return "odd"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({1: _Odd()}, b'{"1":"odd"}'),
        ([float("nan"), np.float32(0.5)], b"[null,0.5]"),
        (2**70, b'"1180591620717411303424"'),
    ],
    ids=["object-and-int-key", "nan-and-numpy", "huge-int"],
)
def test_dump_json_encodes_what_json_cannot_hold(value: Any, expected: bytes) -> None:
    """One odd value must never make a whole batch unwritable."""
    assert dump_json(value) == expected
