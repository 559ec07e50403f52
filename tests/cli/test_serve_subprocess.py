"""``roost serve`` for real: a subprocess on a 127.0.0.1 port, real clients, real signals.

Each test starts the server, waits for ``/health/ready``, and stops it in ``finally``
(SIGTERM, then SIGKILL if it does not exit), so no process outlives its test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from roost.serving.metrics import FLUSH_INTERVAL_S
from roost.store import Registry

pytestmark = pytest.mark.integration

START_TIMEOUT_S = 40
IRIS_ROW = {"sepal_length": 6.2, "sepal_width": 2.9, "petal_length": 4.3, "petal_width": 1.3}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def environment(home: Path, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROOST_", "PROMETHEUS_"))}
    tmp.mkdir(exist_ok=True)
    return {**env, "ROOST_HOME": str(home), "TMPDIR": str(tmp)}


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def roost_serve(home: Path, tmp_path: Path, *args: str) -> Iterator[Server]:
    """Start ``roost serve`` with ``args``; yield once it is ready; stop it afterwards."""
    port = free_port()
    log = tmp_path / f"serve-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "roost", "serve", *args, "--port", str(port)],
            env=environment(home, tmp_path / "tmp"),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise AssertionError(f"roost serve exited {process.returncode}:\n{server.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"roost serve not ready in {START_TIMEOUT_S} s:\n{server.output()}"
                )
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{server.url}/health/ready", timeout=2).status_code == 200:
                    break
            time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def metric(text: str, sample: str, **labels: str) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == sample and labels.items() <= s.labels.items()
    )


def make_slow(delay_s: float) -> Callable[[Any], list[float]]:
    """A model that takes ``delay_s`` per batch (nested, so it is pickled by value)."""

    def slow(batch: Any) -> list[float]:
        import time

        time.sleep(delay_s)
        return [float(sum(row)) for row in batch]

    return slow


def test_serve_finishes_in_flight_requests_on_sigterm_and_exits_0(
    registry: Registry, tmp_path: Path
) -> None:
    registry.save(make_slow(0.4), "slow", example=[[1.0, 2.0]])
    n_requests = 4
    with roost_serve(registry.home, tmp_path, "slow:1", "--max-batch-size", "1") as server:
        results: list[Any] = [None] * n_requests

        def call(i: int) -> None:
            try:
                results[i] = httpx.post(
                    f"{server.url}/v1/models/slow:predict",
                    json={"instances": [[1.0, i]]},
                    timeout=30,
                )
            except httpx.HTTPError as exc:
                results[i] = exc

        threads = [threading.Thread(target=call, args=(i,)) for i in range(n_requests)]
        for thread in threads:
            thread.start()
        # every request in flight: one in predict, the others queued behind it
        deadline = time.monotonic() + 20
        while True:
            text = httpx.get(f"{server.url}/metrics", timeout=5).text
            if metric(text, "roost_queue_depth", model="slow") == n_requests - 1:
                break
            assert time.monotonic() < deadline, "the requests never queued up"
            time.sleep(0.02)
        server.process.send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join(30)
        assert server.process.wait(30) == 0, server.output()
    statuses = [r.status_code if isinstance(r, httpx.Response) else repr(r) for r in results]
    assert statuses == [200] * n_requests
    assert sorted(r.json()["predictions"][0] for r in results) == [1.0, 2.0, 3.0, 4.0]


def test_serve_two_workers_metrics_add_up_across_processes(
    serving_iris: Registry, tmp_path: Path
) -> None:
    n_requests, n_threads = 200, 8
    with roost_serve(serving_iris.home, tmp_path, "iris@production", "--workers", "2") as server:
        statuses: list[int] = []

        def call(count: int) -> None:
            for _ in range(count):
                # a fresh connection each time, so either worker may accept it
                response = httpx.post(
                    f"{server.url}/v1/models/iris:predict",
                    json={"instances": [IRIS_ROW]},
                    headers={"Connection": "close"},
                    timeout=30,
                )
                statuses.append(response.status_code)

        threads = [
            threading.Thread(target=call, args=(n_requests // n_threads,)) for _ in range(n_threads)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert statuses == [200] * n_requests

        (folder,) = (tmp_path / "tmp").glob("roost-metrics-*")
        workers = {path.stem.rsplit("_", 1)[1] for path in folder.glob("counter_*.db")}
        assert len(workers) == 2, "both workers should have answered some requests"
        labels = {"model": "iris", "version": "1", "protocol": "v1", "code": "200"}

        def scrape() -> str:
            return httpx.get(f"{server.url}/metrics", headers={"Connection": "close"}).text

        # each worker writes its request counts once a second (FLUSH_INTERVAL_S)
        deadline = time.monotonic() + 2 * FLUSH_INTERVAL_S + 1
        while metric(scrape(), "roost_requests_total", **labels) != n_requests:
            assert time.monotonic() < deadline, "the workers' counts never added up"
            time.sleep(0.1)
        for _ in range(6):  # whichever worker answers the scrape, the totals are the same
            text = scrape()
            assert metric(text, "roost_requests_total", **labels) == n_requests
            assert metric(text, "roost_batch_rows_sum", model="iris") == n_requests
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(30) == 0, server.output()
    assert list((tmp_path / "tmp").glob("roost-metrics-*")) == []  # removed on the way out


@pytest.fixture
def serving_iris(registry: Registry) -> Registry:
    """``iris:1`` and ``iris:2`` (two different fits), with ``production`` at 1."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(as_frame=True, return_X_y=True)
    x = x.set_axis(list(IRIS_ROW), axis=1)
    registry.save(LogisticRegression(max_iter=1000).fit(x, y), "iris", example=x[:5])
    registry.save(LogisticRegression(C=0.1, max_iter=1000).fit(x, y), "iris", example=x[:5])
    registry.set_alias("iris", "production", 1)
    return registry


