"""The served part of the demo: ``roost serve`` as a child process, and three ways to call it.

``demo.py``'s last step uses this module. It picks a port, starts ``roost serve``,
waits until ``/v2/health/ready`` answers 200, runs each of the ``EXAMPLES`` once,
then keeps serving until Ctrl-C (or for ``ROOST_DEMO_SERVE_SECONDS``) and stops the
server with SIGTERM, which lets it answer what is in flight and exit 0.

The examples are kept here as text, once: the same text is run and printed, so what
a reader copies is exactly what ran.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import shlex
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template
from types import FrameType

HOST = "127.0.0.1"
DEFAULT_PORT = 8000
#: the demo's own settings, read from the environment by ``ServeOptions.from_env``
PORT_VARIABLE = "ROOST_DEMO_PORT"
SECONDS_VARIABLE = "ROOST_DEMO_SERVE_SECONDS"
READY_TIMEOUT_S = 60
#: roost serve drains for at most --timeout-s (30) + 5 s; a little more before SIGKILL
STOP_TIMEOUT_S = 40
EXAMPLE_TIMEOUT_S = 30


class ServerFailed(Exception):
    """The server could not be started, did not get ready, or an example failed."""


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """Where to serve and for how long; ``serve_seconds`` None means until Ctrl-C."""

    port: int = DEFAULT_PORT
    serve_seconds: float | None = None

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ServerFailed(f"{PORT_VARIABLE}: expected a port from 1 to 65535, got {self.port}")
        if self.serve_seconds is not None and not self.serve_seconds >= 0:
            raise ServerFailed(
                f"{SECONDS_VARIABLE}: expected 0 or more seconds, got {self.serve_seconds:g}"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ServeOptions:
        """Read ``ROOST_DEMO_PORT`` and ``ROOST_DEMO_SERVE_SECONDS`` (empty means unset)."""
        port_text = environ.get(PORT_VARIABLE, "").strip()
        seconds_text = environ.get(SECONDS_VARIABLE, "").strip()
        try:
            port = int(port_text) if port_text else DEFAULT_PORT
        except ValueError:
            raise ServerFailed(
                f"{PORT_VARIABLE}: expected a port number, got {port_text!r}"
            ) from None
        try:
            seconds = float(seconds_text) if seconds_text else None
        except ValueError:
            raise ServerFailed(
                f"{SECONDS_VARIABLE}: expected a number of seconds, got {seconds_text!r}"
            ) from None
        return cls(port, seconds)


@dataclass(frozen=True, slots=True)
class Example:
    """One way to call the server; ``template`` holds ``$url`` and ``$address`` placeholders."""

    key: str
    title: str
    template: str
    #: modules the example imports (Python) or the program it runs (a shell command)
    needs: tuple[str, ...]
    install: str

    @property
    def is_shell(self) -> bool:
        return self.key == "curl"

    def code(self, port: int) -> str:
        return Template(self.template).substitute(
            url=f"http://{HOST}:{port}", address=f"{HOST}:{port}"
        )

    def missing(self) -> str | None:
        """What is not installed here to run this example, or None."""
        for need in self.needs:
            found = shutil.which(need) if self.is_shell else importlib.util.find_spec(need)
            if found is None:
                return need
        return None


CURL = Example(
    key="curl",
    title="curl, KServe V1",
    template='curl -s $url/v1/models/iris:predict -d \'{"instances": '
    '[{"sepal_length": 6.2, "sepal_width": 2.9, "petal_length": 4.3, "petal_width": 1.3}]}\'',
    needs=("curl",),
    install="install curl with your system's package manager",
)

HTTPX = Example(
    key="httpx",
    title="Python with httpx, KServe V1, then feedback",
    template="""\
import httpx

rows = [
    {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2},
    {"sepal_length": 6.3, "sepal_width": 3.3, "petal_length": 6.0, "petal_width": 2.5},
]
response = httpx.post("$url/v1/models/iris:predict", json={"instances": rows})
response.raise_for_status()
for prediction in response.json()["predictions"]:
    print(prediction["label"], [round(p, 3) for p in prediction["probabilities"]])
prediction_id = response.headers["x-prediction-id"]
print("prediction id:", prediction_id)

# later, once the truth is known: one true label per row of that request
truth = {"prediction_id": prediction_id, "truth": ["setosa", "virginica"]}
feedback = httpx.post("$url/v1/feedback", json=truth)
print("feedback:", feedback.json()["results"][0]["status"])
""",
    needs=("httpx",),
    install="pip install httpx",
)

TRITONCLIENT = Example(
    key="tritonclient",
    title="Python with tritonclient, Open Inference Protocol V2",
    template="""\
