"""What every composite shares: named members, a signature built at load, named outputs.

A composite is itself a Model (``signature``, ``is_loaded``, ``load()``, ``predict``),
so a composite can be a member of another one, served, saved and checked like any
model. Members are Models too: registered versions (``registry.model("fast:3")``),
other composites, or live objects wrapped by ``roost.compose.live``.

Subclasses implement three things:

- ``_build_signature()``: the composite's inputs and outputs, from its loaded members;
- ``predict_outputs(frame)``: one entry per row for each output, by output name;
- ``to_spec()`` / ``from_spec()``: the composite as JSON-safe data (its members by name
  only), so a package can store it; ``save_owned()`` writes what the composite owns
  itself (a stacking metamodel, a custom aggregation function).

Members usually take named columns. Members that take tensors (a model saved with a
numpy array as its example) are accepted when they all take the very same tensors:
the batch then passes to each of them unchanged. Mixing the two, or tensors of
different shapes, is refused at load, because rows cannot be routed between them by
name. Subclasses that route by name (``Pipeline``) set ``accepts_tensors = False``.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from roost.errors import ConfigError, NotLoadedError
from roost.model import (
    ColumnSpec,
    Model,
    OutputSpec,
    Signature,
    as_frame,
    count_rows,
)
from roost.model import rows_from_outputs as _rows_from_outputs
from roost.types import JSONDict, Rows

__all__ = [
    "Composite",
    "check_member_name",
    "is_model",
    "member_frame",
    "member_outputs",
    "merged_inputs",
    "route_output",
    "take_rows",
]

_MEMBER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,62}$")


def check_member_name(name: object) -> str:
    """A member name is a short identifier: it appears in outputs, paths and packages.

    Raises:
        ConfigError: the name is not a string matching ``[A-Za-z][A-Za-z0-9_.-]*``.
    """
    if not isinstance(name, str) or not _MEMBER_NAME.match(name):
        raise ConfigError(
            f"member name {name!r}: expected a letter then letters, digits, '_', '.' or '-' "
            "(at most 63 characters)"
        )
    return name


def route_output(name: str, description: str) -> OutputSpec:
    """A string output that says which way a row went (``phase``, ``failed``, ``rules``)."""
    return OutputSpec(name, "string", description=description)


class Composite(ABC):
    """The base of Pipeline, Ensemble, Stack, Cascade and Guarded.

    Args:
        members: the parts, by name, in the order they are tried or combined.

    Raises:
        ConfigError: no members, a bad member name, or a member that is not a Model.
    """

    #: the composite's kind as stored in a package (``pipeline``, ``cascade``, …).
    kind: ClassVar[str]
    #: whether members that all take the same tensors are accepted (see the module doc)
    accepts_tensors: ClassVar[bool] = True

    def __init__(self, members: Mapping[str, Model]) -> None:
        if not members:
            raise ConfigError(f"{self.kind}: expected at least one member, got none")
        for name, member in members.items():
            check_member_name(name)
            if not is_model(member):
                raise ConfigError(
                    f"{self.kind} member {name!r}: expected a roost Model (a registered "
                    "version, a composite, or roost.compose.live(obj, example=...)), got "
                    f"{type(member).__name__}"
                )
        self.members: dict[str, Model] = dict(members)

    # ------------------------------------------------------------ the Model contract

    @property
    def is_loaded(self) -> bool:
        return hasattr(self, "signature_")

    def load(self) -> None:
        """Load every member, then check they fit together; idempotent.

        Raises:
            ConfigError: the members do not fit together (naming the member and why).
        """
        if self.is_loaded:
            return
        for member in self.members.values():
            member.load()
        self._check_input_kinds()
        self.signature_ = self._build_signature()

    def _check_input_kinds(self) -> None:
        tensor_members = [n for n, m in self.members.items() if m.signature.kind == "tensors"]
        if not tensor_members:
            return
        if not self.accepts_tensors:
            raise ConfigError(
                f"{self.kind} member {tensor_members[0]!r} takes tensors; a {self.kind} routes "
                "values by column name, so its members must take named columns"
            )
        first_name, first = next(iter(self.members.items()))
        expected = [spec.to_dict() for spec in first.signature.inputs]
        for name, member in self.members.items():
            if [spec.to_dict() for spec in member.signature.inputs] != expected:
                raise ConfigError(
                    f"{self.kind} member {name!r} takes {member.signature.input_names} "
                    f"({member.signature.kind}) but member {first_name!r} takes "
                    f"{first.signature.input_names} ({first.signature.kind}); members that "
                    "take tensors must all take the same ones"
                )

    @property
    def signature(self) -> Signature:
        self._require_loaded()
        return self.signature_

    def predict(self, batch: Rows) -> list[Any]:
        """Validate ``batch`` against the composite's inputs and return one output per row."""
        return self.predict_validated(self.validate(batch))

    def validate(self, batch: Rows) -> Any:
        """Check rows against the signature; returns the batch ``predict_validated`` takes.

        Float columns stay one array (a ``RowBlock``) until serving merges the batch, as
        for a packaged model: a DataFrame per one-row request costs more than the rows.
        """
        self._require_loaded()
        return self.signature_.validate_batch(batch)

    def predict_validated(self, validated: Any) -> list[Any]:
        """Run the composite on a batch ``validate`` returned; one output per row."""
        self._require_loaded()
        n_rows = count_rows(validated)
        if n_rows == 0:
            return []
        return _rows_from_outputs(self.predict_outputs(as_frame(validated)), n_rows)

    def _require_loaded(self) -> None:
        if not self.is_loaded:
            raise NotLoadedError(f"{self.kind} is not loaded; call load() first")

    # ------------------------------------------------------------ what subclasses give

    @abstractmethod
    def _build_signature(self) -> Signature:
        """The composite's signature, from its loaded members (checking they fit)."""

    @abstractmethod
    def predict_outputs(self, frame: Any) -> dict[str, Any]:
        """Each output by name, one entry per row of the validated DataFrame ``frame``."""

    def path_of(self, outputs: list[Any]) -> list[str]:
        """The members that answered a request whose rows gave ``outputs``, in order.

        Telemetry stores it with the prediction. By default every member answered.
        """
        return list(self.members)

    @abstractmethod
    def to_spec(self) -> JSONDict:
        """The composite as JSON-safe data: ``kind``, member names, and its settings."""

    def save_owned(self, directory: Path) -> JSONDict:
        """Write what the composite owns (not its members) into ``directory``.

        Returns what ``from_spec`` needs to read it back (file names), JSON-safe.
        """
        return {}

    @classmethod
    @abstractmethod
    def from_spec(cls, spec: JSONDict, members: Mapping[str, Model], directory: Path) -> Composite:
        """Rebuild the composite from ``to_spec``'s data, its members and its owned files.

        Raises:
            ConfigError: the spec is malformed (naming the field).
        """

    def __repr__(self) -> str:
        state = "loaded" if self.is_loaded else "not loaded"
        return f"<{type(self).__name__} {', '.join(self.members)} ({state})>"


