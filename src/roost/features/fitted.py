"""A feature service with its encoders fitted: what a model's feature vectors come from.

``fit(service, frame)`` fits each encoder on the training frame's column, once; the
state (means, vocabularies, bin edges) is saved in the model package and applied,
never refitted, when the model is served. ``encode`` is the one function that turns a
row's feature values into the model's vector, in training and in serving.

Example:
    >>> fitted = fit(fraud_features, frame)  # doctest: +SKIP
    >>> X = fitted.vectors(frame)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from roost.errors import ConfigError, FeatureError
from roost.features.service import FeatureService
from roost.features.transforms import is_missing
from roost.types import JSONDict, JSONValue

__all__ = ["FittedFeatures", "fit"]


@dataclass(frozen=True, slots=True)
class FittedFeatures:
    """A service and its encoders' fitted states, by column.

    Attributes:
        service: the feature service.
        states: each encoded column's fitted state (JSON).
    """

    service: FeatureService
    states: Mapping[str, JSONDict]

    def __post_init__(self) -> None:
        wanted = {e.column for e in self.service.encoders}
        if set(self.states) != wanted:
            raise ConfigError(
                f"feature service {self.service.ref}: fitted states for {sorted(self.states)}, "
                f"expected {sorted(wanted)}"
            )

    @property
    def vector_columns(self) -> list[tuple[str, str]]:
        """Each column of the model's feature vector and its dtype after encoding."""
        encoders = {e.column: e for e in self.service.encoders}
        return [
            (name, encoders[name].output_dtype() if name in encoders else dtype)
            for name, dtype in self.service.columns
        ]

    def encode(self, values: Mapping[str, JSONValue]) -> dict[str, JSONValue]:
        """One row's feature vector from its feature values (the one encoding)."""
        vector = {name: values[name] for name, _ in self.service.columns}
        for encoder in self.service.encoders:
            vector[encoder.column] = encoder.encode(
                vector[encoder.column], self.states[encoder.column]
            )
        return vector

    def vectors(self, frame: Any) -> Any:
        """The feature vectors of a training frame's rows, as a DataFrame in vector order.

        Raises:
            FeatureError: the frame lacks a feature column (naming it).
        """
        import pandas as pd

        names = self.service.column_names
        missing = [n for n in names if n not in frame.columns]
        if missing:
            raise FeatureError(
                f"feature service {self.service.ref}: the frame lacks feature columns {missing}; "
                "build it with FeatureStore.training_frame"
            )
        records = frame[names].to_dict(orient="records")
        rows = [self.encode({k: plain_value(v) for k, v in r.items()}) for r in records]
        return typed_frame(pd.DataFrame.from_records(rows, columns=names), self.vector_columns)

    def to_dict(self) -> JSONDict:
        return {"service": self.service.ref, "states": {k: dict(v) for k, v in self.states.items()}}


def fit(service: FeatureService, frame: Any) -> FittedFeatures:
    """Fit the service's encoders on a training frame (only on it).

    Raises:
        FeatureError: the frame lacks an encoded column, or an encoder cannot be fitted.
    """
    states: dict[str, JSONDict] = {}
    for encoder in service.encoders:
        if encoder.column not in frame.columns:
            raise FeatureError(
                f"encoder {encoder.kind}: the training frame has no column {encoder.column!r}"
            )
        values = [plain_value(v) for v in frame[encoder.column].tolist()]
        states[encoder.column] = encoder.fit(values)
    return FittedFeatures(service, states)


def typed_frame(frame: Any, columns: list[tuple[str, str]]) -> Any:
    """A frame whose columns have their feature dtypes (int with gaps becomes float)."""
    for name, dtype in columns:
        column = frame[name]
        if dtype == "float64" or (dtype == "int64" and column.isna().any()):
            frame[name] = column.astype("float64")
        elif dtype == "int64":
            frame[name] = column.astype("int64")
        elif dtype == "bool" and not column.isna().any():
            frame[name] = column.astype("bool")
        else:
            frame[name] = column.astype("object")
    return frame


def plain_value(value: Any) -> JSONValue:
    """A pandas/numpy cell as a plain Python value; NaN, NA and NaT become None."""
    if is_missing(value):
        return None
    if hasattr(value, "item"):  # a numpy scalar
        value = value.item()
    return value  # type: ignore[no-any-return]
