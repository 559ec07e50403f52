"""The prediction log samples, buffers and writes off the request path, and counts everything."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from roost.errors import ConfigError
from roost.telemetry._records import FeedbackRecord, FeedbackStatus, PredictionRecord
from roost.telemetry._sink import FeedbackCounts
from roost.telemetry.log import LogCounts, PredictionLog

WAIT_S = 10.0  # only ever reached when a test fails


class FakeSink:
    """Keeps batches in memory; can fail its next writes, or block until released."""

    url = "fake://sink"

    def __init__(self, failures: int = 0, blocked: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.failures = failures
        self.release = threading.Event()
        if not blocked:
            self.release.set()
        self.entered = threading.Event()  # a write has started
        self.wrote = threading.Event()  # a write has succeeded
        self.closed = False

    def write_predictions(self, records: Sequence[PredictionRecord]) -> None:
        self.entered.set()
        self.release.wait(WAIT_S)
        if self.failures:
            self.failures -= 1
            raise OSError("disk unplugged")
        self.batches.append([record.prediction_id for record in records])
        self.wrote.set()

    @property
    def written(self) -> list[str]:
        return [prediction_id for batch in self.batches for prediction_id in batch]

    def write_feedback(self, records: Sequence[FeedbackRecord]) -> list[FeedbackStatus]:
        raise NotImplementedError

    def predictions(
        self, model: str | None = None, since: float | None = None, until: float | None = None
    ) -> list[PredictionRecord]:
        raise NotImplementedError

    def joined(
        self, model: str | None = None, since: float | None = None, until: float | None = None
    ) -> list[tuple[PredictionRecord, FeedbackRecord]]:
        raise NotImplementedError

    def feedback_counts(
        self, model: str | None = None, since: float | None = None, late_after_s: float = 86400
    ) -> FeedbackCounts:
        raise NotImplementedError

    def close(self) -> None:
        self.closed = True


def record(n: int, model: str = "fraud") -> PredictionRecord:
    return PredictionRecord(f"p{n}", 1.8e9 + n, model, 1, "v1", [[n]], [n], 1.0)


MakeLog = Callable[..., PredictionLog]


@pytest.fixture
def make_log() -> Iterator[MakeLog]:
    """Make logs whose writer threads are stopped when the test ends."""
    made: list[tuple[PredictionLog, FakeSink]] = []

    def make(sink: FakeSink, **options: Any) -> PredictionLog:
        prediction_log = PredictionLog(sink, **options)
        made.append((prediction_log, sink))
        return prediction_log

    yield make
    for prediction_log, sink in made:
        sink.release.set()
        prediction_log.close(timeout_s=WAIT_S)


def counts(
    prediction_log: PredictionLog,
) -> tuple[int, int, int, int, int, int]:
    c: LogCounts = prediction_log.counts
    return (c.sampled, c.skipped, c.dropped, c.written, c.write_failures, c.buffered)


# -------------------------------------------------------------------- sampling


def test_wants_samples_with_the_injected_random(make_log: MakeLog) -> None:
    draws = iter([0.1, 0.7, 0.29, 0.3])
    prediction_log = make_log(FakeSink(), sample_rate=0.3, random=lambda: next(draws))
    assert [prediction_log.wants("fraud") for _ in range(4)] == [True, False, True, False]
    assert prediction_log.counts.skipped == 2


def test_wants_uses_each_models_own_rate(make_log: MakeLog) -> None:
    calls = []

    def random() -> float:
        calls.append(1)
        return 0.5

    prediction_log = make_log(
        FakeSink(),
        sample_rate=0.6,
        sample_rates={"off": 0.0, "all": 1.0, "few": 0.4},
        random=random,
    )
    assert [prediction_log.wants(m) for m in ("off", "all", "few", "other")] == [
        False,
        True,
        False,
        True,
    ]
    assert len(calls) == 2  # rates of 0 and 1 need no draw
    assert prediction_log.counts.skipped == 2


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"sample_rate": 1.5}, "sample_rate"),
        ({"sample_rate": -0.1}, "sample_rate"),
        ({"sample_rates": {"fraud": 2}}, "sample_rates['fraud']"),
        ({"max_buffer": 0}, "max_buffer"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"flush_interval_s": 0}, "flush_interval_s"),
    ],
    ids=["rate-high", "rate-negative", "model-rate", "buffer", "batch", "batch-float", "interval"],
)
def test_prediction_log_bad_argument_raises_naming_it(
    options: dict[str, object], named: str
) -> None:
    with pytest.raises(ConfigError, match=f"^{named.replace('[', '.').replace(']', '.')}: "):
        PredictionLog(FakeSink(), **options)  # type: ignore[arg-type]


# -------------------------------------------------------------- buffer and batches


def test_record_full_buffer_drops_the_oldest_and_counts_them(make_log: MakeLog) -> None:
    sink = FakeSink()
    prediction_log = make_log(sink, max_buffer=3)
    for n in range(5):
        prediction_log.record(record(n))
    assert counts(prediction_log) == (5, 0, 2, 0, 0, 3)
    assert prediction_log.flush(WAIT_S)
    assert sink.written == ["p2", "p3", "p4"]
    assert counts(prediction_log) == (5, 0, 2, 3, 0, 0)


def test_writer_writes_at_most_batch_size_records_at_a_time(make_log: MakeLog) -> None:
    sink = FakeSink()
    prediction_log = make_log(sink, batch_size=10)
    for n in range(25):
        prediction_log.record(record(n))
    assert prediction_log.flush(WAIT_S)
    assert [len(batch) for batch in sink.batches] == [10, 10, 5]
    assert sink.written == [f"p{n}" for n in range(25)]


def test_writer_wakes_for_a_full_batch_without_waiting_the_interval(make_log: MakeLog) -> None:
    sink = FakeSink()
    prediction_log = make_log(sink, batch_size=5, flush_interval_s=3600)
    prediction_log.start()
    for n in range(4):
        prediction_log.record(record(n))
    assert not sink.wrote.wait(0.05)  # four wait for the interval
    prediction_log.record(record(4))
    assert sink.wrote.wait(WAIT_S)
    assert sink.batches == [["p0", "p1", "p2", "p3", "p4"]]


def test_writer_writes_a_partial_batch_every_interval(make_log: MakeLog) -> None:
    sink = FakeSink()
    prediction_log = make_log(sink, flush_interval_s=0.01)
    prediction_log.start()
    prediction_log.record(record(0))
    assert sink.wrote.wait(WAIT_S)  # nobody called flush
    assert sink.written == ["p0"]


# ----------------------------------------------------------------- failing sink


def test_writer_retries_a_failing_sink_and_writes_once_it_recovers(
    make_log: MakeLog, caplog: pytest.LogCaptureFixture
) -> None:
    sink = FakeSink(failures=2)
    prediction_log = make_log(sink)
    for n in range(3):
        prediction_log.record(record(n))
    with caplog.at_level(logging.WARNING, logger="roost.telemetry.log"):
        assert prediction_log.flush(WAIT_S)
    assert sink.written == ["p0", "p1", "p2"]
    assert counts(prediction_log) == (3, 0, 0, 3, 2, 0)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # one per failure streak, not one per retry
    assert "fake://sink" in warnings[0].getMessage()
    assert "disk unplugged" in warnings[0].getMessage()


def test_record_returns_at_once_while_the_sink_is_blocked(make_log: MakeLog) -> None:
    sink = FakeSink(blocked=True)
    prediction_log = make_log(sink, max_buffer=100, batch_size=10)
    prediction_log.start()
    prediction_log.record(record(0))
    assert prediction_log.flush(0.01) is False  # the write of p0 hangs
    assert sink.entered.wait(WAIT_S)
    started = time.perf_counter()
    for n in range(1, 10_001):
        prediction_log.record(record(n))
    elapsed_s = time.perf_counter() - started
    assert elapsed_s < 1.0  # ~10 ms in fact; a blocked record() would hang for WAIT_S
    assert counts(prediction_log) == (10_001, 0, 9_900, 0, 0, 101)
    sink.release.set()
    assert prediction_log.flush(WAIT_S)
    assert sink.written == ["p0", *(f"p{n}" for n in range(9_901, 10_001))]
    assert counts(prediction_log)[2:] == (9_900, 101, 0, 0)


class BusySink(FakeSink):
    """Each write spends ``cpu_s`` of this thread's CPU, then sleeps ``sleep_s``."""

    def __init__(self, cpu_s: float, sleep_s: float, failures: int = 0) -> None:
        super().__init__(failures=failures)
        self.cpu_s = cpu_s
        self.sleep_s = sleep_s

    def write_predictions(self, records: Sequence[PredictionRecord]) -> None:
        deadline = time.thread_time() + self.cpu_s
        while time.thread_time() < deadline:
            pass
        time.sleep(self.sleep_s)
        super().write_predictions(records)