# ---------------------------------------------------------------- helpers for subclasses


def is_model(obj: object) -> bool:
    """Whether ``obj`` has the Model members, without calling any of them.

    ``isinstance(obj, Model)`` would read ``obj.signature``, which an unloaded model
    refuses (NotLoadedError) — and members are given unloaded. ``getattr_static``
    finds attributes set in ``__init__`` and properties alike, and runs neither.
    """
    import inspect

    missing = object()
    return all(
        inspect.getattr_static(obj, name, missing) is not missing
        for name in ("signature", "is_loaded", "load", "predict")
    )


def merged_inputs(kind: str, members: Mapping[str, Model]) -> Any:
    """The union of the members' input columns, first seen first; or their shared tensors.

    Raises:
        ConfigError: two members take the same column with different types.
    """
    first = next(iter(members.values())).signature
    if first.kind == "tensors":  # load() checked that every member takes the same ones
        return first.inputs
    seen: dict[str, tuple[str, ColumnSpec]] = {}
    for name, member in members.items():
        for spec in member.signature.inputs:
            assert isinstance(spec, ColumnSpec)  # load() refused mixing columns and tensors
            if spec.name in seen:
                other, earlier = seen[spec.name]
                if earlier.dtype != spec.dtype:
                    raise ConfigError(
                        f"{kind}: column {spec.name!r} is {earlier.dtype} for member {other!r} "
                        f"but {spec.dtype} for member {name!r}"
                    )
                if spec.allow_nan and not earlier.allow_nan:
                    seen[spec.name] = (other, spec)  # one member copes with gaps: let them in
                continue
            seen[spec.name] = (name, spec)
    return tuple(spec for _, spec in seen.values())


def member_frame(member: Model, frame: Any) -> Any:
    """The columns of ``frame`` that ``member`` takes, in its signature's order.

    A tensor batch (an array, or a dict of arrays) goes to every member unchanged.
    """
    if hasattr(frame, "columns"):
        return frame[member.signature.input_names]
    return frame


def take_rows(batch: Any, positions: Any) -> Any:
    """The rows at ``positions`` (an integer array) of a validated batch, renumbered from 0."""
    if hasattr(batch, "iloc"):
        return batch.iloc[positions].reset_index(drop=True)
    if isinstance(batch, dict):
        return {name: values[positions] for name, values in batch.items()}
    return batch[positions]


def member_outputs(member: Model, frame: Any) -> dict[str, list[Any]]:
    """Run ``member`` on its columns of ``frame``; each output by name, one entry per row."""
    rows = member.predict(member_frame(member, frame))
    names = [spec.name for spec in member.signature.outputs]
    if len(names) == 1:
        return {names[0]: list(rows)}
    return {name: [row[name] for row in rows] for name in names}
