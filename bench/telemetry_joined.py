"""How long production accuracy's query takes over a big prediction log.

Run from the repository root: ``.venv/bin/python bench/telemetry_joined.py [--rounds 3]``.
Writes a million one-row predictions of one model over about an hour, and a thousand
feedback items, to a fresh SQLite sink, then times ``joined(model, since)``: the query
the quality gauges run every 30 s in every worker. Its work should follow the feedback,
not the traffic. Results are recorded in docs/telemetry.md. Not a test: timings on shared
machines are noisy.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from roost.telemetry._records import FeedbackRecord, PredictionRecord
from roost.telemetry._sqlite_sink import SqliteSink

PREDICTIONS = 1_000_000
FEEDBACK_EVERY = 1000
T0 = 1_800_000_000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="timed queries")
    args = parser.parse_args()
    sink = SqliteSink(Path(tempfile.mkdtemp()) / "telemetry.sqlite3")
    for start in range(0, PREDICTIONS, 10_000):
        sink.write_predictions(
            [
                PredictionRecord(f"p{i:08d}", T0 + i / 300, "fraud", 3, "v2", [1], [1], 4.0)
                for i in range(start, start + 10_000)
            ]
        )
    sink.write_feedback(
        [
            FeedbackRecord(f"p{i:08d}", 1, T0 + i / 300 + 60)
            for i in range(0, PREDICTIONS, FEEDBACK_EVERY)
        ]
    )
    for _ in range(args.rounds):
        started = time.process_time()
        pairs = sink.joined(model="fraud", since=T0)
        print(f"{len(pairs)} pairs in {(time.process_time() - started) * 1000:.1f} ms of CPU")
    sink.close()


if __name__ == "__main__":
    main()