def test_counts_the_cpu_time_of_writes_failed_ones_included_but_not_their_waits(
    make_log: MakeLog,
) -> None:
    sink = BusySink(cpu_s=0.05, sleep_s=0.2, failures=1)
    prediction_log = make_log(sink, batch_size=1)
    for n in range(2):
        prediction_log.record(record(n))
    assert prediction_log.flush(WAIT_S)
    assert sink.written == ["p0", "p1"]
    # three writes (one failed) of 50 ms of CPU each; with their sleeps it would be 0.75 s
    assert 0.15 <= prediction_log.counts.write_cpu_s < 0.4


# ---------------------------------------------------------------- flush and close


def test_flush_with_nothing_recorded_returns_true(make_log: MakeLog) -> None:
    assert make_log(FakeSink()).flush(WAIT_S)


def test_close_writes_what_is_left_stops_and_closes_the_sink(make_log: MakeLog) -> None:
    sink = FakeSink()
    prediction_log = make_log(sink, flush_interval_s=3600)
    prediction_log.start()
    prediction_log.record(record(0))
    prediction_log.close()
    assert sink.written == ["p0"]
    assert sink.closed
    assert not any(t.name == "roost-prediction-log" for t in threading.enumerate())
    prediction_log.record(record(1))  # too late: counted, never written
    prediction_log.close()  # idempotent
    assert counts(prediction_log) == (1, 0, 1, 1, 0, 0)


def test_close_counts_what_a_failing_sink_never_took_as_dropped(
    make_log: MakeLog, caplog: pytest.LogCaptureFixture
) -> None:
    sink = FakeSink(failures=1_000_000)
    prediction_log = make_log(sink, batch_size=2)
    for n in range(5):
        prediction_log.record(record(n))
    with caplog.at_level(logging.WARNING, logger="roost.telemetry.log"):
        prediction_log.close(timeout_s=0.2)
    sampled, _, dropped, written, failures, buffered = counts(prediction_log)
    assert (sampled, dropped, written, buffered) == (5, 5, 0, 0)
    assert failures >= 1
    assert sink.closed
    reported = [r.getMessage() for r in caplog.records if "were dropped" in r.getMessage()]
    assert reported == [
        "prediction log: 5 records could not be written to fake://sink and were dropped"
    ]
