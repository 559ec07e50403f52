"""scikit-learn: any estimator or Pipeline, saved with cloudpickle.

cloudpickle rather than pickle so that a ``FunctionTransformer(lambda …)`` or a
class defined in a notebook survives the trip. A classifier with
``predict_proba`` gets two outputs, ``label`` and ``probabilities`` (with the
class of each position in the signature), unless saved with ``proba=False``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from roost.model._inference import plain
from roost.model.flavors._base import (
    import_framework,
    in_fit_order,
    jsonable_params,
    module_roots,
)
from roost.types import JSONDict, JSONValue

__all__ = ["SklearnFlavor"]


class SklearnFlavor:
    name = "sklearn"
    framework = "scikit-learn"

    def matches(self, obj: object) -> bool:
        return "sklearn" in module_roots(obj) and callable(getattr(obj, "predict", None))

    def options(self, obj: Any, proba: bool | None) -> JSONDict:
        has_proba = hasattr(obj, "classes_") and callable(getattr(obj, "predict_proba", None))
        return {
            "proba": has_proba if proba is None else (proba and has_proba),
            "feature_names": hasattr(obj, "feature_names_in_"),
        }

    def save(self, obj: Any, directory: Path) -> str:
        import cloudpickle

        (directory / "model.pkl").write_bytes(cloudpickle.dumps(obj, protocol=5))
        return "model.pkl"

    def load(self, path: Path, options: JSONDict) -> Any:
        import pickle

        import_framework("sklearn", "sklearn")
        return pickle.loads(path.read_bytes())  # hashes verified by the caller first

    def predict(self, obj: Any, batch: Any, options: JSONDict) -> dict[str, Any]:
        if not options.get("feature_names") and hasattr(batch, "to_numpy"):
            batch = batch.to_numpy()  # fitted on an array: names would only raise a warning
        else:
            batch = in_fit_order(batch, getattr(obj, "feature_names_in_", None))
        outputs: dict[str, Any] = {}
        if options.get("proba"):
            outputs["label"] = obj.predict(batch)
            outputs["probabilities"] = obj.predict_proba(batch)
        else:
            outputs["prediction"] = obj.predict(batch)
        return outputs

    def params(self, obj: Any) -> JSONDict:
        get_params = getattr(obj, "get_params", None)
        return jsonable_params(get_params(deep=True)) if callable(get_params) else {}

    def labels(self, obj: Any, options: JSONDict) -> dict[str, list[JSONValue]]:
        if not options.get("proba"):
            return {}
        # classes fitted from pandas strings are np.str_, which model.yaml cannot hold
        return {"probabilities": plain(obj.classes_)}
