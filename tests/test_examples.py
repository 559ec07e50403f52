"""The README quickstart, the demo and the docs' examples run as written, in temporary registries.

If one of these fails, the documentation is wrong: fix the README or the example,
not the test.
"""

from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from roost.errors import SignatureError
from roost.store import CARD_FIELDS, Registry

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DEMO = ROOT / "examples" / "demo.py"
DOCS = ROOT / "docs"
#: the pages whose ``>>>`` examples run as doctests
DOCTESTED = ["model.md", "store.md", "testing.md"]
#: one demo run takes ~10 s here; the bound is for a slow, busy CI machine
DEMO_TIMEOUT_S = 300
CLI_TIMEOUT_S = 120


def code_blocks(text: str, language: str) -> list[str]:
    """The fenced blocks of one language in a Markdown text, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def _environment(home: Path) -> dict[str, str]:
    """The caller's environment with a fresh registry, and this Python's scripts first on PATH."""
    env = {k: v for k, v in os.environ.items() if k != "ROOST_REGISTRY_URL"}
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
    assert "versicolor" in outputs[-1]


def test_demo_runs_twice_and_moves_aliases(tmp_path: Path) -> None:
    """``make demo`` twice: new versions each time, ``production`` follows the newest."""
    home = tmp_path / "roost-home"
    runs = []
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, str(DEMO)],
            cwd=ROOT,
            env=_environment(home),
            capture_output=True,
            text=True,
            timeout=DEMO_TIMEOUT_S,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        runs.append(result.stdout)

    assert "iris@production -> 1 (new alias)" in runs[0]
    assert "iris@production -> 2 (moved from version 1)" in runs[1]
    assert "churn@production -> 2 (moved from version 1)" in runs[1]
    for heading in ("1. Train", "2. Predict in Python", "3. The same from the command line"):
        assert heading in runs[1]
    assert "$ roost predict churn@production --input examples/churn_rows.csv" in runs[1]
    registry = Registry(home)
    for name in ("iris", "churn"):
        summary = registry.summary(name)
        assert [v.version for v in summary.versions] == [1, 2]
        assert summary.aliases == {"production": 2}


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
