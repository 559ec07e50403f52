"""The README quickstart, the demo and the docs' examples run as written, in temporary registries.

If one of these fails, the documentation is wrong: fix the README or the example,
not the test.
"""

from __future__ import annotations

import contextlib
import doctest
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from roost.cards.document import model_card
from roost.cards.history import EvaluationHistory
from roost.errors import SignatureError
from roost.store import CARD_FIELDS, Registry

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
EXAMPLES = ROOT / "examples"
DEMO = EXAMPLES / "demo.py"
DOCS = ROOT / "docs"
#: the pages whose ``>>>`` examples run as doctests
DOCTESTED = ["capacity.md", "composition.md", "model.md", "planner.md", "store.md", "testing.md"]
#: one demo run takes ~10 s here; the bound is for a slow, busy CI machine
DEMO_TIMEOUT_S = 300
CLI_TIMEOUT_S = 120
SPECIES = ("setosa", "versicolor", "virginica")
#: the titles the demo gives its served examples (examples/serve_demo.py EXAMPLES)
SERVED_EXAMPLES = (
    "curl, KServe V1",
    "Python with httpx, KServe V1, then feedback",
    "Python with tritonclient, Open Inference Protocol V2",
)


def code_blocks(text: str, language: str) -> list[str]:
    """The fenced blocks of one language in a Markdown text, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def _environment(home: Path) -> dict[str, str]:
    """The caller's environment with a fresh registry, and this Python's scripts first on PATH."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "ROOST_REGISTRY_URL" and not k.startswith("ROOST_DEMO_")
    }
    env["ROOST_HOME"] = str(home)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def test_code_blocks_finds_fenced_blocks() -> None:
    text = "intro\n```python\na = 1\n```\n\n```console\n$ ls\n```\n```python\nb = 2\n```\n"
    assert code_blocks(text, "python") == ["a = 1\n", "b = 2\n"]
    assert code_blocks(text, "console") == ["$ ls\n"]


def test_readme_quickstart_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Python blocks, then the shell commands, share one registry as a reader's would."""
    readme = README.read_text(encoding="utf-8")
    python_blocks = code_blocks(readme, "python")
    assert python_blocks, "README.md has no ```python block"
    home = tmp_path / "roost-home"
    monkeypatch.delenv("ROOST_REGISTRY_URL", raising=False)
    monkeypatch.setenv("ROOST_HOME", str(home))
    monkeypatch.chdir(tmp_path)

    namespace: dict[str, Any] = {"__name__": "readme"}
    for block in python_blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert Registry(home).resolve("iris@production").version == 1

    # the error the README quotes is the one a bad row really gets
    (quoted,) = re.findall(r"`(column '.+?)`", readme)
    bad_row = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": "wide"}
    with pytest.raises(SignatureError) as caught:
        namespace["model"].predict([bad_row])
    assert str(caught.value) == quoted

    commands = [
        line.removeprefix("$ ")
        for block in code_blocks(readme, "console")
        for line in block.splitlines()
        if line.startswith("$ ") and not line.startswith("$ make ")
    ]
    assert any(c.startswith("roost predict") for c in commands)
    outputs = []
    for command in commands:
        result = subprocess.run(
            ["bash", "-c", command],
            cwd=tmp_path,
            env=_environment(home),
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            check=False,
        )
        assert result.returncode == 0, f"$ {command}\n{result.stdout}{result.stderr}"
        outputs.append(result.stdout)
    predicted = next(
        o for c, o in zip(commands, outputs, strict=True) if c.startswith("roost predict")
    )
    assert "versicolor" in predicted
    assert "model card of iris:1" in outputs[-1]

    assert "versicolor" in run_serve_block(readme, home, tmp_path)


