"""Contract tests on imports: rooms import only downwards, and ``import roost`` stays light.

The layer order (STYLE.md §1), bottom first::

    core (errors, types, config, clock, _version, _sqlite)
    model
    store
    facade (roost/__init__.py, _api.py, testing.py)
    compose, features, telemetry
    cards
    serving, batch
    deploy, plan, web
    cli (and roost/__main__.py)

Within that order a room reads only the rooms its row of the table in
docs/architecture.md names (``READS_FROM`` below); every room may read core.
A new room, or a new edge, is added here and in docs/architecture.md together.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import roost

PACKAGE_ROOT = Path(roost.__file__).parent
ARCHITECTURE = Path(__file__).resolve().parent.parent / "docs" / "architecture.md"

CORE_MODULES = frozenset({"errors", "types", "config", "clock", "_version", "_sqlite"})
FACADE_MODULES = frozenset({"__init__", "_api", "testing"})
CLI_MODULES = frozenset({"__main__"})  # `python -m roost` runs the CLI

#: bottom first; a room may import only from rooms in lower layers
LAYERS: tuple[tuple[str, ...], ...] = (
    ("core",),
    ("model",),
    ("store",),
    ("facade",),
    ("compose", "features", "telemetry"),
    ("cards",),
    ("serving", "batch"),
    ("deploy", "plan", "web"),
    ("cli",),
)
_LEVEL = {room: level for level, rooms in enumerate(LAYERS) for room in rooms}

#: the "reads from" column of the rooms table (DESIGN.md, docs/architecture.md); core is implied
READS_FROM: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "model": frozenset(),
    "store": frozenset({"model"}),
    "facade": frozenset({"model", "store"}),
    "compose": frozenset({"model", "store"}),
    "features": frozenset({"model", "store"}),
    "telemetry": frozenset({"model"}),
    "serving": frozenset({"model", "store", "compose", "features", "telemetry", "cards"}),
    "batch": frozenset({"model", "store"}),
    "cards": frozenset({"model", "store", "telemetry"}),
    "deploy": frozenset({"store", "serving"}),
    "plan": frozenset({"model", "store", "serving"}),  # profile: the server's codecs
    "web": frozenset({"serving", "telemetry"}),
    "cli": frozenset(_LEVEL) - {"cli"},
}


class UnknownModule(Exception):
    """A module that belongs to no room of the layer map."""


def room_of_path(path: Path, package_root: Path) -> str:
    """The room of a source file, from its place under ``src/roost``."""
    parts = path.relative_to(package_root).parts
    if len(parts) > 1:
        if parts[0] not in READS_FROM:
            raise UnknownModule(f"{parts[0]}/ is not a room of the layer map")
        return parts[0]
    stem = parts[0].removesuffix(".py")
    if stem in CORE_MODULES:
        return "core"
    if stem in FACADE_MODULES:
        return "facade"
    if stem in CLI_MODULES:
        return "cli"
    raise UnknownModule(f"{parts[0]} is neither core, facade nor cli")


def room_of_module(dotted: str, package_root: Path) -> str | None:
    """The room of an imported module (``roost.store.registry`` is store); None outside roost."""
    parts = dotted.split(".")
    if parts[0] != "roost":
        return None
    if len(parts) == 1:
        return "facade"
    head = parts[1]
    if head in CORE_MODULES:
        return "core"
    if head in FACADE_MODULES:
        return "facade"
    if head in CLI_MODULES:
        return "cli"
    if head in READS_FROM:
        return head
    if (package_root / head).is_dir() or (package_root / f"{head}.py").is_file():
        raise UnknownModule(f"roost.{head} is not a room of the layer map")
    return "facade"  # a name defined by roost/__init__.py, as in `from roost import load`


def _module_name(path: Path, package_root: Path) -> str:
    relative = path.relative_to(package_root.parent).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def imported_modules(path: Path, package_root: Path) -> Iterator[tuple[int, str]]:
    """Every module a file imports, anywhere in it (functions and TYPE_CHECKING too)."""
    module = _module_name(path, package_root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - node.level + 1], *base.split(".")])
                base = base.rstrip(".")
            if base == "roost":
                # `from roost import errors` imports roost.errors, not the facade
                for alias in node.names:
                    yield node.lineno, f"roost.{alias.name}"
            else:
                yield node.lineno, base


def find_violations(package_root: Path) -> list[str]:
    """Each import that points up or sideways, as ``path:line: message``."""
    problems = []
    for path in sorted(package_root.rglob("*.py")):
        where = path.relative_to(package_root.parent)
        try:
            source_room = room_of_path(path, package_root)
            targets = [
                (line, target, room)
                for line, target in imported_modules(path, package_root)
                if (room := room_of_module(target, package_root)) is not None
            ]
        except UnknownModule as exc:
            problems.append(f"{where}: {exc}; add it to LAYERS and READS_FROM")
            continue
        allowed = READS_FROM[source_room] | {source_room, "core"}
        for line, target, room in targets:
            if room not in allowed:
                readable = ", ".join(sorted(allowed))
                problems.append(
                    f"{where}:{line}: {source_room} imports {target} ({room}); "
                    f"{source_room} may read only: {readable}"
                )
    return problems


# ------------------------------------------------------------------- the map itself


def test_layer_map_names_every_room_once() -> None:
    assert set(_LEVEL) == set(READS_FROM)
    assert len(_LEVEL) == sum(len(rooms) for rooms in LAYERS)


@pytest.mark.parametrize("room", sorted(READS_FROM))
def test_reads_from_points_down_only(room: str) -> None:
    """The table agrees with STYLE.md's layer order: no edge goes up or sideways."""
    upward = sorted(dep for dep in READS_FROM[room] if _LEVEL[dep] >= _LEVEL[room])
    assert upward == []


