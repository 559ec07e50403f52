"""A fitted object still in memory, wrapped as a Model without registering it.

``live(obj, example=X[:5])`` gives a Model whose signature and outputs are those the
same object gets once registered: it runs the model room exactly as ``Registry.save``
does (detect the flavor, record its options, infer the inputs from the example,
validate the example, run the flavor, infer the outputs with the flavor's labels).
Use it in a notebook to compose models before registering any, and for calibration.
"""

from __future__ import annotations

from typing import Any

from roost.errors import ConfigError, ModelError, NotLoadedError
from roost.model import (
    Signature,
    count_rows,
    detect_flavor,
    infer_inputs,
    infer_outputs,
    predict_with_flavor,
    rows_from_outputs,
)

# the builder's own helpers: a live model must measure exactly what Registry.save measures
from roost.store._builder import (
    _MAX_EXAMPLE_ROWS,
    _PLACEHOLDER,
    _example_for,
    _head,
    _plain_example,
)
from roost.types import JSONDict, Rows

__all__ = ["LiveModel", "live"]


def live(obj: Any, *, example: Rows, proba: bool | None = None, name: str = "live") -> LiveModel:
    """Wrap a fitted object (scikit-learn, XGBoost, LightGBM, ONNX, a callable…) as a Model.

    Args:
        obj: the fitted object; its flavor is detected as ``Registry.save`` detects it.
        example: a few input rows (``X[:5]``); the signature is inferred from them and
            from the object's output on them, at ``load()``.
        proba: for classifiers, whether to return probabilities (default: when available).
        name: how messages name the model.

    Returns:
        a Model, not loaded yet: ``load()`` measures its signature.

    Raises:
        ConfigError: no example, or a name that is not a non-empty string.
        FlavorError: no flavor knows the object.

    Example:
        >>> model = live(LogisticRegression().fit(X, y), example=X[:5])  # doctest: +SKIP
        >>> model.load()  # doctest: +SKIP
        >>> model.predict(X[:1])  # doctest: +SKIP
        [{'label': 0, 'probabilities': [0.97, 0.03]}]
    """
    if example is None:
        raise ConfigError("example: required, a few input rows such as X[:5]")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"name: expected a non-empty string, got {name!r}")
    detect_flavor(obj)  # fail here, in the notebook cell that wraps it, not at load
    return LiveModel(obj, example=example, proba=proba, name=name)


class LiveModel:
    """A fitted in-memory object following the Model contract; made by ``live()``.

    A composite holding live models predicts anywhere, but is saved in the registry
    only once each of them is registered and used as ``registry.model("name:1")``.

    Args:
        obj: the fitted object.
        example: a few input rows, from which the signature is measured at ``load()``.
        proba: for classifiers, whether to return probabilities (default: when available).
        name: how messages name the model.
    """

    def __init__(
        self, obj: Any, *, example: Rows, proba: bool | None = None, name: str = "live"
    ) -> None:
        self.obj = obj
        self.example_rows = example
        self.proba = proba
        self.name = name

    @property
    def is_loaded(self) -> bool:
        return hasattr(self, "signature_")

    def load(self) -> None:
        """Measure the signature: run the object on its example, as ``Registry.save`` does.

        Raises:
            ConfigError: the example is missing or cannot be read as rows.
            FlavorError: no flavor knows the object.
            ModelError: the object fails on its own example, or returns the wrong number
                of rows.
        """
        if self.is_loaded:
            return
        if self.example_rows is None:
            raise ConfigError("example: required, a few input rows such as X[:5]")
        flavor = detect_flavor(self.obj)
        options = flavor.options(self.obj, self.proba)
        example = _example_for(self.obj, self.example_rows)
        spec_override = getattr(flavor, "input_specs", None)
        inputs = spec_override(self.obj) if spec_override else infer_inputs(example)
        # a provisional signature validates the example exactly as predictions will be
        draft = Signature(inputs=inputs, outputs=_PLACEHOLDER)
        batch = draft.validate(example)
        n_rows = count_rows(batch)
        if n_rows > _MAX_EXAMPLE_ROWS:
            batch = draft.validate(_head(example, _MAX_EXAMPLE_ROWS))
            n_rows = _MAX_EXAMPLE_ROWS
        try:
            outputs = flavor.predict(self.obj, batch, options)
        except Exception as exc:  # the user's model failing is a user error: report, don't crash
            raise ModelError(
                f"model {self.name} failed on its own example: {type(exc).__name__}: {exc}"
            ) from exc
        rows_from_outputs(outputs, n_rows)  # refuses outputs with the wrong number of rows
        # as the builder: a flavor that knows its outputs better than a look at them says so
        output_override = getattr(flavor, "output_specs", None)
        if output_override:
            output_specs = output_override(self.obj)
        else:
            output_specs = infer_outputs(outputs, flavor.labels(self.obj, options))
        self.flavor_ = flavor
        self.options_: JSONDict = options
        self.batch_ = batch
        self.signature_ = Signature(inputs=inputs, outputs=output_specs)

    def _require_loaded(self) -> None:
        if not self.is_loaded:
            raise NotLoadedError(f"model {self.name} is not loaded; call load() first")

    @property
    def signature(self) -> Signature:
        self._require_loaded()
        return self.signature_

    @property
    def example(self) -> Any:
        """The example rows the signature was measured on, JSON-ready (as a package stores it)."""
        self._require_loaded()
        return _plain_example(self.batch_)

    def predict(self, batch: Rows) -> list[Any]:
        """Validate ``batch`` against the signature and return one output per row.

        Raises:
            NotLoadedError: ``load()`` has not run.
            SignatureError: a row does not match the signature.
            ModelError: the object failed on valid input.
        """
        return self.predict_validated(self.validate(batch))

    def validate(self, batch: Rows) -> Any:
        """Check rows against the signature; return the batch ``predict_validated`` takes."""
        self._require_loaded()
        return self.signature_.validate_batch(batch)

    def predict_validated(self, validated: Any) -> list[Any]:
        """Run the object on a batch ``validate`` returned; one output per row."""
        self._require_loaded()
        return predict_with_flavor(self.flavor_, self.obj, validated, self.options_, self.name)

    def predict_one(self, row: Rows) -> Any:
        """Predict a single row (a dict, or one row of values) and return its output."""
        return self.predict([row] if not isinstance(row, dict) else row)[0]

    def __repr__(self) -> str:
        state = "loaded" if self.is_loaded else "not loaded"
        return f"<LiveModel {self.name} {type(self.obj).__name__} ({state})>"
