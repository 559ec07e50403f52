"""A model with its feature service: raw inputs in, features encoded server-side.

``Featured(fitted, estimator)`` is saved like any model (``roost.save(featured, "fraud",
example=raw_rows)``), through the ``features`` flavor. Clients then send either

- **raw inputs**: the entity keys and request fields (``{"card_id": 42, "amount": 9.5,
  "currency": "USD", "hour": 3}``); the server reads the online store, runs the
  transforms and the fitted encoders, and hands the vector to the estimator; or
- **ready feature vectors**: every feature column, already encoded, which go straight to
  the estimator (the client then owns the feature code, and skew is its problem).

A request is taken as vectors when its rows name every feature column. Validation, and
with it the encoding, runs per request, before requests are merged into one batch, so a
bad request or a failed lookup fails alone.
"""

from __future__ import annotations

import logging
from typing import Any

from roost.errors import ConfigError, ModelError, NotLoadedError
from roost.features.fitted import FittedFeatures
from roost.features.store import FeatureStore
from roost.model import (
    ColumnSpec,
    OutputSpec,
    Signature,
    detect_flavor,
    infer_outputs,
    predict_with_flavor,
)
from roost.types import JSONDict, Rows

__all__ = ["Featured", "bind_store"]

log = logging.getLogger(__name__)

# validation needs inputs only; the outputs of a Featured are measured (see signature)
_INPUTS_ONLY = (OutputSpec("prediction", "object"),)


