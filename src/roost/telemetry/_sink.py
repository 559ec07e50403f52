"""Where prediction records and feedback are kept: the ``Sink`` seam and ``open_sink``.

Three sinks implement it: SQLite (one file, several worker processes), PostgreSQL
(several machines) and JSON lines (for log shippers). The two SQL sinks share the
tables and queries of ``_sql_sink``; only their connections, placeholders and
durability settings differ.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from roost.config import mask_password
from roost.errors import ConfigError
from roost.telemetry._json import dump_json, load_json
from roost.telemetry._records import (
    FeedbackRecord,
    FeedbackStatus,
    LoggedPrediction,
    PredictionRecord,
)

__all__ = ["FeedbackCounts", "Sink", "dump_json", "load_json", "mask_password", "open_sink"]

#: a day: feedback later than this after its prediction is counted as late
DEFAULT_LATE_AFTER_S = 86400.0

_SQLITE_SUFFIXES = (".sqlite3", ".sqlite", ".db")
#: a scheme (``mysql:``, or ``sqlite:/x`` with a slash missing) is never taken for a path
_LOOKS_LIKE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_ACCEPTED = (
    "sqlite:///PATH or a path ending .sqlite3, .sqlite or .db; "
    "postgresql://… or postgres://…; jsonl:///PATH or a path ending .jsonl"
)


@dataclass(frozen=True, slots=True)
class FeedbackCounts:
    """What became of the feedback a sink received.

    Attributes:
        recorded: feedback records stored (the first per prediction id).
        duplicates: extra feedback for prediction ids that already had some.
        unmatched: stored feedback whose prediction is not (yet) in the log: not sampled,
            not flushed yet, or unknown.
        late: matched feedback that arrived more than ``late_after_s`` after its prediction.
        median_delay_s: the median time from prediction to feedback, over matched feedback;
            None when there is none.
    """

    recorded: int
    duplicates: int
    unmatched: int
    late: int
    median_delay_s: float | None


class Sink(Protocol):
    """Where a prediction log writes, and where feedback and drift read from.

    Every method may raise ``TelemetryError`` when the storage cannot be reached.
    """

    #: the sink's URL for messages; a password in it is replaced by ``***``
    url: str

    def write_predictions(self, records: Sequence[LoggedPrediction]) -> None:
        """Store a batch of prediction records; ids already stored (a retry) are ignored.

        Serving hands over ``RenderedPrediction`` rows; a ``PredictionRecord`` is rendered here.
        """
        ...

    def write_feedback(self, records: Sequence[FeedbackRecord]) -> list[FeedbackStatus]:
        """Store feedback durably (committed or fsynced) before returning.

        Returns:
            One status per record, in order: ``RECORDED``, or ``DUPLICATE`` when feedback for
            that prediction id is already stored (the first truth is kept; this one is counted).
        """
        ...

    def predictions(
        self, model: str | None = None, since: float | None = None, until: float | None = None
    ) -> list[PredictionRecord]:
        """Logged predictions with ``since <= timestamp < until``, oldest first."""
        ...

    def joined(
        self, model: str | None = None, since: float | None = None, until: float | None = None
    ) -> list[tuple[PredictionRecord, FeedbackRecord]]:
        """Predictions in the window (by prediction time) that have feedback, oldest first."""
        ...

    def feedback_counts(
        self,
        model: str | None = None,
        since: float | None = None,
        late_after_s: float = DEFAULT_LATE_AFTER_S,
    ) -> FeedbackCounts:
        """Count the feedback received since ``since``.

        With ``model`` given, the counts cover that model's matched feedback plus all
        unmatched feedback (which has no model), so ``recorded - unmatched`` is the
        model's own.
        """
        ...

    def close(self) -> None:
        """Release connections and files; the sink cannot be used afterwards."""
        ...


def open_sink(url: str) -> Sink:
    """Open (and create if needed) the sink a URL or path names.

    Args:
        url: ``sqlite:///PATH`` or a path ending ``.sqlite3``, ``.sqlite`` or ``.db``;
            ``postgresql://…`` (needs psycopg); ``jsonl:///PATH`` or a path ending ``.jsonl``.
            As for the registry index, the path is what follows ``sqlite:///``, so
            ``f"sqlite:///{path}"`` works for relative and absolute paths alike.

    Raises:
        ConfigError: the URL names no sink roost knows.
        TelemetryError: the sink cannot be opened (server unreachable, folder unwritable).

    Example:
        >>> sink = open_sink("telemetry.sqlite3")  # doctest: +SKIP
        >>> sink.write_predictions([record])  # doctest: +SKIP
    """
    # imported here: the sink modules import this one, and psycopg is an optional extra
    if url.startswith(("postgresql://", "postgres://")):
        from roost.telemetry._postgres_sink import PostgresSink

        return PostgresSink(url)
    if url.startswith("sqlite:///"):
        from roost.telemetry._sqlite_sink import SqliteSink

        return SqliteSink(url.removeprefix("sqlite:///"))
    if url.startswith("jsonl:///"):
        from roost.telemetry._jsonl_sink import JsonlSink

        return JsonlSink(url.removeprefix("jsonl:///"))
    if not _LOOKS_LIKE_URL.match(url):
        suffix = Path(url).suffix.lower()
        if suffix in _SQLITE_SUFFIXES:
            from roost.telemetry._sqlite_sink import SqliteSink

            return SqliteSink(url)
        if suffix == ".jsonl":
            from roost.telemetry._jsonl_sink import JsonlSink

            return JsonlSink(url)
    raise ConfigError(f"telemetry sink {mask_password(url)!r}: expected {_ACCEPTED}")


def one_line(error: BaseException) -> str:
    """An error's message on one line (database drivers like to wrap theirs)."""
    return " ".join(str(error).split()) or type(error).__name__
