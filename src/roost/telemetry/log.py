"""The prediction log: serving hands it records and never waits for the sink.

``record`` appends to an in-memory deque and bumps a counter; nothing else happens on
the request path. A daemon thread takes batches from the deque and writes them to the
sink. When the sink is slow or down the deque fills up; past ``max_buffer`` the oldest
records are dropped and counted, so memory stays bounded and nothing is lost silently.

Each counter has one writer thread (``record`` and ``wants`` the event loop, the others
the writer thread), so the counts need no lock and only ever grow. The writer thread also
adds up the CPU time its writes take, which ``/metrics`` exports: the part of telemetry's
cost that is not on the request path.
"""

from __future__ import annotations

import logging
import random as _random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from roost.errors import ConfigError
from roost.telemetry._records import LoggedPrediction
from roost.telemetry._sink import Sink

__all__ = ["LogCounts", "PredictionLog"]

log = logging.getLogger(__name__)

#: the pause before the first retry of a failed write; it doubles up to _MAX_RETRY_S
_FIRST_RETRY_S = 0.05
_MAX_RETRY_S = 5.0


@dataclass(frozen=True, slots=True)
class LogCounts:
    """A snapshot of what the prediction log did with the requests it saw.

    Attributes:
        sampled: records handed to ``record``.
        skipped: requests ``wants`` declined (sampling).
        dropped: records never written: pushed out of a full buffer, recorded after
            ``close``, or still unwritten when ``close`` gave up.
        written: records the sink accepted.
        write_failures: writes the sink refused (each retried).
        buffered: records waiting to be written now.
        write_cpu_s: CPU time the writer thread spent in the sink's writes, failed ones
            included: what logging costs the server beyond the request path.
    """

    sampled: int
    skipped: int
    dropped: int
    written: int
    write_failures: int
    buffered: int
    write_cpu_s: float


