"""Fixtures the feature-store tests share."""

from __future__ import annotations

import importlib
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

#: writes feature code to a file and imports it: ``load_features(source) -> module``
LoadFeatures = Callable[[str], ModuleType]


@pytest.fixture
def load_features(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LoadFeatures]:
    """Write feature code into tmp_path and import it under a fresh module name.

    Feature services must live in a real module (their code is imported, never pickled,
    and hashed from its source file); each call gives a new one, removed after the test.
    """
    folder = tmp_path / "feature_code"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    names: list[str] = []

    def load(source: str) -> ModuleType:
        name = f"feat_{uuid.uuid4().hex[:8]}"
        (folder / f"{name}.py").write_text(source, encoding="utf-8")
        importlib.invalidate_caches()
        names.append(name)
        return importlib.import_module(name)

    yield load
    for name in names:
        sys.modules.pop(name, None)
