"""CPU time per logged request: the serving tap, the buffered log and the SQLite sink.

Run from the repository root: ``.venv/bin/python bench/telemetry_tap.py [--rounds 5]``.
A loop hands one-row requests to ``PredictionTap.record`` while the log's writer thread
writes them to a fresh SQLite file, as in a server. Per logged request it reports the
loop thread's CPU time (the request path: the tap), the CPU time of the writer's inserts
(``LogCounts.write_cpu_s``) and the process's in all. Each round runs in a new process,
so rounds do not share a heap or a file; medians are printed. Results are recorded in
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


def one_round(requests: int) -> tuple[float, float, float]:
    """µs of CPU per logged request in this process: the tap's, the writer's, in all."""
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
    tap_started = time.thread_time()
    for i in range(requests):
        rows = [{"sepal_length": 5.1 + i % 7, "sepal_width": 3.5, "petal_length": 1.4}]
        outputs = [{"label": "setosa", "probabilities": [0.98, 0.015, 0.005]}]
        tap.record(served, f"{i:032x}", "v1", rows, outputs, 0.0012)  # type: ignore[arg-type]
    tap_s = time.thread_time() - tap_started
    log.flush()
    total_s = time.process_time() - started
    log.close()
    return tap_s / requests * 1e6, log.counts.write_cpu_s / requests * 1e6, total_s / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="processes, one round each")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(*one_round(REQUESTS))
        return
    rounds = [
        [
            float(cost)
            for cost in subprocess.run(
                [sys.executable, __file__, "--one"], capture_output=True, text=True, check=True
            ).stdout.split()
        ]
        for _ in range(args.rounds)
    ]
    for name, costs in zip(("tap", "writer", "in all"), zip(*rounds, strict=True), strict=True):
        print(
            f"{name:7} median {statistics.median(costs):5.2f} µs per logged request "
            f"(rounds: {', '.join(f'{c:.2f}' for c in costs)})"
        )


if __name__ == "__main__":
    main()
