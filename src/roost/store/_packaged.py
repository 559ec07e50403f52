"""A registered package, loaded as a Model: verify every hash, then deserialise, then predict."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import yaml

from roost.errors import IntegrityError, NotLoadedError
from roost.model import Signature, flavor_named, predict_with_flavor
from roost.store._checksums import verify_package
from roost.types import JSONDict, Rows

__all__ = ["PackagedModel", "read_metadata"]

log = logging.getLogger(__name__)

# libyaml's safe loader is ~10x faster than the pure-Python one (~45 ms per model.yaml)
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_metadata(path: Path) -> JSONDict:
    """Parse ``model.yaml`` (call only after ``verify_package``)."""
    try:
        data = yaml.load(  # a safe loader (see _SAFE_LOADER), never yaml.Loader
            (path / "model.yaml").read_text(encoding="utf-8"), Loader=_SAFE_LOADER
        )
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise IntegrityError(f"package {path}: model.yaml is unreadable ({exc})") from exc
    if not isinstance(data, dict):
        raise IntegrityError(f"package {path}: model.yaml is not a mapping")
    return data


class PackagedModel:
    """A model version from the registry, following the Model contract.

    Args:
        path: the package folder.
        digest: the package digest recorded in the index; ``load`` refuses any other.
        ref: how to name the model in messages (``iris:3``).

    Example:
        >>> model = registry.load("iris@production")  # doctest: +SKIP
        >>> model.predict({"sepal_length": 5.1, "sepal_width": 3.5,
        ...                "petal_length": 1.4, "petal_width": 0.2})  # doctest: +SKIP
        [{'label': 'setosa', 'probabilities': [0.98, 0.02, 0.0]}]
    """

    def __init__(self, path: Path, digest: str, ref: str) -> None:
        self.path = path
        self.digest = digest
        self.ref = ref

    @property
    def is_loaded(self) -> bool:
        return hasattr(self, "model_")

    def load(self) -> None:
        """Verify every file's hash, then read the metadata and the framework object.

        Raises:
            IntegrityError: a file was changed, truncated, added or removed.
            FlavorError: the framework the package needs is not installed.
        """
        if self.is_loaded:
            return
        started = time.perf_counter()
        verify_package(self.path, self.digest)
        metadata = read_metadata(self.path)
        flavor_info = metadata["flavor"]
        flavor = flavor_named(flavor_info["name"])
        options = flavor_info.get("options") or {}
        signature = Signature.from_dict(metadata["signature"])
        model = flavor.load(self.path / flavor_info["artifact"], options)
        self.metadata_: JSONDict = metadata
        self.signature_ = signature
        self.flavor_ = flavor
        self.options_: JSONDict = options
        self.model_ = model
        log.info("loaded %s (%s) in %.3fs", self.ref, flavor.name, time.perf_counter() - started)

    def _require_loaded(self) -> None:
        if not self.is_loaded:
            raise NotLoadedError(f"model {self.ref} is not loaded; call load() first")

    @property
    def signature(self) -> Signature:
        self._require_loaded()
        return self.signature_

    @property
    def metadata(self) -> JSONDict:
        """Everything ``model.yaml`` records: signature, provenance, params, card."""
        self._require_loaded()
        return self.metadata_

    @property
    def example(self) -> Any:
        """The input example stored with the package, as JSON-ready rows."""
        self._require_loaded()
        return json.loads((self.path / "examples" / "input_example.json").read_text("utf-8"))

    def predict(self, batch: Rows) -> list[Any]:
        """Validate ``batch`` against the signature and return one output per row.

        Raises:
            NotLoadedError: ``load()`` has not run.
            SignatureError: a row does not match the signature (column, type, value named).
            ModelError: the framework failed on valid input.
        """
        return self.predict_validated(self.validate(batch))

    def validate(self, batch: Rows) -> Any:
        """Check rows against the signature; return the batch ``predict_validated`` takes.

        Serving validates each request on its own, so one bad request never fails the
        others, then merges the validated batches into one ``predict_validated`` call.
        """
        self._require_loaded()
        if getattr(self.flavor_, "validates_requests", False):
            # a composite may check more than its signature (guardrails that reject a
            # request), a featured model encodes raw inputs: both must do it here, before
            # requests are merged into one batch
            return self.model_.validate(batch)
        return self.signature_.validate_batch(batch)

    @property
    def validation_does_io(self) -> bool:
        """Whether ``validate`` reads a store (a featured model): serving runs it in a thread."""
        self._require_loaded()
        return bool(getattr(self.flavor_, "validation_does_io", False))

    def predict_validated(self, validated: Any) -> list[Any]:
        """Run the framework on a batch ``validate`` returned; one output per row."""
        self._require_loaded()
        return predict_with_flavor(self.flavor_, self.model_, validated, self.options_, self.ref)

    def path_of(self, outputs: list[Any]) -> list[str] | None:
        """For a composite, the members that answered a request whose rows gave ``outputs``.

        None for a model that is not a composite. Telemetry logs it with the request.
        """
        self._require_loaded()
        if self.flavor_.name != "composite":
            return None
        path: list[str] = self.model_.path_of(outputs)
        return path

    def predict_one(self, row: Rows) -> Any:
        """Predict a single row (a dict, or one row of values) and return its output."""
        return self.predict([row] if not isinstance(row, dict) else row)[0]

    def __repr__(self) -> str:
        state = "loaded" if self.is_loaded else "not loaded"
        return f"<PackagedModel {self.ref} ({state})>"
