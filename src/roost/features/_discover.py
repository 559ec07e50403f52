"""Finding feature code by module: feature code is imported, never pickled.

A model package, the catalog and the ``roost features`` command name a service by its
module (``fraud_features``) and that module's file. Importing it again gives the code
itself, which the skew guard then hashes; a pickle would give yesterday's code and hide
the change. So a service must live in an importable module, not in the script being run.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from roost.errors import ConfigError, FeatureError

__all__ = ["defining_module", "import_feature_module", "import_target", "objects_of"]


def defining_module(service: Any) -> tuple[str, str | None]:
    """The module (and its file) that defined a feature service.

    Raises:
        ConfigError: it was defined in the script being run (``__main__``), which a
            server cannot import.
    """
    module = getattr(service, "module", None)
    if not module or module in ("__main__", "__mp_main__"):
        raise ConfigError(
            f"{service!r} is defined in the script being run (__main__): define feature "
            "services in a module the server can import (e.g. fraud_features.py), and import "
            "it from the training script"
        )
    file = getattr(service, "file", None)
    return module, str(Path(file).resolve()) if file else None


def import_feature_module(module: str, file: str | None) -> ModuleType:
    """Import ``module`` by name or, when that fails, from ``file``.

    Raises:
        FeatureError: neither works (naming both and why).
    """
    if not module or module == "__main__":
        raise FeatureError(
            "no importable module is recorded for this feature code: define it in a module "
            "and run `roost features apply MODULE`"
        )
    if module in sys.modules:
        return sys.modules[module]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        by_name = f"{type(exc).__name__}: {exc}"
    if file and Path(file).is_file():
        return _import_file(module, Path(file))
    raise FeatureError(
        f"cannot import the feature module {module!r} ({by_name}); file {file!r} "
        f"{'is not there' if file else 'not recorded'}: put the module on PYTHONPATH"
    )


def import_target(target: str) -> ModuleType:
    """A module named on the command line: a dotted name or a ``.py`` file.

    Raises:
        FeatureError: it cannot be imported (with the reason).
    """
    if target.endswith(".py") or "/" in target:
        path = Path(target).expanduser().resolve()
        if not path.is_file():
            raise FeatureError(f"feature module file {target!r} does not exist")
        return _import_file(path.stem, path)
    try:
        return importlib.import_module(target)
    except ImportError as exc:
        raise FeatureError(f"cannot import feature module {target!r}: {exc}") from exc


def objects_of(module: ModuleType, kind: type) -> list[Any]:
    """The module-level objects of one type, in definition order."""
    return [value for value in vars(module).values() if isinstance(value, kind)]


def _import_file(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise FeatureError(f"cannot import feature module file {str(path)!r}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # so the module's own imports of itself, and dataclasses, work
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # user code: say which file failed, and how
        sys.modules.pop(name, None)
        raise FeatureError(
            f"feature module file {str(path)!r} failed to import: {type(exc).__name__}: {exc}"
        ) from exc
    return module