def test_serve_hot_swap_under_load_drops_nothing(serving_iris: Registry, tmp_path: Path) -> None:
    """Clients never stop; `roost models alias` moves production; every request succeeds,
    and each client sees version 1, then version 2, never back."""
    home = serving_iris.home
    with roost_serve(home, tmp_path, "iris@production", "--poll-s", "0.2") as server:
        stop = threading.Event()
        seen: list[list[tuple[float, str]]] = [[] for _ in range(4)]
        failures: list[str] = []

        def client(log: list[tuple[float, str]]) -> None:
            with httpx.Client(base_url=server.url, timeout=30) as http:
                while not stop.is_set():
                    try:
                        response = http.post(
                            "/v1/models/iris:predict", json={"instances": [IRIS_ROW]}
                        )
                    except httpx.HTTPError as exc:
                        failures.append(repr(exc))
                        continue
                    if response.status_code != 200:
                        failures.append(f"{response.status_code} {response.text}")
                        continue
                    log.append((time.monotonic(), response.json()["model_version"]))

        threads = [threading.Thread(target=client, args=(log,)) for log in seen]
        for thread in threads:
            thread.start()
        try:
            while min(len(log) for log in seen) < 10:
                time.sleep(0.01)
            moving_at = time.monotonic()
            moved = subprocess.run(
                [sys.executable, "-m", "roost", "models", "alias", "iris", "production", "2"],
                env=environment(home, tmp_path / "tmp"),
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            assert moved.returncode == 0, moved.stderr
            moved_at = time.monotonic()
            deadline = moved_at + 20
            while not all(sum(v == "2" for _, v in log) >= 20 for log in seen):
                assert time.monotonic() < deadline, "the new version never took over"
                time.sleep(0.01)
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)

    assert failures == []
    for log in seen:
        versions = [v for _, v in log]
        first_new = versions.index("2")
        assert set(versions[:first_new]) == {"1"}
        assert set(versions[first_new:]) == {"2"}  # never back to the old version
    switched_at = min(t for log in seen for t, v in log if v == "2")
    print(
        f"hot swap: `roost models alias` ran {moved_at - moving_at:.3f} s; version 2 answered "
        f"{switched_at - moved_at:+.3f} s after it returned"
    )
    assert switched_at - moved_at < 5


def test_serve_killed_under_load_keeps_every_acknowledged_feedback(
    serving_iris: Registry, tmp_path: Path
) -> None:
    """SIGKILL to every server process while clients predict and send feedback: each
    feedback item the server acknowledged is in the database, which opens cleanly."""
    import sqlite3

    database = tmp_path / "telemetry.sqlite3"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "roost",
                "serve",
                "iris@production",
                "--workers",
                "2",
                "--telemetry-url",
                str(database),
                "--port",
                str(port),
            ],
            env=environment(serving_iris.home, tmp_path / "tmp"),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: one killpg reaches the workers
        )
    acknowledged: list[str] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(base_url=url, timeout=5) as http:
            while not stop.is_set():
                try:
                    answer = http.post("/v1/models/iris:predict", json={"instances": [IRIS_ROW]})
                    pid = answer.headers["x-prediction-id"]
                    sent = http.post("/v1/feedback", json={"prediction_id": pid, "truth": "setosa"})
                except (httpx.HTTPError, KeyError):
                    continue  # the server is gone: nothing more was acknowledged
                if sent.status_code == 200:
                    acknowledged.append(pid)

    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "roost serve did not get ready"
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                    break
            time.sleep(0.1)
        threads = [threading.Thread(target=client) for _ in range(6)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while len(acknowledged) < 200:
            assert time.monotonic() < deadline, f"only {len(acknowledged)} acknowledged"
            time.sleep(0.02)
        os.killpg(process.pid, signal.SIGKILL)  # under load, feedback in flight
        process.wait(10)
        stop.set()
        for thread in threads:
            thread.join(10)
    finally:
        stop.set()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    connection = sqlite3.connect(database)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        stored = {row[0] for row in connection.execute("SELECT prediction_id FROM roost_feedback")}
    finally:
        connection.close()
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged items were lost"