class PredictionLog:
    """Buffers prediction records in memory and writes them to a sink from a background thread.

    Args:
        sink: where the records go.
        sample_rate: the share of requests logged, 0 to 1.
        sample_rates: a share that differs for some models, by model name.
        max_buffer: records held while the sink catches up; past it the oldest are dropped.
        batch_size: the most records per write; a full batch is written without waiting.
        flush_interval_s: how often a partial batch is written.
        random: a source of floats in [0, 1), for sampling (injected by tests).

    Raises:
        ConfigError: an argument is out of range.

    Example:
        >>> sink = open_sink("telemetry.sqlite3")  # doctest: +SKIP
        >>> prediction_log = PredictionLog(sink, sample_rate=0.1)  # doctest: +SKIP
        >>> prediction_log.start()  # doctest: +SKIP
        >>> if prediction_log.wants("fraud"):  # doctest: +SKIP
        ...     prediction_log.record(record)
        >>> prediction_log.close()  # doctest: +SKIP
    """

    def __init__(
        self,
        sink: Sink,
        *,
        sample_rate: float = 1.0,
        sample_rates: Mapping[str, float] | None = None,
        max_buffer: int = 100_000,
        batch_size: int = 1000,
        flush_interval_s: float = 0.5,
        random: Callable[[], float] = _random.random,
    ) -> None:
        rates = dict(sample_rates or {})
        for name, rate in (("sample_rate", sample_rate), *_named(rates)):
            if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
                raise ConfigError(f"{name}: expected a share from 0 to 1, got {rate!r}")
        for name, size in (("max_buffer", max_buffer), ("batch_size", batch_size)):
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise ConfigError(f"{name}: expected a whole number >= 1, got {size!r}")
        if (
            isinstance(flush_interval_s, bool)
            or not isinstance(flush_interval_s, int | float)
            or not flush_interval_s > 0
        ):
            raise ConfigError(
                f"flush_interval_s: expected a positive number of seconds, got {flush_interval_s!r}"
            )
        self.sink = sink
        self._sample_rate = float(sample_rate)
        self._sample_rates = {model: float(rate) for model, rate in rates.items()}
        self._max_buffer = max_buffer
        self._batch_size = batch_size
        self._flush_interval_s = float(flush_interval_s)
        self._random = random

        self._buffer: deque[LoggedPrediction] = deque()
        self._batch: list[LoggedPrediction] = []  # taken from the buffer, not yet written
        self._wake = threading.Event()  # records are waiting, or someone wants a flush
        self._stop = threading.Event()
        self._done = threading.Condition()  # notified when _resolved grows
        self._resolved = 0  # every record up to this count is written or dropped
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        # the counters; see the module docstring for who writes each
        self._sampled = 0
        self._skipped = 0
        self._pushed_out = 0
        self._refused = 0  # recorded after close
        self._abandoned = 0  # left unwritten by close
        self._written = 0
        self._write_failures = 0
        self._write_cpu_s = 0.0

    # ------------------------------------------------------------ request path

    def wants(self, model: str) -> bool:
        """Decide whether to log one request of ``model``; a declined one is counted.

        Example:
            >>> PredictionLog(sink, sample_rate=0.0).wants("fraud")  # doctest: +SKIP
            False
        """
        rate = self._sample_rates.get(model, self._sample_rate)
        if rate >= 1.0 or (rate > 0.0 and self._random() < rate):
            return True
        self._skipped += 1
        return False

    def record(self, record: LoggedPrediction) -> None:
        """Hand one record to the writer thread; returns at once and never raises.

        Call it from one thread (serving's event loop): its counters are not locked.

        Example:
            >>> prediction_log.record(PredictionRecord("a1", time.time(), "fraud", 3, "v2",
            ...                                        [[0.1, 2]], [0], 1.2))  # doctest: +SKIP
        """
        if self._closed:
            self._refused += 1
            return
        buffer = self._buffer
        buffer.append(record)
        self._sampled += 1  # after the append: the writer's flush mark relies on it
        if len(buffer) > self._max_buffer:
            try:
                buffer.popleft()  # the oldest; the writer may pop concurrently, each gets its own
                self._pushed_out += 1
            except IndexError:  # the writer emptied the buffer meanwhile: nothing to drop
                pass
        elif len(buffer) >= self._batch_size and not self._wake.is_set():
            self._wake.set()

    # ------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start the daemon writer thread (idempotent)."""
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="roost-prediction-log", daemon=True
                )
                self._thread.start()

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every record handed over so far is written (or dropped and counted).

        Starts the writer thread if it is not running.

        Returns:
            True when done; False when ``timeout_s`` passed first (the sink is slow or down).
        """
        target = self._sampled
        self.start()
        self._wake.set()
        with self._done:
            return self._done.wait_for(lambda: self._resolved >= target, timeout=timeout_s)

    def close(self, timeout_s: float = 10.0) -> None:
        """Flush, stop the writer thread and close the sink (idempotent).

        Records that could not be written within ``timeout_s`` are counted as dropped
        and reported in one warning.
        """
        if self._closed:
            return
        deadline = time.monotonic() + timeout_s
        self._closed = True
        self.flush(timeout_s)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))
        left = len(self._buffer) + len(self._batch)
        if left:
            self._abandoned = left
            log.warning(
                "prediction log: %d records could not be written to %s and were dropped",
                left,
                self.sink.url,
            )
        self._buffer.clear()
        self._batch = []
        try:
            self.sink.close()
        except Exception as exc:  # telemetry never takes serving down with it (STYLE.md §5)
            log.warning("prediction log: closing %s failed: %s", self.sink.url, exc)

    @property
    def counts(self) -> LogCounts:
        """What the log has done so far; each count only grows (but ``buffered``)."""
        return LogCounts(
            sampled=self._sampled,
            skipped=self._skipped,
            dropped=self._pushed_out + self._refused + self._abandoned,
            written=self._written,
            write_failures=self._write_failures,
            buffered=len(self._buffer) + len(self._batch),
            write_cpu_s=self._write_cpu_s,
        )

    # ---------------------------------------------------------- writer thread

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._flush_interval_s)
            self._wake.clear()
            self._drain()

    def _drain(self) -> None:
        """Write batches until the buffer is empty or the log is stopping."""
        pause = _FIRST_RETRY_S
        failing = False
        while True:
            if not self._batch:
                mark = self._sampled  # every record counted here is already in the buffer
                self._batch = self._take()
                if not self._batch:
                    self._resolve(mark)
                    return
            exc = self._write_batch()
            if exc is not None:  # any sink failure: keep the batch and retry
                self._write_failures += 1
                if not failing:
                    log.warning(
                        "prediction log: writing %d records to %s failed, retrying: %s",
                        len(self._batch),
                        self.sink.url,
                        exc,
                    )
                failing = True
                if self._stop.wait(pause):
                    return  # close() counts what is left
                pause = min(pause * 2, _MAX_RETRY_S)
                continue
            if failing:
                log.info("prediction log: writing to %s works again", self.sink.url)
                failing, pause = False, _FIRST_RETRY_S
            self._written += len(self._batch)
            self._batch = []

    def _write_batch(self) -> Exception | None:
        """Write the current batch, adding its CPU time; what the sink raised, if it failed."""
        cpu_before = time.thread_time()  # this thread's alone: waits for the GIL are not in it
        try:
            self.sink.write_predictions(self._batch)
        except Exception as exc:
            return exc
        finally:
            self._write_cpu_s += time.thread_time() - cpu_before
        return None

    def _take(self) -> list[LoggedPrediction]:
        batch = []
        buffer = self._buffer
        for _ in range(self._batch_size):
            try:
                batch.append(buffer.popleft())
            except IndexError:
                break
        return batch

    def _resolve(self, mark: int) -> None:
        with self._done:
            if mark > self._resolved:
                self._resolved = mark
                self._done.notify_all()


def _named(rates: Mapping[str, float]) -> list[tuple[str, float]]:
    return [(f"sample_rates[{model!r}]", rate) for model, rate in rates.items()]
