"""The roost demo: train the example models, register them, predict, then serve them.

Run it with ``make demo``, which installs roost in ``.venv`` and keeps the demo
registry in ``.roost-demo/``. By hand::

    ROOST_HOME=/tmp/roost-demo .venv/bin/python examples/demo.py

Every run registers new versions and moves the ``production`` aliases to them.
The example models are an iris classifier, a churn pipeline, a two-phase cascade
(``risk``: a linear model answers what it is sure of, gradient boosting the rest) and a
fraud model that computes its own features from the feature store (``fraud``). The
last step serves them with ``roost serve`` on 127.0.0.1:8000 (or a free
port when 8000 is taken), calls them with curl, httpx and tritonclient, and keeps
serving until Ctrl-C. Two variables change that:

- ``ROOST_DEMO_PORT``: the port to ask for instead of 8000;
- ``ROOST_DEMO_SERVE_SECONDS``: serve this long, then stop and exit; ``0`` stops
  right after the examples ran (for tests and scripts).

The walkthrough is a list of steps (``STEPS``); each takes the ``Demo`` and
prints under its own heading. To show something new, write a step and add it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

import cascade_model
import churn_model
import fraud_model
import iris_model
import roost
import serve_demo
from serve_demo import ServeOptions, ServerFailed

ROOT = Path(__file__).resolve().parent.parent
IRIS_ROWS = "examples/iris_rows.json"
CHURN_ROWS = "examples/churn_rows.csv"
ALIAS = "production"
#: one payment, as a client sends it to the fraud model: what is known at request time
FRAUD_PAYMENT = {
    "card_id": 7,
    "amount": 480.0,
    "currency": "USD",
    "hour": 3,
    "merchant": "electronics",
}
FRAUD_REQUEST = tuple(f"{name}={value}" for name, value in FRAUD_PAYMENT.items())
FRAUD_JSON = json.dumps(FRAUD_PAYMENT)
CLI_TIMEOUT_S = 120


class DemoFailed(Exception):
    """A step could not finish; the message says which and why."""


@dataclass
class Demo:
    """What the steps share: where the registry is, how to run ``roost``, what was registered."""

    home: Path
    env: dict[str, str]
    roost_command: str
    serving: ServeOptions = field(default_factory=ServeOptions)
    versions: dict[str, roost.ModelVersion] = field(default_factory=dict)


def heading(title: str) -> None:
    print(f"\n{'=' * 72}\n{title}\n{'=' * 72}", flush=True)


def run_cli(demo: Demo, *args: str) -> None:
    """Run ``roost ARGS`` as a user would type it, from the repository root."""
    shown = " ".join(("roost", *args))
    print(f"\n$ {shown}", flush=True)
    result = subprocess.run(
        [demo.roost_command, *args], cwd=ROOT, env=demo.env, timeout=CLI_TIMEOUT_S, check=False
    )
    if result.returncode != 0:
        raise DemoFailed(f"`{shown}` exited with status {result.returncode}")


def describe(output: Any, classes: Sequence[Any]) -> str:
    """A classifier's output as one line: the label, then each class's probability."""
    shares = ", ".join(
        f"{c} {p:.2f}" for c, p in zip(classes, output["probabilities"], strict=True)
    )
    return f"{output['label']:<6} ({shares})"


# ------------------------------------------------------------------ steps


def train_and_register(demo: Demo) -> None:
    heading(f"1. Train the example models and register them in {demo.home}")
    for module in (iris_model, churn_model, cascade_model):
        started = time.perf_counter()
        trained = module.train()
        version = module.register(trained)
        previous = roost.default_registry().set_alias(module.NAME, ALIAS, version.version)
        moved = f"moved from version {previous}" if previous else "new alias"
        model = roost.load(str(version))
        accuracy = test_accuracy(model, trained)
        print(
            f"{version!s:<9} {version.flavor:<9} test accuracy {accuracy:.3f}  "
            f"{time.perf_counter() - started:4.1f}s  {version.digest[:19]}...\n"
            f"{'':<9} {module.NAME}@{ALIAS} -> {version.version} ({moved})"
        )
        pins = model.metadata.get("depends_on") or []
        if pins:  # a composite: the versions it is built from
            pinned = ", ".join(f"{pin['name']}:{pin['version']}" for pin in pins)
            print(
                f"{'':<9} a composite ({model.metadata['flavor']['options']['kind']}) of {pinned}"
            )
        demo.versions[module.NAME] = version


def test_accuracy(model: roost.PackagedModel, trained: Any) -> float:
    """The registered package's accuracy on the test rows its module held out."""
    X_test, y_test = trained.data["test"]
    answers = model.predict(X_test)
    labels = [answer["label"] if isinstance(answer, dict) else answer for answer in answers]
    return sum(a == b for a, b in zip(labels, y_test, strict=True)) / len(labels)


