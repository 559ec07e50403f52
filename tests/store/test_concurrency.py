"""Several processes registering the same model at once never lose or duplicate a version.

Each child is a real Python process that saves through ``roost.save``, configured
only by ``ROOST_HOME`` and ``ROOST_REGISTRY_URL``, as a user's training jobs would be.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from roost.store import Registry, open_index

pytestmark = pytest.mark.integration

PROCESSES = 4
SAVES_EACH = 5
TIMEOUT_S = 180

CHILD = """
import sys

from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import roost

frame = load_iris(as_frame=True)
model = LogisticRegression(max_iter=1000).fit(frame.data, frame.target)
print("ready", flush=True)
sys.stdin.readline()  # the parent says go once every child is ready: they start together
for _ in range(int(sys.argv[1])):
    print(roost.save(model, "iris", example=frame.data[:5]).version, flush=True)
"""


def register_at_once(home: Path, index_url: str | None) -> list[list[int]]:
    """Run the children together; return the versions each one was given."""
    env = {**os.environ, "ROOST_HOME": str(home)}
    env.pop("ROOST_REGISTRY_URL", None)
    if index_url:
        env["ROOST_REGISTRY_URL"] = index_url
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(SAVES_EACH)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(PROCESSES)
    ]
    try:
        for child in children:
            assert child.stdout is not None
            line = child.stdout.readline()
            assert line == "ready\n", f"child did not start: {child.communicate()[1]}"
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        results = [child.communicate(timeout=TIMEOUT_S) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    for child, (_, stderr) in zip(children, results, strict=True):
        assert child.returncode == 0, stderr
    return [[int(line) for line in stdout.split()] for stdout, _ in results]


def check_versions(registry: Registry, given: list[list[int]], iris: Any) -> None:
    total = PROCESSES * SAVES_EACH
    every = sorted(v for versions in given for v in versions)
    assert every == list(range(1, total + 1))  # no gap, no duplicate
    assert all(versions == sorted(versions) for versions in given)  # each saw its own rise
    assert [v.version for v in registry.summary("iris").versions] == every
    expected = registry.load("iris:1").predict(iris.example)
    for number in every:
        model = registry.load(f"iris:{number}")  # verifies every hash
        assert model.metadata["version"] == number
        assert model.predict(iris.example) == expected
    events = registry.index.events("iris")
    assert sorted(version or 0 for _, action, version, _ in events if action == "register") == every
    assert list((registry.home / "staging").glob("*")) == []
    assert list((registry.home / "trash").glob("*")) == []


def test_concurrent_saves_with_sqlite_index_number_versions_1_to_n(
    tmp_path: Path, iris: Any
) -> None:
    home = tmp_path / "roost-home"
    given = register_at_once(home, None)
    check_versions(Registry(home), given, iris)


def test_concurrent_saves_with_postgres_index_number_versions_1_to_n(
    tmp_path: Path, iris: Any, postgres_url: str
) -> None:
    """The children also race to create the index tables in a fresh schema."""
    home = tmp_path / "roost-home"
    given = register_at_once(home, postgres_url)
    assert not (home / "registry.db").exists()
    check_versions(Registry(home, open_index(postgres_url)), given, iris)