def _documented_reads_from() -> dict[str, frozenset[str]]:
    """The rooms table of docs/architecture.md: room -> the rooms it reads (core implied)."""
    table = {}
    for line in ARCHITECTURE.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[1] not in ("built", "in progress", "planned"):
            continue
        room = cells[0].split()[0].strip("`/")
        if cells[3] == "all":
            table[room] = READS_FROM["cli"]
        elif cells[3] == "nothing":
            table[room] = frozenset()
        else:
            table[room] = frozenset(cells[3].split(", ")) - {"core"}
    return table


def test_reads_from_matches_architecture_doc() -> None:
    assert _documented_reads_from() == READS_FROM


# ----------------------------------------------------------------- the real tree


def test_roost_imports_point_down_only() -> None:
    assert find_violations(PACKAGE_ROOT) == []


# ----------------------------------------------------------- the checker catches


def _tree(root: Path, files: dict[str, str]) -> Path:
    package = root / "roost"
    for relative, text in {"__init__.py": "", **files}.items():
        path = package / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return package


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"model/__init__.py": "from roost.store import Registry\n", "store/__init__.py": ""},
            "roost/model/__init__.py:1: model imports roost.store (store)",
        ),
        (
            {
                "model/_late.py": "def f():\n    import roost.store.registry\n",
                "store/__init__.py": "",
            },
            "roost/model/_late.py:2: model imports roost.store.registry (store)",
        ),
        (
            {"model/_rel.py": "from ..store import registry\n", "store/__init__.py": ""},
            "roost/model/_rel.py:1: model imports roost.store (store)",
        ),
        (
            {"errors.py": "from roost import model\n", "model/__init__.py": ""},
            "roost/errors.py:1: core imports roost.model (model)",
        ),
        (
            {"compose/__init__.py": "import roost.telemetry\n", "telemetry/__init__.py": ""},
            "roost/compose/__init__.py:1: compose imports roost.telemetry (telemetry)",
        ),
        (
            {"store/__init__.py": "from roost import load\n"},
            "roost/store/__init__.py:1: store imports roost.load (facade)",
        ),
        (
            {"gadgets/__init__.py": ""},
            "roost/gadgets/__init__.py: gadgets/ is not a room of the layer map",
        ),
    ],
    ids=["upward", "upward-in-function", "upward-relative", "core-up", "sideways", "facade", "new"],
)
def test_checker_reports_violation(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    problems = find_violations(_tree(tmp_path, files))
    assert any(problem.startswith(expected) for problem in problems), problems


def test_checker_accepts_downward_imports(tmp_path: Path) -> None:
    package = _tree(
        tmp_path,
        {
            "errors.py": "",
            "model/__init__.py": "from roost.errors import Error\nfrom . import _x\n",
            "model/_x.py": "import numpy\n",
            "store/__init__.py": "from roost import errors\nfrom roost.model import _x\n",
            "cli/__init__.py": "import roost\nfrom roost import load\nfrom roost.store import y\n",
        },
    )
    assert find_violations(package) == []


# ------------------------------------------------------------------ import cost

#: what `import roost` must not pull in: frameworks come with their flavor, CLI libraries
#: with the CLI, and numpy/pandas only when a model is saved, loaded or run
HEAVY = (
    "sklearn",
    "onnx",
    "onnxruntime",
    "xgboost",
    "lightgbm",
    "torch",
    "psycopg",
    "typer",
    "rich",
    "numpy",
    "pandas",
)


def test_import_roost_stays_light() -> None:
    code = "import json, sys; import roost; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = {name.split(".")[0] for name in json.loads(result.stdout)}
    assert sorted(loaded & set(HEAVY)) == []
