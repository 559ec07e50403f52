"""``roost serve`` in process: references checked first, settings handed to uvicorn, banner.

uvicorn itself is replaced by a stand-in that records what it was given; the real
server runs in tests/cli/test_serve_subprocess.py.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner, Result

from roost.cli import app
from roost.cli._serve import parse_batch_option
from roost.config import BatchingConfig
from roost.errors import ConfigError
from roost.serving.server import SPEC_VARIABLE, ServeSpec
from roost.store import Registry

runner = CliRunner()


def invoke(home: Path, *args: str) -> Result:
    return runner.invoke(app, ["serve", *args], env={"ROOST_HOME": str(home)})


def assert_error(result: Result, exit_code: int, *fragments: str) -> None:
    assert result.exit_code == exit_code, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]


class FakeUvicorn:
    """Stands in for ``uvicorn.run``: records its arguments and the environment it saw."""

    def __init__(self, send_sigterm: bool = False) -> None:
        self.send_sigterm = send_sigterm
        self.calls: list[dict[str, Any]] = []
        self.environ: dict[str, str | None] = {}

    def __call__(self, target: str, **options: Any) -> None:
        self.calls.append({"target": target, **options})
        for name in (SPEC_VARIABLE, "PROMETHEUS_MULTIPROC_DIR"):
            self.environ[name] = os.environ.get(name)
        if self.send_sigterm:  # what uvicorn does after draining: re-raise the signal
            signal.raise_signal(signal.SIGTERM)


@pytest.fixture
def fake_uvicorn(monkeypatch: pytest.MonkeyPatch) -> FakeUvicorn:
    fake = FakeUvicorn()
    monkeypatch.setattr(uvicorn, "run", fake)
    monkeypatch.delenv(SPEC_VARIABLE, raising=False)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    return fake


def test_serve_unknown_model_is_one_line_and_exit_3(
    saved: Registry, fake_uvicorn: FakeUvicorn
) -> None:
    assert_error(invoke(saved.home, "iris", "nope@production"), 3, "model 'nope' not found")
    assert fake_uvicorn.calls == []


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["iris", "iris:1"], "expected each model once, got iris twice"),
        (["iris", "--batch", "iris64"], "--batch: expected NAME=SIZE[:WAIT_MS]"),
        (
            ["iris", "--max-wait-ms", "soon"],
            "--max-wait-ms: expected a number of milliseconds or auto, got 'soon'",
        ),
        (
            ["iris", "--max-wait-ms", "-1"],
            "max_wait_ms: expected 0 to 10000 or None (auto), got -1.0",
        ),
        (["iris", "--batch", "churn=64:5"], "--batch: expected names of served models (iris)"),
        (["iris", "--batch", "iris=0:5"], "max_batch_size: expected a whole number >= 1"),
        (["iris", "--max-body-mb", "0"], "--max-body-mb: expected a positive size, got 0"),
        (["iris", "--workers", "0"], "workers: expected a whole number >= 1, got 0"),
        (["Bad Name"], "Bad Name"),
    ],
    ids=[
        "duplicate",
        "batch-form",
        "wait-word",
        "wait-range",
        "batch-name",
        "batch-size",
        "body",
        "workers",
        "ref",
    ],
)
def test_serve_bad_options_are_exit_2(
    saved: Registry, fake_uvicorn: FakeUvicorn, args: list[str], fragment: str
) -> None:
    assert_error(invoke(saved.home, *args), 2, fragment)
    assert fake_uvicorn.calls == []


def test_serve_hands_uvicorn_the_factory_and_the_spec(
    saved: Registry, fake_uvicorn: FakeUvicorn
) -> None:
    saved.set_alias("iris", "production", 1)
    result = invoke(
        saved.home,
        "iris@production",
        "--port",
        "9001",
        "--batch",
        "iris=64:5",
        "--timeout-s",
        "3",
        "--max-body-mb",
        "0.5",
        "--poll-s",
        "0.2",
    )
    assert result.exit_code == 0, result.stderr
    (call,) = fake_uvicorn.calls
    assert call["target"] == "roost.serving.server:app_from_env"
    assert (call["factory"], call["workers"], call["port"]) == (True, 1, 9001)
    assert call["timeout_graceful_shutdown"] == 8  # the request timeout, then 5 s to finish
    text = fake_uvicorn.environ[SPEC_VARIABLE]
    assert text is not None
    spec = ServeSpec.from_json(text)
    assert spec.refs == ("iris@production",)
    assert spec.store.home == saved.home
    assert spec.serving.per_model == {"iris": BatchingConfig(64, 5, 512)}
    assert (spec.serving.max_body_bytes, spec.serving.poll_interval_s) == (524288, 0.2)
    assert spec.metrics_dir is None  # one process: metrics stay in it
    assert fake_uvicorn.environ["PROMETHEUS_MULTIPROC_DIR"] is None
    assert SPEC_VARIABLE not in os.environ  # put back once the server stopped


def test_serve_banner_says_where_and_how_to_call(
    saved: Registry, fake_uvicorn: FakeUvicorn
) -> None:
    result = invoke(saved.home, "iris", "--host", "0.0.0.0", "--port", "9002")
    lines = result.stdout.splitlines()
    assert lines[0] == "serving iris (version 1)"
    assert lines[1] == "listening on http://0.0.0.0:9002 (1 worker)"
    assert "http://127.0.0.1:9002/docs" in lines[2]
    (curl,) = [line for line in lines if "curl" in line]
    assert 'curl -s http://127.0.0.1:9002/v1/models/iris:predict -d \'{"instances": [{' in curl


def test_serve_workers_share_a_fresh_metrics_folder_removed_after(
    saved: Registry, fake_uvicorn: FakeUvicorn
) -> None:
    result = invoke(saved.home, "iris", "--workers", "2")
    assert result.exit_code == 0, result.stderr
    folder = fake_uvicorn.environ["PROMETHEUS_MULTIPROC_DIR"]
    assert folder is not None
    text = fake_uvicorn.environ[SPEC_VARIABLE]
    assert text is not None
    assert ServeSpec.from_json(text).metrics_dir == folder
    assert Path(folder).name.startswith("roost-metrics-")
    assert not Path(folder).exists()
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ


def test_serve_stopped_by_sigterm_exits_0(saved: Registry, fake_uvicorn: FakeUvicorn) -> None:
    fake_uvicorn.send_sigterm = True
    before = signal.getsignal(signal.SIGTERM)
    assert invoke(saved.home, "iris").exit_code == 0
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.parametrize("text", ["iris", "iris=", "=4:2", "iris=4:", "iris=x:2", "iris=4:y"])
def test_parse_batch_option_refuses_malformed(text: str) -> None:
    with pytest.raises(ConfigError, match=r"expected NAME=SIZE\[:WAIT_MS\] such as iris=64:5"):
        parse_batch_option(text, 512)


@pytest.mark.parametrize(
    ("text", "wait"),
    [("iris=8", None), ("iris=8:auto", None), ("iris=8:0", 0.0), ("iris=8:2.5", 2.5)],
)
def test_parse_batch_option_reads_the_wait(text: str, wait: float | None) -> None:
    assert parse_batch_option(text, 512) == ("iris", BatchingConfig(8, wait, 512))


def test_serve_default_wait_is_auto_and_a_number_is_fixed(
    saved: Registry, fake_uvicorn: FakeUvicorn
) -> None:
    for args, wait in (
        ([], None),
        (["--max-wait-ms", "3"], 3.0),
        (["--max-wait-ms", "AUTO"], None),
    ):
        fake_uvicorn.calls.clear()
        assert invoke(saved.home, "iris", *args).exit_code == 0
        text = fake_uvicorn.environ[SPEC_VARIABLE]
        assert text is not None
        assert ServeSpec.from_json(text).serving.batching.max_wait_ms == wait


def test_serve_port_taken_is_one_line_exit_1(tmp_path: Path) -> None:
    """A taken port is said before any banner, as one line, not as uvicorn's exit 3."""
    import socket

    registry = Registry(tmp_path / "home")
    registry.save(lambda frame: frame["x"] * 2, "double", example=[{"x": 1.0}])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            app,
            ["serve", "double", "--port", str(port)],
            env={"ROOST_HOME": str(tmp_path / "home")},
        )
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip() == (
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use (choose another --port)"
    )
