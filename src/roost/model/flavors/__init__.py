"""Flavors: one per framework, detected from the object being saved.

Order matters: the framework flavors come first, because XGBoost and LightGBM
wrappers are also scikit-learn estimators, and any object with ``predict`` would
match ``pyfunc``.
"""

from __future__ import annotations

from roost.errors import FlavorError
from roost.model.flavors._base import Flavor
from roost.model.flavors.lightgbm import LightGBMFlavor
from roost.model.flavors.onnx import OnnxFlavor
from roost.model.flavors.pyfunc import PyfuncFlavor
from roost.model.flavors.sklearn import SklearnFlavor
from roost.model.flavors.xgboost import XGBoostFlavor

__all__ = ["FLAVORS", "Flavor", "detect_flavor", "flavor_named"]

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
    for flavor in FLAVORS:
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
    for flavor in FLAVORS:
        if flavor.name == name:
            return flavor
    known = ", ".join(f.name for f in FLAVORS)
    raise FlavorError(f"unknown flavor {name!r} (known: {known})")