class Featured:
    """A model that computes its own features (see the module docstring).

    Args:
        features: the feature service with its fitted encoders (``features.fit``).
        model: the estimator trained on ``features.vectors(frame)``; any object a
            built-in flavor saves (scikit-learn, XGBoost, LightGBM, ONNX, a callable).
        store: where online features are read; the flavor sets the ROOST_HOME's store
            when loading a package, and serving the one ``ROOST_FEATURES_URL`` names.
        proba: for a classifier, whether to answer probabilities (as ``roost.save``).

    Example:
        >>> fitted = fit(fraud_features, frame)  # doctest: +SKIP
        >>> clf = LogisticRegression().fit(fitted.vectors(frame), y)  # doctest: +SKIP
        >>> roost.save(Featured(fitted, clf), "fraud", example=raw[:5])  # doctest: +SKIP
    """

    kind = "featured"

    def __init__(
        self,
        features: FittedFeatures,
        model: Any,
        *,
        store: FeatureStore | None = None,
        proba: bool | None = None,
    ) -> None:
        self.features = features
        self.model = model
        self.store = store
        self.proba = proba

    # ------------------------------------------------------------------ the Model contract

    @property
    def is_loaded(self) -> bool:
        return hasattr(self, "inner_flavor_")

    def load(self) -> None:
        """Find the estimator's flavor and build the raw and vector input checks."""
        if self.is_loaded:
            return
        flavor = detect_flavor(self.model)
        self.load_as(flavor, flavor.options(self.model, self.proba))

    def load_as(self, flavor: Any, options: JSONDict) -> None:
        """``load``, with the estimator's flavor and options known (read from a package)."""
        if not isinstance(self.features, FittedFeatures):
            raise ConfigError(
                f"Featured: features must be a FittedFeatures (features.fit(service, frame)), "
                f"got {type(self.features).__name__}"
            )
        self.inner_options_: JSONDict = options
        service = self.features.service
        self.raw_inputs_ = Signature(
            inputs=tuple(ColumnSpec(n, d) for n, d in service.raw_inputs), outputs=_INPUTS_ONLY
        )
        self.vector_inputs_ = Signature(
            inputs=tuple(ColumnSpec(n, d, allow_nan=True) for n, d in self.features.vector_columns),
            outputs=_INPUTS_ONLY,
        )
        self.inner_flavor_ = flavor

    @property
    def signature(self) -> Signature:
        """Raw inputs in; the estimator's outputs, measured on one vector, out."""
        self._require_loaded()
        if not hasattr(self, "outputs_"):
            probe = {name: _zero(dtype) for name, dtype in self.features.vector_columns}
            batch = self.vector_inputs_.validate([probe])
            try:
                outputs = self.inner_flavor_.predict(self.model, batch, self.inner_options_)
            except Exception as exc:  # the user's estimator: say what was being measured
                raise ModelError(f"Featured: the model failed on a probe vector: {exc}") from exc
            labels = self.inner_flavor_.labels(self.model, self.inner_options_)
            self.outputs_ = infer_outputs(outputs, labels)
        return Signature(inputs=self.raw_inputs_.inputs, outputs=self.outputs_)

    def predict(self, batch: Rows) -> list[Any]:
        return self.predict_validated(self.validate(batch))

    def predict_one(self, row: Rows) -> Any:
        return self.predict([row])[0]

    def validate(self, batch: Rows) -> Any:
        """Check one request and turn it into the estimator's validated vectors.

        Raises:
            SignatureError: the rows match neither the raw inputs nor the feature vector.
            FeatureError: a lookup or a transform failed (naming it).
        """
        self._require_loaded()
        if self.is_vectors(batch):
            return self.vector_inputs_.validate_batch(batch)
        raw = self.raw_inputs_.validate(batch)
        return self.vector_inputs_.validate_batch(self.encode(raw))

    def predict_validated(self, validated: Any) -> list[Any]:
        self._require_loaded()
        return predict_with_flavor(
            self.inner_flavor_,
            self.model,
            validated,
            self.inner_options_,
            self.features.service.ref,
        )

    # ------------------------------------------------------------------ features

    def is_vectors(self, batch: Rows) -> bool:
        """Whether the rows carry ready feature vectors (every feature column named)."""
        names = _column_names(batch)
        vector = {name for name, _ in self.features.vector_columns}
        raw = {name for name, _ in self.features.service.raw_inputs}
        return names is not None and vector <= names and not (raw <= names and vector == raw)

    def encode(self, raw: Any) -> list[dict[str, Any]]:
        """Feature vectors (one dict per row) for validated raw rows, from the online store.

        Plain dicts, not a DataFrame: the vector signature validates them into the batch
        the estimator takes, and a request should build one frame, not two.
        """
        if self.store is None:
            raise ConfigError(
                "Featured: no feature store to read online features from; pass store= "
                "(FeatureStore.from_settings(settings)) or load it from the registry"
            )
        records = raw.to_dict(orient="records")
        rows = self.store.online_features(self.features.service, records)
        return [self.features.encode(row.values) for row in rows]

    def predict_outputs(self, batch: Any) -> dict[str, Any]:
        """The estimator's outputs for a flavor batch: raw rows (at save) or vectors."""
        self._require_loaded()
        if not self.is_vectors(batch):
            batch = self.vector_inputs_.validate(self.encode(batch))
        outputs: dict[str, Any] = self.inner_flavor_.predict(self.model, batch, self.inner_options_)
        return outputs

    def use_store(self, store: FeatureStore) -> None:
        """Read online features from ``store`` from now on (serving sets its configured one)."""
        self.store = store

    def _require_loaded(self) -> None:
        if not self.is_loaded:
            raise NotLoadedError("Featured model is not loaded; call load() first")

    def __repr__(self) -> str:
        return f"<Featured {self.features.service.ref} → {type(self.model).__name__}>"


def bind_store(model: Any, store: FeatureStore) -> None:
    """Point a loaded featured model (packaged or not) at ``store``; leave others alone."""
    target = getattr(model, "model_", model)
    if isinstance(target, Featured):
        target.use_store(store)


def _column_names(batch: Rows) -> set[str] | None:
    columns = getattr(batch, "columns", None)
    if columns is not None:
        return {str(c) for c in columns}
    if isinstance(batch, dict):
        return {str(k) for k in batch}
    if isinstance(batch, list | tuple) and batch and isinstance(batch[0], dict):
        return {str(k) for k in batch[0]}
    return None


def _zero(dtype: str) -> Any:
    return {"float64": 0.0, "int64": 0, "bool": False, "string": ""}[dtype]
