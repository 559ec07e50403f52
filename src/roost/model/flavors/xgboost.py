"""XGBoost: the scikit-learn wrappers (``XGBClassifier``, …) and a raw ``Booster``.

Both are saved in XGBoost's own JSON format rather than pickled, so a package
keeps loading across XGBoost releases and loading runs no pickled code.
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

__all__ = ["XGBoostFlavor"]

_SKLEARN_API = SklearnFlavor()


def _is_booster(obj: Any) -> bool:
    return type(obj).__name__ == "Booster"


class XGBoostFlavor:
    name = "xgboost"
    framework = "xgboost"

    def matches(self, obj: object) -> bool:
        return "xgboost" in module_roots(obj) and (
            _is_booster(obj) or callable(getattr(obj, "predict", None))
        )

    def options(self, obj: Any, proba: bool | None) -> JSONDict:
        if _is_booster(obj):
            return {"class": "Booster"}
        return {"class": type(obj).__name__, **_SKLEARN_API.options(obj, proba)}

    def save(self, obj: Any, directory: Path) -> str:
        obj.save_model(str(directory / "model.json"))
        return "model.json"

    def load(self, path: Path, options: JSONDict) -> Any:
        xgb = import_framework("xgboost", "xgboost")
        if options["class"] == "Booster":
            return xgb.Booster(model_file=str(path))
        model = getattr(xgb, str(options["class"]))()
        model.load_model(str(path))
        return model

    def predict(self, obj: Any, batch: Any, options: JSONDict) -> dict[str, Any]:
        if options["class"] == "Booster":
            xgb = import_framework("xgboost", "xgboost")
            names = obj.feature_names
            if names is not None and not hasattr(batch, "columns"):
                # trained on named columns, given an array: name them, or xgboost refuses it
                return {"prediction": obj.predict(xgb.DMatrix(batch, feature_names=names))}
            return {"prediction": obj.predict(xgb.DMatrix(in_fit_order(batch, names)))}
        return _SKLEARN_API.predict(obj, batch, options)

    def params(self, obj: Any) -> JSONDict:
        if _is_booster(obj):
            return {
                "num_features": obj.num_features(),
                "num_boosted_rounds": obj.num_boosted_rounds(),
            }
        return jsonable_params(obj.get_params())

    def labels(self, obj: Any, options: JSONDict) -> dict[str, list[JSONValue]]:
        return {} if options["class"] == "Booster" else _SKLEARN_API.labels(obj, options)
