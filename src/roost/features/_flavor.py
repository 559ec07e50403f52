"""The ``features`` flavor: a ``Featured`` model saved as one package.

``registry.save(Featured(fitted, estimator), "fraud", example=raw_rows)`` writes::

    artifacts/features.json       the service record (module, refs, hashes, sources),
                                  the encoders' fitted states, the estimator's flavor
    artifacts/estimator/…         the estimator, saved by its own flavor

Loading imports the feature module again and runs the skew guard (``skew.check_skew``)
before anything else, then loads the estimator through its own flavor. The online store
is the ROOST_HOME's default one until serving binds the configured one.

The flavor is registered under the ``roost.flavors`` entry point (pyproject.toml), so the
model room finds it without importing this room.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from roost.errors import IntegrityError
from roost.features._discover import defining_module
from roost.features.featured import Featured
from roost.features.fitted import FittedFeatures
from roost.features.skew import check_skew, service_record
from roost.features.store import FeatureStore
from roost.model import ColumnSpec, flavor_named
from roost.types import JSONDict, JSONValue

__all__ = ["FeaturedFlavor"]

_ARTIFACT = "features.json"
_ESTIMATOR = "estimator"


class FeaturedFlavor:
    """Saves, loads and runs a ``Featured`` model (see the module docstring)."""

    name = "features"
    framework = "roost"
    #: requests are checked by the model itself (raw inputs or vectors), and checking them
    #: reads the online store, so serving runs it in a worker thread
    validates_requests = True
    validation_does_io = True

    def matches(self, obj: object) -> bool:
        return isinstance(obj, Featured)

    def options(self, obj: Any, proba: bool | None) -> JSONDict:
        if obj.proba is None:
            obj.proba = proba
        obj.load()
        service = obj.features.service
        return {
            "service": service.ref,
            "features": [f.ref for f in service.features],
            "estimator": {"flavor": obj.inner_flavor_.name, "options": obj.inner_options_},
        }

    def input_specs(self, obj: Any) -> tuple[ColumnSpec, ...]:
        obj.load()
        inputs: tuple[ColumnSpec, ...] = obj.raw_inputs_.inputs
        return inputs

    def save(self, obj: Any, directory: Path) -> str:
        obj.load()
        service = obj.features.service
        module, file = defining_module(service)
        (directory / _ESTIMATOR).mkdir(parents=True, exist_ok=True)
        inner = obj.inner_flavor_.save(obj.model, directory / _ESTIMATOR)
        document = {
            "service": service_record(service, module, file),
            "states": obj.features.to_dict()["states"],
            "estimator": {
                "flavor": obj.inner_flavor_.name,
                "artifact": f"{_ESTIMATOR}/{inner}",
                "options": obj.inner_options_,
            },
        }
        (directory / _ARTIFACT).write_text(
            json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        return _ARTIFACT

    def load(self, path: Path, options: JSONDict) -> Any:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            record, states, estimator = (
                document["service"],
                document["states"],
                document["estimator"],
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IntegrityError(f"{path}: unreadable featured model ({exc!r})") from exc
        # the package sits at <ROOST_HOME>/models/<name>/<version>/artifacts/features.json
        model_ref = f"{path.parents[2].name}:{path.parents[1].name}"
        service = check_skew(record, model=model_ref)
        inner_flavor = flavor_named(estimator["flavor"])
        inner = inner_flavor.load(path.parent / estimator["artifact"], estimator["options"])
        home = path.parents[4]
        featured = Featured(
            FittedFeatures(service, states), inner, store=FeatureStore(home / "features")
        )
        featured.load_as(inner_flavor, estimator["options"])
        return featured

    def predict(self, obj: Any, batch: Any, options: JSONDict) -> dict[str, Any]:
        obj.load()
        outputs: dict[str, Any] = obj.predict_outputs(batch)
        return outputs

    def params(self, obj: Any) -> JSONDict:
        obj.load()
        params: JSONDict = {
            f"estimator.{k}": v for k, v in obj.inner_flavor_.params(obj.model).items()
        }
        params["feature_service"] = obj.features.service.ref
        return params

    def labels(self, obj: Any, options: JSONDict) -> dict[str, list[JSONValue]]:
        obj.load()
        labels: dict[str, list[JSONValue]] = obj.inner_flavor_.labels(obj.model, obj.inner_options_)
        return labels