def predict_in_python(demo: Demo) -> None:
    heading("2. Predict in Python: roost.load(...).predict(rows)")
    print(f'>>> model = roost.load("iris@{ALIAS}")')
    iris = roost.load(f"iris@{ALIAS}")
    rows = json.loads((ROOT / IRIS_ROWS).read_text(encoding="utf-8"))
    print(f">>> model.predict(rows)   # {len(rows)} rows from {IRIS_ROWS}")
    classes = iris.signature.outputs[1].labels or ()
    for row, output in zip(rows, iris.predict(rows), strict=True):
        print(f"  {row}\n    -> {describe(output, classes)}")

    print(f'\n>>> model = roost.load("churn@{ALIAS}")')
    churn = roost.load(f"churn@{ALIAS}")
    table = pd.read_csv(ROOT / CHURN_ROWS)
    print(f">>> model.predict(pd.read_csv({CHURN_ROWS!r}))")
    classes = churn.signature.outputs[1].labels or ()
    for (_, row), output in zip(table.iterrows(), churn.predict(table), strict=True):
        who = f"{row['contract_type']}, {row['tenure_months']} months, {row['payment_method']}"
        print(f"  {who:<48} -> churn {describe(output, classes)}")

    print(f'\n>>> model = roost.load("risk@{ALIAS}")   # a cascade: risk-fast, else risk-slow')
    risk = roost.load(f"risk@{ALIAS}")
    applications = cascade_model.make_table(400)[0]
    answers = risk.predict(applications)
    print(f">>> model.predict(applications)   # {len(answers)} generated rows")
    for phase in ("fast", "slow"):
        count = sum(answer["phase"] == phase for answer in answers)
        print(f"  phase {phase!r} answered {count} of {len(answers)} rows")


def predict_with_cli(demo: Demo) -> None:
    heading("3. The same from the command line")
    run_cli(demo, "models", "list")
    run_cli(demo, "predict", f"iris@{ALIAS}", "--input", IRIS_ROWS)
    run_cli(demo, "predict", f"churn@{ALIAS}", "--input", CHURN_ROWS)


def compute_features(demo: Demo) -> None:
    heading("4. A model that computes its own features (roost.features)")
    print(
        "$ python examples/fraud_model.py --cards 800   # events, training frame, model", flush=True
    )
    fraud_model.main(["--cards", "800"])
    registry = roost.default_registry()
    latest = registry.resolve("fraud")
    previous = registry.set_alias("fraud", ALIAS, latest.version)
    moved = f"moved from version {previous}" if previous else "new alias"
    print(f"fraud@{ALIAS} -> {latest.version} ({moved})", flush=True)
    run_cli(demo, "features", "check", "fraud_features", "--sample", "200")
    run_cli(demo, "features", "get", "fraud_features", *FRAUD_REQUEST)


