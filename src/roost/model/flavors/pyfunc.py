"""A plain Python callable, or any object with its own ``predict``.

This is the flavor of last resort, tried after every framework flavor. The
object is saved with cloudpickle: by value when it was defined in ``__main__``
(a notebook or script), by reference to its module otherwise, which must then be
importable where the package is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from roost.errors import ModelError
from roost.model.flavors._base import as_outputs, jsonable_params
from roost.types import JSONDict, JSONValue

__all__ = ["PyfuncFlavor"]


class PyfuncFlavor:
    name = "pyfunc"
    framework = "cloudpickle"

    def matches(self, obj: object) -> bool:
        if isinstance(obj, type):
            return False  # a class, not an instance: calling it would build an object
        return callable(getattr(obj, "predict", None)) or callable(obj)

    def options(self, obj: Any, proba: bool | None) -> JSONDict:
        kind = "object" if callable(getattr(obj, "predict", None)) else "callable"
        cls = obj if kind == "callable" else type(obj)
        qualname = f"{cls.__module__}.{getattr(cls, '__qualname__', cls.__class__.__name__)}"
        return {"kind": kind, "qualname": qualname}

    def save(self, obj: Any, directory: Path) -> str:
        import cloudpickle

        (directory / "model.pkl").write_bytes(cloudpickle.dumps(obj, protocol=5))
        return "model.pkl"

    def load(self, path: Path, options: JSONDict) -> Any:
        import pickle

        try:
            return pickle.loads(path.read_bytes())  # hashes verified by the caller first
        except (ImportError, AttributeError) as exc:
            raise ModelError(
                f"pyfunc model {options.get('qualname')!r} could not be rebuilt: {exc}; "
                "its module must be importable where the model is loaded"
            ) from exc

    def predict(self, obj: Any, batch: Any, options: JSONDict) -> dict[str, Any]:
        result = obj.predict(batch) if options.get("kind") == "object" else obj(batch)
        return as_outputs(result)

    def params(self, obj: Any) -> JSONDict:
        get_params = getattr(obj, "get_params", None)
        return jsonable_params(get_params()) if callable(get_params) else {}

    def labels(self, obj: Any, options: JSONDict) -> dict[str, list[JSONValue]]:
        return {}
