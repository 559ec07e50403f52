"""The public surface is exactly what each facade's ``__all__`` says, kept sorted.

A name imported into a facade but left out of ``__all__`` is public by accident;
a name in ``__all__`` that the facade does not define breaks ``from roost import *``.
Add each new room's facade to ``FACADES``.
"""

from __future__ import annotations

import importlib
import re
import types

import pytest

FACADES = [
    "roost",
    "roost.cards",
    "roost.compose",
    "roost.errors",
    "roost.features",
    "roost.model",
    "roost.plan",
    "roost.serving",
    "roost.store",
    "roost.telemetry",
]


def _public_names(module: types.ModuleType) -> set[str]:
    """Names a reader would take as public: not underscored, not submodules, not __future__."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"  # `from __future__ import annotations` leaves this behind
    }


def _isort_key(name: str) -> tuple[int, list[str | int]]:
    """The order ruff's RUF022 keeps: CONSTANTS, then Classes, then the rest; digits by value."""
    group = 0 if len(name) > 1 and name.isupper() else 1 if name[:1].isupper() else 2
    return group, [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


@pytest.mark.parametrize("module_name", FACADES)
def test_all_is_sorted(module_name: str) -> None:
    exported = importlib.import_module(module_name).__all__
    assert exported == sorted(exported, key=_isort_key)


def test_sort_key_matches_ruff() -> None:
    names = ["load", "Model", "FLAVORS", "X", "__version__", "a10", "COLUMN_DTYPES", "a9"]
    expected = ["COLUMN_DTYPES", "FLAVORS", "Model", "X", "__version__", "a9", "a10", "load"]
    assert sorted(names, key=_isort_key) == expected


@pytest.mark.parametrize("module_name", FACADES)
def test_all_has_no_duplicates(module_name: str) -> None:
    exported = importlib.import_module(module_name).__all__
    assert len(exported) == len(set(exported))


@pytest.mark.parametrize("module_name", FACADES)
def test_all_names_exist(module_name: str) -> None:
    module = importlib.import_module(module_name)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []


@pytest.mark.parametrize("module_name", FACADES)
def test_all_matches_public_names(module_name: str) -> None:
    """Every public name the facade defines is exported, and nothing else (dunders aside)."""
    module = importlib.import_module(module_name)
    exported = {name for name in module.__all__ if not name.startswith("__")}
    assert _public_names(module) == exported


def test_version_is_exported() -> None:
    import roost

    assert "__version__" in roost.__all__
    assert isinstance(roost.__version__, str)
    assert roost.__version__
