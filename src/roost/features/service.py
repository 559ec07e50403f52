"""A feature service: the frozen list of features one model is trained and served with.

::

    fraud_features = FeatureService(
        "fraud_features", version=1, entity=card,
        features=[spend_30d, amount_eur, Request("hour", "int64")],
        encoders=[StandardScaler("spend_30d")],
    )

The service says what a client must send (``raw_inputs``: the entity keys and the request
fields its transforms read), which feature columns come out (``columns``), and how one
row's features are computed from those inputs and its aggregate views' values
(``compute``). Training frames and serving both call ``compute``: there is no second
implementation to drift. Encoders are fitted later, on the training frame (``fitted.py``).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from roost.errors import ConfigError
from roost.features._source_hash import spec_hash
from roost.features.aggregates import AggregateView, ViewValue
from roost.features.encoders import Encoder
from roost.features.entities import Entity, check_name
from roost.features.transforms import Request, Transform
from roost.types import JSONDict, JSONValue

__all__ = ["FeatureDefinition", "FeatureRow", "FeatureService"]

#: what a service's ``features`` may hold
FeatureDefinition = AggregateView | Transform | Request


@dataclass(frozen=True, slots=True)
class FeatureRow:
    """One row's features and how each was obtained.

    Attributes:
        values: each feature column's value (None where unknown), before encoding.
        statuses: each column's status: ``present``, ``missing``, ``expired`` or
            ``defaulted`` (request-time features are always ``present``).
        origins: for each aggregate view, where its value came from: ``frame`` (training),
            ``store`` (the online store), ``cache`` or ``computed`` (compute-on-miss).
    """

    values: dict[str, JSONValue]
    statuses: dict[str, str]
    origins: dict[str, str] = field(default_factory=dict)


class FeatureService:
    """The features one model uses (see the module docstring).

    Args:
        name: the service's name (``fraud_features``).
        version: bumped whenever its list of features or encoders changes.
        entity: whose features they are; every aggregate view must be about it.
        features: aggregate views, transforms and request fields, in the order their
            columns take in the feature vector.
        encoders: model-dependent encoders, at most one per feature column.
        description: what the service is for, for the catalog.

    Raises:
        ConfigError: a view is about another entity, two features give the same column,
            a transform reads an input with two dtypes, or an encoder names no column.
    """

    kind = "service"

    def __init__(
        self,
        name: str,
        *,
        entity: Entity,
        features: Sequence[FeatureDefinition],
        encoders: Sequence[Encoder] = (),
        version: int = 1,
        description: str | None = None,
    ) -> None:
        self.name = check_name("feature service", name)
        # the module that runs this constructor is the one the server must import to get
        # this code back (feature code is imported, never pickled); the object itself
        # cannot say, and scanning sys.modules would find re-exports first
        caller = sys._getframe(1).f_globals
        self.module: str = caller.get("__name__", "__main__")
        self.file: str | None = caller.get("__file__")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ConfigError(f"feature service {name!r}: version must be a whole number >= 1")
        self.version = version
        if not isinstance(entity, Entity):
            raise ConfigError(f"feature service {name!r}: entity must be an Entity, got {entity!r}")
        self.entity = entity
        self.features = tuple(features)
        self.encoders = tuple(encoders)
        self.description = description
        self._check()
        self.raw_inputs = self._raw_inputs()
        self._hash: str | None = None

    # ------------------------------------------------------------------ identity

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def source_hash(self) -> str:
        """The hash of the service's spec: its features' refs and hashes, its encoders."""
        if self._hash is None:  # on first use, as a transform's: its module is loaded by then
            self._hash = spec_hash(self.to_spec())
        return self._hash

    @property
    def views(self) -> list[AggregateView]:
        return [f for f in self.features if isinstance(f, AggregateView)]

    @property
    def row_features(self) -> list[Transform | Request]:
        return [f for f in self.features if not isinstance(f, AggregateView)]

    @property
    def columns(self) -> list[tuple[str, str]]:
        """Each feature column and its dtype before encoding, in vector order."""
        return [pair for f in self.features for pair in f.outputs]

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]

    @property
    def source(self) -> str:
        listed = ", ".join(f.ref for f in self.features)
        encoders = ", ".join(f"{e.kind}({e.column})" for e in self.encoders)
        return (
            f"FeatureService({self.name!r}, version={self.version}, features=[{listed}], "
            f"encoders=[{encoders}])"
        )

    def to_spec(self) -> JSONDict:
        return {
            "kind": self.kind,
            "name": self.name,
            "version": self.version,
            "entity": self.entity.to_spec(),
            "features": [[f.ref, f.source_hash] for f in self.features],
            "encoders": [e.to_spec() for e in self.encoders],
        }

    def __repr__(self) -> str:
        return f"<FeatureService {self.ref}: {len(self.features)} features>"

    # ------------------------------------------------------------------ computing

    def compute(self, raw: Mapping[str, Any], views: Mapping[str, ViewValue]) -> FeatureRow:
        """One row's features from its raw inputs and its aggregate views' values.

        Args:
            raw: the entity keys and request fields (more keys are ignored).
            views: each aggregate view's value for this row, by view name.

        Raises:
            FeatureError: a request field is missing or a transform failed (naming it).
        """
        known: dict[str, Any] = dict(raw)
        values: dict[str, JSONValue] = {}
        statuses: dict[str, str] = {}
        for feature in self.features:
            if isinstance(feature, AggregateView):
                view = views[feature.name]
                outputs = view.values
                status = view.status
            else:
                outputs = feature(known)
                status = "present"
            for name, _ in feature.outputs:
                values[name] = outputs[name]
                statuses[name] = status
            known.update(outputs)
        return FeatureRow(values, statuses)

    # ------------------------------------------------------------------ checks

    def _check(self) -> None:
        if not self.features:
            raise ConfigError(f"feature service {self.name!r}: expected at least one feature")
        refs: set[str] = set()
        columns: set[str] = set(self.entity.key_names)
        for feature in self.features:
            if not isinstance(feature, AggregateView | Transform | Request):
                raise ConfigError(
                    f"feature service {self.name!r}: expected aggregate views, transforms and "
                    f"request fields, got {feature!r}"
                )
            if feature.name in refs:
                raise ConfigError(f"feature service {self.name!r}: {feature.name!r} listed twice")
            refs.add(feature.name)
            if isinstance(feature, AggregateView) and _identity(feature.entity) != _identity(
                self.entity
            ):
                raise ConfigError(
                    f"feature service {self.name!r}: view {feature.ref} is about entity "
                    f"{feature.entity.name!r}, the service about {self.entity.name!r}"
                )
            keys = set(self.entity.key_names)
            for name, _ in feature.outputs:
                # a Request may pass an entity key through as a feature; nothing else repeats
                if name in columns and not (isinstance(feature, Request) and name in keys):
                    raise ConfigError(
                        f"feature service {self.name!r}: column {name!r} of {feature.ref} is "
                        "already an entity key or another feature's column"
                    )
                columns.add(name)
        encoded: set[str] = set()
        for encoder in self.encoders:
            if encoder.column not in self.column_names:
                raise ConfigError(
                    f"feature service {self.name!r}: encoder {encoder.kind} names column "
                    f"{encoder.column!r}, which no feature gives (columns: "
                    f"{', '.join(self.column_names)})"
                )
            if encoder.column in encoded:
                raise ConfigError(
                    f"feature service {self.name!r}: column {encoder.column!r} has two encoders"
                )
            encoded.add(encoder.column)

    def _raw_inputs(self) -> tuple[tuple[str, str], ...]:
        """The entity keys, then every request field a row feature reads, first use first."""
        known: dict[str, str] = dict(self.entity.keys)  # name → dtype of what is not requested
        known.update(pair for view in self.views for pair in view.outputs)
        fields: dict[str, str] = {}
        for feature in self.row_features:
            for name, dtype in feature.inputs:
                if name in known:
                    if known[name] != dtype:
                        raise ConfigError(
                            f"feature service {self.name!r}: {feature.ref} reads {name!r} as "
                            f"{dtype}, but it is {known[name]}"
                        )
                    continue
                if fields.setdefault(name, dtype) != dtype:
                    raise ConfigError(
                        f"feature service {self.name!r}: request field {name!r} is read as "
                        f"{fields[name]} and as {dtype} ({feature.ref})"
                    )
            if not isinstance(feature, Request):
                known.update(feature.outputs)
        return (*self.entity.keys, *fields.items())


def _identity(entity: Entity) -> tuple[str, tuple[tuple[str, str], ...]]:
    """What makes two entities the same: name and keys (not the description)."""
    return entity.name, entity.keys
