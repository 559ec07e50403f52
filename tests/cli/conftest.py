"""Fixtures for the CLI tests: one small fitted classifier, and a registry holding it."""

from __future__ import annotations

from typing import Any

import pytest

from roost.store import Registry


@pytest.fixture(scope="session")
def iris() -> tuple[Any, Any, Any]:
    """A LogisticRegression fitted on iris once per session, with its X and y."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(as_frame=True, return_X_y=True)
    return LogisticRegression(max_iter=1000).fit(x, y), x, y


@pytest.fixture
def saved(registry: Registry, iris: tuple[Any, Any, Any]) -> Registry:
    """The shared ``registry`` fixture with ``iris:1`` saved in it."""
    clf, x, y = iris
    registry.save(clf, "iris", example=x[:5], data={"train": (x, y)}, card={"owners": ["ml-team"]})
    return registry
