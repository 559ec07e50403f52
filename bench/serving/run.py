"""Serving benchmark: roost vs a bare uvicorn app vs Flask + gunicorn, side by side.

Run from the repository root (needs wrk: ``apt-get install wrk``)::

    .venv/bin/python -m bench.serving.run [--duration 10] [--workers 2] [--json out.json]

For each server (each started with the same number of worker processes on
127.0.0.1), each model (``small``, ``forest``) and each concurrency (1, 16, 64), wrk
sends single-row KServe V1 JSON requests for ``--duration`` seconds after a short
warm-up. It reports requests/s, p50 and p99 latency, the server's CPU time per request
(and its event loops' part of it) and its resident memory (all of its processes), as a
Markdown table; results go in docs/benchmarks.md.

CPU time per request is the steadier figure on a shared machine: a neighbour's burst
takes cores away from the server, which lowers its requests/s, but it hardly changes
how much CPU the server spends on each request it does answer.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.serving.models import build

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CONCURRENCY = (1, 16, 64)


@dataclass(frozen=True)
class Result:
    server: str
    model: str
    concurrency: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    rss_mib: float
    cpu_us_per_request: float
    #: of which the processes' main threads: a worker's event loop
    loop_cpu_us_per_request: float
    #: of which the prediction log's writer threads (telemetry's servers only)
    writer_cpu_us_per_request: float | None = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_commands(port: int, workers: int, workdir: Path) -> dict[str, list[str]]:
    roost = [
        str(BIN / "roost"),
        "serve",
        "small",
        "forest",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    return {
        "roost": roost,
        # every request logged, to SQLite: what telemetry costs (issue 4)
        "roost + telemetry": [
            *roost,
            "--telemetry-url",
            str(workdir / f"telemetry-{port}.sqlite3"),
        ],
        # one request in ten logged: the mitigation docs/telemetry.md suggests
        "roost + telemetry 10%": [
            *roost,
            "--telemetry-url",
            str(workdir / f"telemetry-{port}.sqlite3"),
            "--sample",
            "0.1",
        ],
        "bare uvicorn": [
            str(BIN / "uvicorn"),
            "bench.serving.bare_app:app",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        "flask + gunicorn": [
            str(BIN / "gunicorn"),
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "bench.serving.flask_app:app",
        ],
    }


def process_tree(pid: int) -> list[int]:
    """A process and all its descendants (a server's master and workers)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def rss_mib(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MiB."""
    total_kib = 0
    for current in process_tree(pid):
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        total_kib += int(match.group(1)) if match else 0
    return total_kib / 1024


def cpu_seconds(pid: int, *, main_threads: bool = False) -> float:
    """User + system CPU time used so far by a process and all its live descendants.

    ``main_threads``: only each process's first thread, which runs a worker's event
    loop; the rest is the batchers', the prediction log's and the runtime's threads.
    """
    ticks = 0
    for current in process_tree(pid):
        stat = f"/proc/{current}/task/{current}/stat" if main_threads else f"/proc/{current}/stat"
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (stat fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def telemetry_write_cpu_s(port: int) -> float | None:
    """The writer threads' CPU seconds so far, from ``/metrics``; None without telemetry.

    Call it after ``SETTLE_S`` of quiet: the last writes and the workers' metrics are then
    flushed.
    """
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    match = re.search(
        r"^roost_telemetry_write_cpu_seconds_total{sink=\"sqlite\"} (\S+)$", text, re.M
    )
    return float(match.group(1)) if match else None


#: the prediction log writes a partial batch within 0.5 s and workers flush their metrics
#: every second: after this long without requests, /metrics has counted every write
SETTLE_S = 1.6


def wait_ready(url: str, body: bytes, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            response = httpx.post(url, content=body, headers={"content-type": "application/json"})
            if response.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 within {timeout_s} s")


def _ms(text: str) -> float:
    """wrk's durations (``812.00us``, ``3.52ms``, ``1.20s``, ``2.00m``) in milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        return float("nan")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def run_wrk(
    url: str, body: bytes, concurrency: int, duration_s: int
) -> tuple[float, float, float, int, int]:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body.decode())}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    threads = min(concurrency, 2)
    output = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{concurrency}",
            f"-d{duration_s}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    script.unlink()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    # anchored: "89.50%" in the thread stats above must not pass for the 50th percentile
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    failures = (int(bad.group(1)) if bad else 0) + (sum(map(int, errors.groups())) if errors else 0)
    return rps, p50, p99, failures, requests


@dataclass(frozen=True)
class Running:
    """A started server: its process (the master of its workers) and port."""

    name: str
    process: subprocess.Popen[bytes]
    port: int


@contextlib.contextmanager
def started_servers(
    args: argparse.Namespace, workdir: Path, models: dict[str, Any], env: dict[str, str]
) -> Iterator[list[Running]]:
    """Start every chosen server once, each on its own port, and warm each model up.

    The servers stay up for all rounds: a round then costs only its measurements, so
    many short rounds fit where few long ones did, and the measurements that a round
    pairs are seconds apart, not the minutes a restart took.
    """
    names = [s for s in server_commands(0, args.workers, workdir) if s in (args.servers or [s])]
    running: list[Running] = []
    try:
        for name in names:
            port = free_port()
            process = subprocess.Popen(
                server_commands(port, args.workers, workdir)[name],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            running.append(Running(name, process, port))
        for server in running:
            for model in chosen_models(args, models):
                url = f"http://127.0.0.1:{server.port}/v1/models/{model.name}:predict"
                body = json.dumps({"instances": [model.row]}).encode()
                wait_ready(url, body)
                run_wrk(url, body, 16, args.warmup)
        yield running
    finally:
        for server in running:
            os.killpg(server.process.pid, signal.SIGTERM)
        for server in running:
            server.process.wait(30)


def chosen_models(args: argparse.Namespace, models: dict[str, Any]) -> list[Any]:
    return [m for m in models.values() if not args.models or m.name in args.models]


def measure_round(
    args: argparse.Namespace, servers: list[Running], models: dict[str, Any], *, reverse: bool
) -> list[Result]:
    """One round: each model, each concurrency, each server in turn (``reverse``: last first)."""
    results: list[Result] = []
    for model in chosen_models(args, models):
        body = json.dumps({"instances": [model.row]}).encode()
        for concurrency in args.concurrency:
            for server in reversed(servers) if reverse else servers:
                url = f"http://127.0.0.1:{server.port}/v1/models/{model.name}:predict"
                time.sleep(SETTLE_S)
                writer_before = telemetry_write_cpu_s(server.port)
                cpu_before = cpu_seconds(server.process.pid)
                loop_before = cpu_seconds(server.process.pid, main_threads=True)
                rps, p50, p99, failures, requests = run_wrk(url, body, concurrency, args.duration)
                cpu_s = cpu_seconds(server.process.pid) - cpu_before
                loop_s = cpu_seconds(server.process.pid, main_threads=True) - loop_before
                time.sleep(SETTLE_S)
                writer_after = telemetry_write_cpu_s(server.port)
                writer_us = (
                    (writer_after - writer_before) / max(requests, 1) * 1e6
                    if writer_after is not None and writer_before is not None
                    else None
                )
                result = Result(
                    server.name,
                    model.name,
                    concurrency,
                    rps,
                    p50,
                    p99,
                    failures,
                    rss_mib(server.process.pid),
                    cpu_s / max(requests, 1) * 1e6,
                    loop_s / max(requests, 1) * 1e6,
                    writer_us,
                )
                results.append(result)
                writer = "" if writer_us is None else f", writer {writer_us:4.1f}"
                print(
                    f"{server.name:18} {model.name:7} c={concurrency:<3} {rps:9.0f} req/s  "
                    f"p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  errors {failures}  "
                    f"cpu {result.cpu_us_per_request:5.0f} (loop "
                    f"{result.loop_cpu_us_per_request:5.0f}{writer}) us/req  "
                    f"rss {result.rss_mib:6.0f} MiB",
                    flush=True,
                )
    return results


def median_results(results: list[Result]) -> list[Result]:
    """One result per (server, model, concurrency): the median of its rounds.

    The servers run one after the other, so a neighbour's burst of CPU hits one of them
    and not the other; alternating rounds and taking medians keeps such a burst from
    deciding a comparison. Errors are summed, memory is the largest seen.
    """
    groups: dict[tuple[str, str, int], list[Result]] = {}
    for result in results:
        groups.setdefault((result.server, result.model, result.concurrency), []).append(result)
    return [
        Result(
            server,
            model,
            concurrency,
            statistics.median(r.requests_per_s for r in rounds),
            statistics.median(r.p50_ms for r in rounds),
            statistics.median(r.p99_ms for r in rounds),
            sum(r.errors for r in rounds),
            max(r.rss_mib for r in rounds),
            statistics.median(r.cpu_us_per_request for r in rounds),
            statistics.median(r.loop_cpu_us_per_request for r in rounds),
            _median_or_none([r.writer_cpu_us_per_request for r in rounds]),
        )
        for (server, model, concurrency), rounds in groups.items()
    ]


def print_telemetry_costs(rounds: list[list[Result]]) -> None:
    """Telemetry's cost in throughput: each ``roost + …`` server against plain roost.

    Each round gives one cost, ``1 - with / without``, from two measurements taken
    minutes apart. A neighbour's load moves both of them, where it would move only one
    of two medians taken over all rounds. The table gives the median cost and the
    quartiles, which show how far single rounds spread on this machine.
    """
    costs: dict[tuple[str, str, int], list[float]] = {}
    for round_results in rounds:
        rps = {(r.server, r.model, r.concurrency): r.requests_per_s for r in round_results}
        for (server, model, concurrency), with_telemetry in rps.items():
            without = rps.get(("roost", model, concurrency))
            if server.startswith("roost + ") and without:
                costs.setdefault((server, model, concurrency), []).append(
                    1 - with_telemetry / without
                )
    if not costs:
        return
    print()
    print(
        "| server | model | concurrency | cost against roost, median of rounds "
        "| quartiles | rounds |"
    )
    print("|---|---|---|---|---|---|")
    for (server, model, concurrency), values in sorted(costs.items()):
        quartiles = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
        print(
            f"| {server} | {model} | {concurrency} | {statistics.median(values):.1%} | "
            f"{quartiles[0]:.1%} to {quartiles[2]:.1%} | {len(values)} |"
        )


def _median_or_none(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per model")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds of every measurement, servers alternating; the tables give medians",
    )
    parser.add_argument("--servers", nargs="*", help="only these servers (default: all)")
    parser.add_argument("--models", nargs="*", help="only these models (default: all)")
    parser.add_argument(
        "--concurrency",
        nargs="*",
        type=int,
        default=list(CONCURRENCY),
        help="wrk connections, one measurement each (default: 1 16 64)",
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="roost-bench-"))
    models = build(workdir)
    env = {
        **os.environ,
        "ROOST_HOME": str(workdir / "home"),
        "BENCH_MODELS": str(workdir / "models.json"),
    }
    rounds: list[list[Result]] = []
    with started_servers(args, workdir, models, env) as servers:
        for round_ in range(args.repeat):
            if args.repeat > 1:
                print(f"round {round_ + 1} of {args.repeat}", flush=True)
            # every other round measures the servers in the opposite order: whatever the
            # first measurement leaves behind (a warm cache, a busy neighbour) then
            # favours each server equally often
            rounds.append(measure_round(args, servers, models, reverse=round_ % 2 == 1))
    results = median_results([result for round_results in rounds for result in round_results])
    print()
    print(
        "| model | concurrency | server | req/s | p50 ms | p99 ms | errors "
        "| server CPU µs/req | of which event loops | of which telemetry's writer "
        "| server RSS MiB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in sorted(results, key=lambda r: (r.model, r.concurrency)):
        writer = "" if r.writer_cpu_us_per_request is None else f"{r.writer_cpu_us_per_request:.1f}"
        print(
            f"| {r.model} | {r.concurrency} | {r.server} | {r.requests_per_s:.0f} | "
            f"{r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.errors} | {r.cpu_us_per_request:.0f} | "
            f"{r.loop_cpu_us_per_request:.0f} | {writer} | {r.rss_mib:.0f} |"
        )
    print_telemetry_costs(rounds)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))


if __name__ == "__main__":
    main()
