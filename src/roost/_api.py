"""``roost.save`` and ``roost.load``: the one-call library mode for notebooks and scripts.

These are the only library entry points that read the environment (``ROOST_HOME``,
``ROOST_REGISTRY_URL``), because a notebook has no CLI to do it for them. Pass
``registry=`` to use an explicit one instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from roost.config import Settings
from roost.model import Signature
from roost.store import ModelVersion, PackagedModel, Registry
from roost.types import Rows

__all__ = ["default_registry", "load", "save"]


def default_registry() -> Registry:
    """The registry named by ``ROOST_HOME`` and ``ROOST_REGISTRY_URL`` (default ``~/.roost``)."""
    return Registry.from_config(Settings.from_env(os.environ).store)


def _caller_dir() -> Path:
    """The folder of the first caller outside roost, for its git commit (cwd in a notebook)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("roost"):
        frame = frame.f_back  # type: ignore[assignment]
    filename = frame.f_code.co_filename if frame is not None else ""
    path = Path(filename)
    return path.parent if path.is_file() else Path.cwd()


def save(
    model: Any,
    name: str,
    *,
    example: Rows,
    data: Mapping[str, Any] | None = None,
    card: Mapping[str, Any] | None = None,
    signature: Signature | None = None,
    proba: bool | None = None,
    registry: Registry | None = None,
) -> ModelVersion:
    """Save a fitted model as the next version of ``name`` and return it (``iris:1``).

    Example:
        >>> version = roost.save(clf, "iris", example=X[:5],
        ...                      data={"train": (X_train, y_train), "test": (X_test, y_test)},
        ...                      card={"intended_use": "teaching"})  # doctest: +SKIP
        >>> str(version)  # doctest: +SKIP
        'iris:1'

    See ``Registry.save`` for the arguments.
    """
    return (registry or default_registry()).save(
        model,
        name,
        example=example,
        data=data,
        card=card,
        signature=signature,
        proba=proba,
        source_dir=_caller_dir(),
    )


def load(ref: str, *, registry: Registry | None = None) -> PackagedModel:
    """Load a registered version (``name:7``, ``name:latest``, ``name@alias``) ready to predict.

    Example:
        >>> model = roost.load("iris@production")  # doctest: +SKIP
        >>> model.predict([{"sepal_length": 5.1, "sepal_width": 3.5,
        ...                 "petal_length": 1.4, "petal_width": 0.2}])  # doctest: +SKIP
    """
    return (registry or default_registry()).load(ref)