def run_serve_block(readme: str, home: Path, cwd: Path) -> str:
    """The README's ```sh block: its `roost serve` on a free port, then its curl; curl's output."""
    (block,) = code_blocks(readme, "sh")
    serve_line, curl_line = block.splitlines()
    serve = shlex.split(serve_line, comments=True)
    assert serve[:2] == ["roost", "serve"]
    port = free_port()
    process = subprocess.Popen(
        [*serve, "--port", str(port)],
        cwd=cwd,
        env=_environment(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + CLI_TIMEOUT_S
        while process.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{port}/health/ready").status_code == 200:
                    break
            time.sleep(0.1)
        else:
            pytest.fail(f"`{serve_line}` exited {process.returncode} or was never ready")
        result = subprocess.run(
            ["bash", "-c", curl_line.replace("localhost:8000", f"localhost:{port}")],
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            check=True,
        )
    finally:
        process.terminate()
        try:
            process.wait(CLI_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0, f"`{serve_line}` exited {process.returncode} on SIGTERM"
    return result.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def listening_socket() -> Iterator[int]:
    """A port taken by a listener of the test's own, as another server would take it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def served_outputs(stdout: str) -> dict[str, str]:
    """What each served example printed in the demo, by its title."""
    blocks = re.findall(r"^--- ran: (.+?) ---\n(.*?)(?=^$|^=)", stdout, flags=re.M | re.S)
    return {title: output for title, output in blocks}


def assert_served_and_stopped(stdout: str) -> int:
    """The served examples printed predictions, and the server is gone; returns its port."""
    (port,) = re.findall(
        r"^\$ roost serve iris@production churn@production risk@production fraud@production "
        r"--telemetry "
        r"--port (\d+)$",
        stdout,
        re.M,
    )
    outputs = served_outputs(stdout)
    assert list(outputs) == list(SERVED_EXAMPLES), stdout
    for title, output in outputs.items():
        assert "skipped" not in output, f"{title}: {output}"
        assert any(species in output for species in SPECIES), f"{title}: {output}"
    assert "feedback: recorded" in outputs["Python with httpx, KServe V1, then feedback"]
    assert f"http://127.0.0.1:{port}/docs" in stdout
    assert f'url="127.0.0.1:{port}"' in stdout  # the tritonclient snippet names the real port
    (pid,) = re.findall(r"roost serve is pid (\d+)", stdout)
    assert f"roost serve (pid {pid}) stopped with exit status 0" in stdout
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        pass
    else:
        os.kill(int(pid), signal.SIGKILL)  # leave nothing behind, then fail
        pytest.fail(f"roost serve (pid {pid}) still runs after the demo exited")
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", int(port)))
    return int(port)


def run_demo(home: Path, port: int) -> str:
    """One non-interactive demo run: serve on ``port``, run the examples, stop, exit 0."""
    env = {**_environment(home), "ROOST_DEMO_PORT": str(port), "ROOST_DEMO_SERVE_SECONDS": "0"}
    result = subprocess.run(
        [sys.executable, str(DEMO)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_demo_runs_twice_and_moves_aliases(tmp_path: Path) -> None:
    """``make demo`` twice: new versions each time, ``production`` follows the newest.

    Both runs end serving the models and calling them (ROOST_DEMO_SERVE_SECONDS=0);
    the second finds its port taken and serves on a free one.
    """
    home = tmp_path / "roost-home"
    first_port = free_port()
    runs = [run_demo(home, first_port)]
    with listening_socket() as taken:
        runs.append(run_demo(home, taken))

    assert "iris@production -> 1 (new alias)" in runs[0]
    assert "iris@production -> 2 (moved from version 1)" in runs[1]
    assert "churn@production -> 2 (moved from version 1)" in runs[1]
    for heading in (
        "1. Train",
        "2. Predict in Python",
        "3. The same from the command line",
        "4. A model that computes its own features",
        "5. Serve the models over HTTP",
        "6. Your turn",
    ):
        assert heading in runs[1]
    assert "$ roost predict churn@production --input examples/churn_rows.csv" in runs[1]
    registry = Registry(home)
    for name in ("iris", "churn", "risk", "risk-fast", "risk-slow"):
        summary = registry.summary(name)
        assert [v.version for v in summary.versions] == [1, 2]
        # the cascade's members are pinned by version; only what clients call has an alias
        assert summary.aliases == ({} if name.startswith("risk-") else {"production": 2})
    # the demo's models are evaluated on their held-out rows when registered, sliced, and
    # declare every card field: their cards are complete (risk is sliced by its phases)
    history = EvaluationHistory(registry)
    served = (("iris:2", "petal_size"), ("churn:2", "contract_type"), ("risk:2", "phase"))
    for ref, slice_column in served:
        evaluations = history.list(ref)
        assert len(evaluations) == 1, ref
        assert {s.column for s in evaluations[0].slices} == {slice_column}
        card = model_card(registry.metadata(ref), evaluations)
        assert (card.completeness, card.missing) == (1.0, ()), ref

    assert assert_served_and_stopped(runs[0]) == first_port
    assert (
        "serving iris@production (version 2), churn@production (version 2), "
        "risk@production (version 2), fraud@production (version 2)"
    ) in runs[1]
    assert "fraud@production -> 2 (moved from version 1)" in runs[1]
    # roost features check: each of fraud_features' 9 columns identical on both paths
    assert len(re.findall(r"^ \w+ +200 +0 +0 +identical $", runs[1], re.M)) == 9
    assert "a composite (cascade) of risk-fast:2, risk-slow:2" in runs[1]
    assert re.search(r"phase 'slow' answered [1-9]\d* of 400 rows", runs[1])
    assert f"Port {taken} is taken" in runs[1]
    assert assert_served_and_stopped(runs[1]) != taken


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_demo_serves_until_ctrl_c_then_exits_0(tmp_path: Path) -> None:
    """Without ROOST_DEMO_SERVE_SECONDS the demo serves on; SIGINT stops the server, exit 0."""
    env = {**_environment(tmp_path / "roost-home"), "ROOST_DEMO_PORT": str(free_port())}
    process = subprocess.Popen(
        [sys.executable, str(DEMO)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # a shell's background job (`make test &`) ignores SIGINT, and children inherit
        # that: Python then installs no Ctrl-C handler and the demo would never stop
        preexec_fn=_default_sigint,
    )
    watchdog = threading.Timer(DEMO_TIMEOUT_S, process.kill)
    watchdog.start()
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Serving until you press Ctrl-C"):
                break
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
    stdout = "".join(lines) + rest
    assert process.returncode == 0, stdout
    assert "Ctrl-C: stopping the server" in stdout
    assert stdout.rstrip().endswith("models show iris@production")  # then the Done section
    assert_served_and_stopped(stdout)


@pytest.mark.parametrize("page", DOCTESTED)
def test_docs_examples_pass(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROOST_HOME", str(tmp_path / "roost-home"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the examples' mkdtemp() lands here
    monkeypatch.delenv("ROOST_REGISTRY_URL", raising=False)
    result = doctest.testfile(
        str(DOCS / page),
        module_relative=False,
        optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS,
        report=True,
    )
    assert result.attempted > 0
    assert result.failed == 0


def test_store_doc_lists_every_card_field() -> None:
    text = (DOCS / "store.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| `(\w+)` \| (.+) \|$", text.split("## Card fields", 1)[1], re.M)
    assert listed == list(CARD_FIELDS.items())


def test_cascade_example_registers_serves_and_measures_each_path(tmp_path: Path) -> None:
    """``examples/cascade_model.py``, small: calibrated, registered, served, measured."""
    home = tmp_path / "roost-home"
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "cascade_model.py"), "--rows", "3000", "--sample", "30"],
        cwd=ROOT,
        env=_environment(home),
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "registered risk:1, pinning risk-fast:1 and risk-slow:1" in out
    assert re.search(r"^threshold [\d.]+ meets the target", out, re.M), out
    rows = re.findall(
        r"^\| (risk[^|]*?) \| ([\d.]+)% \| ([\d.]+) \| ([\d.]+) ms \| ([\d.]+) ms \|$", out, re.M
    )
    assert [r[0] for r in rows] == [
        "risk-fast alone",
        "risk-slow alone",
        "risk: rows fast answered",
        "risk: rows slow answered",
        "risk: the cascade",
    ]
    shares = {name: float(share) for name, share, *_ in rows}
    assert shares["risk: rows fast answered"] + shares["risk: rows slow answered"] == pytest.approx(
        100, abs=0.2
    )
    assert all(float(p50) > 0 for *_, p50, _ in rows)
    assert "roost serve (pid" in out
    assert "stopped with exit status 0" in out
    assert [str(v) for v in Registry(home).dependents("risk-fast:1")] == ["risk:1"]
