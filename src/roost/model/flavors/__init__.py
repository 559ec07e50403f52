"""Flavors: one per framework, detected from the object being saved.

Order matters: the framework flavors come first, because XGBoost and LightGBM
wrappers are also scikit-learn estimators, and any object with ``predict`` would
match ``pyfunc``.

Flavors defined elsewhere register under the ``roost.flavors`` entry-point group
(pyproject.toml): roost's own composites do (``roost.compose``, a room above this one,
which this room must not import), and so can another package's. They are tried before
the built-in ones, so their ``matches`` must recognise only their own objects.
"""

from __future__ import annotations

import functools
from importlib import metadata

from roost.errors import FlavorError
from roost.model.flavors._base import Flavor
from roost.model.flavors.lightgbm import LightGBMFlavor
from roost.model.flavors.onnx import OnnxFlavor
from roost.model.flavors.pyfunc import PyfuncFlavor
from roost.model.flavors.sklearn import SklearnFlavor
from roost.model.flavors.xgboost import XGBoostFlavor

__all__ = ["FLAVORS", "Flavor", "detect_flavor", "flavor_named", "plugin_flavors"]

#: the entry-point group other rooms and packages register their flavors under
ENTRY_POINT_GROUP = "roost.flavors"

FLAVORS: tuple[Flavor, ...] = (
    OnnxFlavor(),
    XGBoostFlavor(),
    LightGBMFlavor(),
    SklearnFlavor(),
    PyfuncFlavor(),
)


def detect_flavor(obj: object) -> Flavor:
    """The flavor that handles ``obj``.

    Raises:
        FlavorError: nothing knows how to run the object.
    """
    for flavor in (*plugin_flavors(), *FLAVORS):
        if flavor.matches(obj):
            return flavor
    if isinstance(obj, type):
        raise FlavorError(
            f"cannot save the class {obj.__module__}.{obj.__qualname__}: pass a fitted "
            "instance of it instead"
        )
    raise FlavorError(
        f"cannot save a {type(obj).__module__}.{type(obj).__qualname__}: expected a "
        "scikit-learn estimator, an onnx.ModelProto, an XGBoost or LightGBM model, "
        "a callable, or an object with a predict method"
    )


def flavor_named(name: str) -> Flavor:
    """The flavor recorded in a package.

    Raises:
        FlavorError: the package names a flavor this roost does not know.
    """
    for flavor in (*FLAVORS, *plugin_flavors()):
        if flavor.name == name:
            return flavor
    known = ", ".join(f.name for f in (*FLAVORS, *plugin_flavors()))
    raise FlavorError(f"unknown flavor {name!r} (known: {known})")


@functools.cache
def plugin_flavors() -> tuple[Flavor, ...]:
    """The flavors registered under the ``roost.flavors`` entry-point group, loaded once.

    Raises:
        FlavorError: a registered flavor cannot be imported (naming it).
    """
    flavors = []
    for entry in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            flavors.append(entry.load()())
        except Exception as exc:  # a broken plugin must say which one it is
            raise FlavorError(
                f"the flavor {entry.name!r} ({entry.value}) registered under "
                f"{ENTRY_POINT_GROUP!r} cannot be loaded: {type(exc).__name__}: {exc}"
            ) from exc
    return tuple(flavors)
