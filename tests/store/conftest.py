"""Fixtures of the store room: one small fitted model, and a registry already holding it."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from roost.store import Registry


@dataclass(frozen=True, repr=False)  # the frames' repr would flood every failure report
class Iris:
    """Iris split in two, and a LogisticRegression fitted on the training part."""

    x_train: Any
    y_train: Any
    x_test: Any
    y_test: Any
    model: Any

    @property
    def example(self) -> Any:
        return self.x_test[:5]

    @property
    def data(self) -> dict[str, Any]:
        return {"train": (self.x_train, self.y_train), "test": (self.x_test, self.y_test)}


@pytest.fixture(scope="session")
def iris() -> Iris:
    """Fitted once per session: the tests read the model, they never refit it."""
    datasets = pytest.importorskip("sklearn.datasets")
    linear_model = pytest.importorskip("sklearn.linear_model")
    frame = datasets.load_iris(as_frame=True)
    x, y = frame.data, frame.target
    # every third row is held out, so both parts hold all three classes
    test = x.index % 3 == 0
    model = linear_model.LogisticRegression(max_iter=1000).fit(x[~test], y[~test])
    return Iris(x[~test], y[~test], x[test], y[test], model)


@pytest.fixture(scope="session")
def saved_home(tmp_path_factory: pytest.TempPathFactory, iris: Iris) -> Path:
    """A registry home with iris:1 (example only) and iris:2 (with train and test data)."""
    home = tmp_path_factory.mktemp("saved") / "roost-home"
    registry = Registry(home)
    registry.save(iris.model, "iris", example=iris.example)
    registry.save(iris.model, "iris", example=iris.example, data=iris.data)
    return home


@pytest.fixture
def saved(tmp_path: Path, saved_home: Path) -> Registry:
    """A registry of the test's own holding iris:1 and iris:2.

    A copy of one built once per session: every save syncs the SQLite index to disk
    several times, and most tests only need versions to exist.
    """
    home = tmp_path / "saved-home"
    shutil.copytree(saved_home, home)
    return Registry(home)
