"""CPU time per logged request: the serving tap, the buffered log and the SQLite sink.

Run from the repository root: ``.venv/bin/python bench/telemetry_tap.py [--rounds 5]``.
A loop hands one-row requests to ``PredictionTap.record`` while the log's writer thread
writes them to a fresh SQLite file, as in a server; the process's CPU time (both threads)
divided by the requests is the cost of logging one. Each round runs in a new process, so
rounds do not share a heap or a file; the median is printed. Results are recorded in
docs/benchmarks.md. Not a test: timings on shared machines are noisy.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

REQUESTS = 40_000


def one_round(requests: int) -> float:
    """µs of CPU per logged request, in this process."""
    from roost.clock import SystemClock
    from roost.serving._telemetry import PredictionTap
    from roost.telemetry import PredictionLog, open_sink

    sink = open_sink(str(Path(tempfile.mkdtemp()) / "telemetry.sqlite3"))
    log = PredictionLog(sink)
    log.start()
    tap = PredictionTap(log, sink, SystemClock(), b"k" * 32)
    metadata = {"card": {}, "baseline": None, "flavor": {"name": "sklearn"}}
    served = types.SimpleNamespace(
        name="small", version=1, ref="small:1", model=types.SimpleNamespace(metadata=metadata)
    )
    gc.collect()
    gc.freeze()  # as the server does after loading its models
    started = time.process_time()
    for i in range(requests):
        rows = [{"sepal_length": 5.1 + i % 7, "sepal_width": 3.5, "petal_length": 1.4}]
        outputs = [{"label": "setosa", "probabilities": [0.98, 0.015, 0.005]}]
        tap.record(served, f"{i:032x}", "v1", rows, outputs, 0.0012)  # type: ignore[arg-type]
    log.flush()
    cost = (time.process_time() - started) / requests * 1e6
    log.close()
    return cost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="processes, one round each")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(one_round(REQUESTS))
        return
    costs = [
        float(
            subprocess.run(
                [sys.executable, __file__, "--one"], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(args.rounds)
    ]
    print(f"rounds: {', '.join(f'{c:.2f}' for c in costs)} µs per logged request")
    print(f"median: {statistics.median(costs):.2f} µs per logged request")


if __name__ == "__main__":
    main()
