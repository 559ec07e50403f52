"""LightGBM: the scikit-learn wrappers (``LGBMClassifier``, …) and a raw ``Booster``.

A raw Booster is saved in LightGBM's text format. The wrappers are pickled
(cloudpickle), because LightGBM cannot rebuild a wrapper from its text format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from roost.model.flavors._base import (
    import_framework,
    in_fit_order,
    jsonable_params,
    module_roots,
)
from roost.model.flavors.sklearn import SklearnFlavor
from roost.types import JSONDict, JSONValue

__all__ = ["LightGBMFlavor"]

_SKLEARN_API = SklearnFlavor()


def _is_booster(obj: Any) -> bool:
    return type(obj).__name__ == "Booster"


class LightGBMFlavor:
    name = "lightgbm"
    framework = "lightgbm"

    def matches(self, obj: object) -> bool:
        return "lightgbm" in module_roots(obj) and callable(getattr(obj, "predict", None))

    def options(self, obj: Any, proba: bool | None) -> JSONDict:
        if _is_booster(obj):
            return {"class": "Booster"}
        return {"class": type(obj).__name__, **_SKLEARN_API.options(obj, proba)}

    def save(self, obj: Any, directory: Path) -> str:
        if _is_booster(obj):
            obj.save_model(str(directory / "model.txt"))
            return "model.txt"
        return _SKLEARN_API.save(obj, directory)

    def load(self, path: Path, options: JSONDict) -> Any:
        lgb = import_framework("lightgbm", "lightgbm")
        if options["class"] == "Booster":
            return lgb.Booster(model_file=str(path))
        return _SKLEARN_API.load(path, options)

    def predict(self, obj: Any, batch: Any, options: JSONDict) -> dict[str, Any]:
        if options["class"] == "Booster":
            return {"prediction": obj.predict(in_fit_order(batch, obj.feature_name()))}
        return _SKLEARN_API.predict(obj, batch, options)

    def params(self, obj: Any) -> JSONDict:
        if _is_booster(obj):
            return jsonable_params(obj.params)
        return jsonable_params(obj.get_params())

    def labels(self, obj: Any, options: JSONDict) -> dict[str, list[JSONValue]]:
        return {} if options["class"] == "Booster" else _SKLEARN_API.labels(obj, options)