def serve_over_http(demo: Demo) -> None:
    port = demo.serving.port
    heading("5. Serve the models over HTTP, and call them")
    if not serve_demo.is_port_free(port):
        taken = port
        port = serve_demo.free_port()
        print(f"Port {taken} is taken (another server is listening there); using port {port}.")
    # --telemetry: every prediction is logged, and feedback is taken at /v1/feedback
    refs = (f"iris@{ALIAS}", f"churn@{ALIAS}", f"risk@{ALIAS}", f"fraud@{ALIAS}")
    args = ("serve", *refs, "--telemetry", "--port", str(port))
    print(f"\n$ {' '.join(('roost', *args))}", flush=True)
    with (
        serve_demo.interrupts_as_keyboard_interrupt(),
        serve_demo.running_server((demo.roost_command, *args), ROOT, demo.env) as server,
    ):
        seconds = server.wait_ready()
        print(
            f"ready after {seconds:.1f} s: GET {server.url}/v2/health/ready answered 200 "
            f"(roost serve is pid {server.process.pid})",
            flush=True,
        )
        call_examples(port)
        show_examples(server.url, port)
        if demo.serving.serve_seconds == 0:
            print(f"\n{serve_demo.SECONDS_VARIABLE}=0: stopping the server now.", flush=True)
            return
        # the announcement sits inside the try: a Ctrl-C right after it is still a clean stop
        try:
            if demo.serving.serve_seconds is None:
                print("\nServing until you press Ctrl-C.", flush=True)
            else:
                print(f"\nServing for {demo.serving.serve_seconds:g} s (Ctrl-C stops it sooner).")
            server.serve(demo.serving.serve_seconds)
        except KeyboardInterrupt:
            print("\nCtrl-C: stopping the server (requests in flight are answered first).")


def call_examples(port: int) -> None:
    """Run each example once against the server and show what it printed."""
    print("\nEach example of step 6 ran once against it and printed:")
    for example in serve_demo.EXAMPLES:
        print(f"\n--- ran: {example.title} ---")
        missing = example.missing()
        if missing is not None:
            print(f"    (skipped: {missing} is not installed here; {example.install})")
            continue
        for line in serve_demo.run_example(example, port).rstrip("\n").splitlines():
            print(f"    {line}")
    sys.stdout.flush()


def show_examples(url: str, port: int) -> None:
    heading(f"6. Your turn: iris, churn, risk and fraud are served at {url}")
    for example in serve_demo.EXAMPLES:
        needs = f" (needs: {example.install})" if example.missing() is not None else ""
        print(f"\n--- {example.title}{needs} ---\n{example.code(port).rstrip()}")
    print(
        f"\nchurn takes its 20 columns at {url}/v1/models/churn:predict and /v2/models/churn/infer."
        f"\nrisk, a cascade, takes s0 … s19 at {url}/v1/models/risk:predict; its `phase` output "
        "says which member answered (docs/composition.md)."
        f"\nfraud takes raw payments and computes its features server-side (docs/features.md):"
        f"\n  curl -s {url}/v1/models/fraud:predict -d '{{\"instances\": [{FRAUD_JSON}]}}'"
        f"\nAPI docs, with every model's schema, examples and a form to try it: {url}/docs",
        flush=True,
    )


STEPS: tuple[Callable[[Demo], None], ...] = (
    train_and_register,
    predict_in_python,
    predict_with_cli,
    compute_features,
    serve_over_http,
)


# ------------------------------------------------------------------- main


def find_roost_command() -> str:
    """The ``roost`` script installed beside this Python, else the one on PATH."""
    beside = Path(sys.executable).parent / "roost"
    found = str(beside) if beside.is_file() else shutil.which("roost")
    if found is None:
        raise DemoFailed("the roost command is not installed; run `make demo`")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.parse_args(argv)
    home = Path(os.environ.get("ROOST_HOME") or ROOT / ".roost-demo").resolve()
    os.environ["ROOST_HOME"] = str(home)
    # the demo keeps its own registry: a ROOST_REGISTRY_URL of yours is left alone
    os.environ.pop("ROOST_REGISTRY_URL", None)
    try:
        demo = Demo(
            home=home,
            env=dict(os.environ),
            roost_command=find_roost_command(),
            serving=ServeOptions.from_env(os.environ),
        )
        for step in STEPS:
            step(demo)
    except (DemoFailed, ServerFailed) as exc:
        print(f"\ndemo failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ndemo interrupted", file=sys.stderr)
        return 130
    heading("Done")
    print(
        f"The demo registry is {home}. Try:\n"
        "  # what the server logged: latency, accuracy from the feedback, drift\n"
        f"  ROOST_HOME={home} .venv/bin/roost telemetry report iris --html iris-telemetry.html\n"
        f"  ROOST_HOME={home} .venv/bin/roost models show iris@{ALIAS}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
