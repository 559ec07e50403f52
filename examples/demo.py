"""The roost demo: train two models, register them, and predict from Python and from the CLI.

Run it with ``make demo``, which installs roost in ``.venv`` and keeps the demo
registry in ``.roost-demo/``. By hand::

    ROOST_HOME=/tmp/roost-demo .venv/bin/python examples/demo.py

Every run registers new versions and moves the ``production`` aliases to them.

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

import churn_model
import iris_model
import roost

ROOT = Path(__file__).resolve().parent.parent
IRIS_ROWS = "examples/iris_rows.json"
CHURN_ROWS = "examples/churn_rows.csv"
ALIAS = "production"
CLI_TIMEOUT_S = 120


class DemoFailed(Exception):
    """A step could not finish; the message says which and why."""


@dataclass
class Demo:
    """What the steps share: where the registry is, how to run ``roost``, what was registered."""

    home: Path
    env: dict[str, str]
    roost_command: str
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
    heading(f"1. Train two models and register them in {demo.home}")
    for module in (iris_model, churn_model):
        started = time.perf_counter()
        trained = module.train()
        version = module.register(trained)
        previous = roost.default_registry().set_alias(module.NAME, ALIAS, version.version)
        moved = f"moved from version {previous}" if previous else "new alias"
        print(
            f"{version!s:<9} {version.flavor:<8} test accuracy {trained.accuracy:.3f}  "
            f"{time.perf_counter() - started:4.1f}s  {version.digest[:19]}...\n"
            f"{'':<9} {module.NAME}@{ALIAS} -> {version.version} ({moved})"
        )
        demo.versions[module.NAME] = version


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


def predict_with_cli(demo: Demo) -> None:
    heading("3. The same from the command line")
    run_cli(demo, "models", "list")
    run_cli(demo, "predict", f"iris@{ALIAS}", "--input", IRIS_ROWS)
    run_cli(demo, "predict", f"churn@{ALIAS}", "--input", CHURN_ROWS)


STEPS: tuple[Callable[[Demo], None], ...] = (
    train_and_register,
    predict_in_python,
    predict_with_cli,
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
        demo = Demo(home=home, env=dict(os.environ), roost_command=find_roost_command())
        for step in STEPS:
            step(demo)
    except DemoFailed as exc:
        print(f"\ndemo failed: {exc}", file=sys.stderr)
        return 1
    heading("Done")
    print(
        f"The demo registry is {home}. Try:\n"
        f"  ROOST_HOME={home} .venv/bin/roost models show iris@{ALIAS}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