import numpy as np
import tritonclient.http as httpclient

client = httpclient.InferenceServerClient(url="$address")  # host:port, no scheme
row = {"sepal_length": 7.0, "sepal_width": 3.2, "petal_length": 4.7, "petal_width": 1.4}
inputs = []
for column, value in row.items():  # one FP64 input of shape [1] per column
    tensor = httpclient.InferInput(column, [1], "FP64")
    tensor.set_data_from_numpy(np.array([value]))
    inputs.append(tensor)
wanted = [httpclient.InferRequestedOutput("label")]
result = client.infer("iris", inputs, outputs=wanted)
print(result.as_numpy("label")[0].decode())  # label is a BYTES tensor
print("prediction id:", result.get_response()["parameters"]["prediction_id"])
client.close()
""",
    needs=("numpy", "tritonclient", "geventhttpclient"),
    install="pip install 'tritonclient[http]'",
)

EXAMPLES = (CURL, HTTPX, TRITONCLIENT)


def run_example(example: Example, port: int) -> str:
    """Run the example's code against the server on ``port``; return what it printed.

    Raises:
        ServerFailed: the example exited with an error or raised.
    """
    code = example.code(port)
    if example.is_shell:
        result = subprocess.run(
            shlex.split(code), capture_output=True, text=True, timeout=EXAMPLE_TIMEOUT_S
        )
        if result.returncode != 0:
            raise ServerFailed(
                f"the {example.key} example exited with status {result.returncode}: "
                f"{result.stderr.strip()}"
            )
        return result.stdout
    # exec, not a function of ours: the text printed for the reader is the code that ran
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            exec(compile(code, f"<{example.key} example>", "exec"), {"__name__": "__example__"})
    except Exception as exc:
        raise ServerFailed(f"the {example.key} example failed: {exc!r}") from exc
    return printed.getvalue()


# ------------------------------------------------------------------ the server


def is_port_free(port: int) -> bool:
    """Whether a server could listen on ``HOST:port`` now (as uvicorn binds: SO_REUSEADDR)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A port nothing listens on, chosen by the system."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    """A running ``roost serve`` child process."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> float:
        """Poll ``/v2/health/ready`` until it answers 200; return the seconds it took.

        Raises:
            ServerFailed: the process exited, or it was not ready within ``timeout_s``.
        """
        started = time.monotonic()
        while True:
            if self.process.poll() is not None:
                raise ServerFailed(f"roost serve exited with status {self.process.returncode}")
            # not listening yet, or 503 (HTTPError): both are OSErrors; try again shortly
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.url}/v2/health/ready", timeout=2) as answer,
            ):
                if answer.status == 200:
                    return time.monotonic() - started
            if time.monotonic() - started > timeout_s:
                raise ServerFailed(f"roost serve was not ready after {timeout_s:g} s")
            time.sleep(0.1)

    def serve(self, seconds: float | None) -> None:
        """Block while the server runs: ``seconds`` long, or until Ctrl-C when None.

        Raises:
            ServerFailed: the server stopped by itself.
        """
        try:
            status = self.process.wait(seconds)
        except subprocess.TimeoutExpired:
            return
        raise ServerFailed(f"roost serve stopped by itself with status {status}")

    def stop(self) -> int:
        """SIGTERM (answer what is in flight, exit 0); SIGKILL if it takes too long."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except (subprocess.TimeoutExpired, KeyboardInterrupt):  # a second Ctrl-C: at once
                self.process.kill()
        return self.process.wait()


@contextlib.contextmanager
def interrupts_as_keyboard_interrupt() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP (a closed terminal) into KeyboardInterrupt, like Ctrl-C.

    The server runs in its own process group, so signals reach only the demo, which
    then stops the server exactly once; a server left behind would hold the port.
    """

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def running_server(command: Sequence[str], cwd: Path, env: Mapping[str, str]) -> Iterator[Server]:
    """Start ``roost serve`` (``command`` ends with ``--port N``); stop it on the way out."""
    port = int(command[-1])
    process = subprocess.Popen(
        list(command),
        cwd=cwd,
        # unbuffered, so its banner shows at once even when the demo's output is a pipe
        env={**env, "PYTHONUNBUFFERED": "1"},
        # its own process group: Ctrl-C reaches the demo only, and the demo stops the
        # server once (a second SIGINT would make uvicorn skip the drain)
        process_group=0,
    )
    server = Server(process, port)
    try:
        yield server
    finally:
        status = server.stop()
        print(f"roost serve (pid {process.pid}) stopped with exit status {status}", flush=True)
