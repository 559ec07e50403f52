"""Ensemble: every member answers each row, and one aggregation combines their answers.

``vote`` takes the majority ``label``; ``mean`` and ``weighted_mean`` average the
members' ``probabilities`` (classifiers) or ``prediction`` (regressors); a callable
combines the members' outputs any way it likes. With ``on_error="answer_from_rest"`` a
member that fails is left out of the rows it fails on, and the ``failed`` output says so
per row.

This module holds the ensemble itself (its members, their isolation, its spec); the
aggregations are in ``_aggregate``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from roost.compose._aggregate import (
    METHODS,
    Aggregate,
    apply_aggregate,
    average,
    mean_outputs,
    measure_aggregate,
    merge_rows,
    vote,
    vote_outputs,
)
from roost.compose._base import (
    Composite,
    member_outputs,
    merged_inputs,
    route_output,
    take_rows,
)
from roost.compose.pipeline import in_spec_order
from roost.errors import ConfigError, ModelError
from roost.model import Model, OutputSpec, Signature, count_rows
from roost.types import JSONDict

__all__ = ["Aggregate", "Ensemble"]

log = logging.getLogger(__name__)

_ON_ERROR = ("fail", "answer_from_rest")


class Ensemble(Composite):
    """Members that all answer every row, their answers combined by ``method``.

    Args:
        members: the models, by name; they must have the same outputs (for classifiers,
            the same ``labels`` order in ``probabilities``), except with a callable method.
        method: ``vote`` (majority ``label``, or ``prediction`` when members have no label;
            ties go to the class with the highest summed probability, then to the first
            member in order; ``probabilities`` is the members' plain mean when they have
            it), ``mean`` or ``weighted_mean`` (averaged ``probabilities`` and their
            argmax as ``label``, or an averaged ``prediction``), or a callable
            ``aggregate(outputs_by_member) -> {output: values}``.
        weights: for ``weighted_mean`` only, a positive weight for every member;
            normalised over the members that answered.
        on_error: ``fail`` (a member failure raises ``ModelError``) or
            ``answer_from_rest``: a member that fails on a batch is run again on each
            row alone, and each row is answered by the members that answered it, its
            output ``failed`` naming (comma-joined) those that failed on it. Serving
            merges several clients' requests into one batch, and one client's bad row
            must not degrade the others' answers. The cost: a member that fails on
            every row (one that is down) is called once more per row of every batch;
            it logs one warning per batch, not one per row.
        min_members: with ``answer_from_rest``, how many members must answer each row.
        outputs: for a callable method, its outputs; by default they are measured at
            ``load()`` by running it on the members' outputs for their own examples.

    Raises:
        ConfigError: a bad argument, naming it.

    Example:
        >>> ensemble = Ensemble({"a": a, "b": b, "c": c}, method="vote")  # doctest: +SKIP
        >>> ensemble.load()  # doctest: +SKIP
        >>> ensemble.predict([{"x": 1.0}])  # doctest: +SKIP
        [{'label': 'cat', 'probabilities': [0.7, 0.3]}]
    """

    kind = "ensemble"

    def __init__(
        self,
        members: Mapping[str, Model],
        *,
        method: str | Aggregate = "vote",
        weights: Mapping[str, float] | None = None,
        on_error: str = "fail",
        min_members: int = 1,
        outputs: Sequence[OutputSpec] | None = None,
    ) -> None:
        super().__init__(members)
        if not (callable(method) or method in METHODS):
            raise ConfigError(
                f"method: expected one of {', '.join(METHODS)} or a callable, got {method!r}"
            )
        if on_error not in _ON_ERROR:
            raise ConfigError(f"on_error: expected one of {', '.join(_ON_ERROR)}, got {on_error!r}")
        if isinstance(min_members, bool) or not isinstance(min_members, int):
            raise ConfigError(f"min_members: expected an integer, got {min_members!r}")
        if not 1 <= min_members <= len(self.members):
            raise ConfigError(
                f"min_members: expected 1 to {len(self.members)} (the number of members), "
                f"got {min_members}"
            )
        if outputs is not None and (
            not callable(method) or not all(isinstance(o, OutputSpec) for o in outputs)
        ):
            raise ConfigError("outputs: expected OutputSpecs, and only with a callable method")
        self.method = method
        self.weights = _checked_weights(method, weights, self.members)
        self.on_error = on_error
        self.min_members = min_members
        self.outputs = tuple(outputs) if outputs is not None else None

    # ------------------------------------------------------------ signature

    def _build_signature(self) -> Signature:
        if callable(self.method):
            outputs = self.outputs or measure_aggregate(self.kind, self.members, self.method)
        else:
            reference = _same_outputs(self.kind, self.members)
            by_name = {spec.name: spec for spec in reference}
            self.target_ = "label" if "label" in by_name else "prediction"
            probabilities = by_name.get("probabilities")
            self.labels_: list[Any] | None = (
                list(probabilities.labels) if probabilities and probabilities.labels else None
            )
            outputs = (
                vote_outputs(by_name, self.target_, self.labels_)
                if self.method == "vote"
                else mean_outputs(by_name)
            )
        if self.on_error == "answer_from_rest":
            outputs = (*outputs, route_output("failed", "members that failed, comma-joined"))
        return Signature(inputs=merged_inputs(self.kind, self.members), outputs=tuple(outputs))

    # ------------------------------------------------------------ predicting

    def predict_outputs(self, frame: Any) -> dict[str, Any]:
        n_rows = count_rows(frame)
        answered, failures = self._run_members(frame, n_rows)
        if failures:
            failed_by_row = [[n for n in failures if i in failures[n]] for i in range(n_rows)]
            result = self._aggregate_by_row(answered, failures, failed_by_row)
            failed = [",".join(names) for names in failed_by_row]
        else:  # the common case: every member answered every row
            result = self._aggregate(answered)
            failed = [""] * n_rows
        if self.on_error == "answer_from_rest":
            result["failed"] = failed
        return result

    def _aggregate_by_row(
        self,
        answered: dict[str, dict[str, list[Any]]],
        failures: dict[str, dict[int, str]],
        failed_by_row: list[list[str]],
    ) -> dict[str, list[Any]]:
        """Each row aggregated over the members that answered it.

        Raises:
            ModelError: fewer than ``min_members`` answered a row, naming the first such
                row and each member's failure on it.
        """
        n_rows = len(failed_by_row)
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, failed in enumerate(failed_by_row):
            n_answered = len(self.members) - len(failed)
            if n_answered < self.min_members:
                detail = "; ".join(f"{name!r}: {failures[name][i]}" for name in failed)
                raise ModelError(
                    f"ensemble row {i} (of {n_rows}, from 0): {n_answered} of "
                    f"{len(self.members)} members answered, expected at least "
                    f"{self.min_members} (failed: {detail})"
                )
            groups.setdefault(tuple(n for n in answered if n not in failed), []).append(i)
        # rows answered by the same members are aggregated together, as one batch
        parts = [
            (rows, self._aggregate(_rows_of(answered, names, rows)))
            for names, rows in groups.items()
        ]
        return merge_rows(parts, n_rows)

    def _aggregate(self, answered: dict[str, dict[str, list[Any]]]) -> dict[str, Any]:
        """The ensemble's outputs for rows that every member in ``answered`` answered."""
        if callable(self.method):
            result = dict(apply_aggregate(self.method, answered))
            expected = [s.name for s in self.signature_.outputs if s.name != "failed"]
            if sorted(result) != sorted(expected):
                raise ModelError(
                    f"ensemble aggregate: expected outputs {expected}, got {sorted(result)}"
                )
            return result
        if self.method == "vote":
            return vote(answered, self.target_, self.labels_)
        weights = self.weights or dict.fromkeys(self.members, 1.0)
        return average(answered, weights, self.labels_)

    def _run_members(
        self, frame: Any, n_rows: int
    ) -> tuple[dict[str, dict[str, list[Any]]], dict[str, dict[int, str]]]:
        """Each member's outputs, and the rows each member failed on with the error.

        A member that failed on some rows has ``None`` in its outputs at those rows; a
        member that failed on every row has no outputs at all.
        """
        answered: dict[str, dict[str, list[Any]]] = {}
        failures: dict[str, dict[int, str]] = {}
        for name, member in self.members.items():
            try:
                answered[name] = member_outputs(member, frame)
                continue
            except Exception as exc:  # any failure of a member: isolate it, or report it
                if self.on_error == "fail":
                    raise ModelError(
                        f"ensemble member {name!r} failed: {type(exc).__name__}: {exc}"
                    ) from exc
                error = f"{type(exc).__name__}: {exc}"
            outputs, errors = (None, {0: error}) if n_rows == 1 else _run_alone(member, frame)
            if outputs is not None:
                answered[name] = outputs
            if errors:
                failures[name] = errors
                # one warning per batch: a member that is down would otherwise log every row
                log.warning(
                    "ensemble member %r failed on %d of %d rows, answering them from the rest: %s",
                    name,
                    len(errors),
                    n_rows,
                    next(iter(errors.values())),
                )
            else:
                log.warning(
                    "ensemble member %r failed on a batch of %d rows but answered each row "
                    "alone: %s",
                    name,
                    n_rows,
                    error,
                )
        return answered, failures

    def path_of(self, outputs: list[Any]) -> list[str]:
        """The members that answered at least one row: those not named in every ``failed``."""
        if self.on_error != "answer_from_rest" or not outputs:
            return list(self.members)
        failed = [{n for n in str(row.get("failed", "")).split(",") if n} for row in outputs]
        return [name for name in self.members if any(name not in f for f in failed)]

    # ------------------------------------------------------------ spec

    def to_spec(self) -> JSONDict:
        spec: JSONDict = {
            "kind": self.kind,
            "members": list(self.members),
            "method": "custom" if callable(self.method) else self.method,
            "on_error": self.on_error,
            "min_members": self.min_members,
        }
        if self.weights is not None:
            spec["weights"] = dict(self.weights)
        if self.outputs is not None:
            spec["outputs"] = [output.to_dict() for output in self.outputs]
        return spec

    def save_owned(self, directory: Path) -> JSONDict:
        """A callable method is written with cloudpickle (so a notebook's lambda survives)."""
        if not callable(self.method):
            return {}
        import cloudpickle

        (directory / "aggregate.pkl").write_bytes(cloudpickle.dumps(self.method, protocol=5))
        return {"aggregate": "aggregate.pkl"}

    @classmethod
    def from_spec(cls, spec: JSONDict, members: Mapping[str, Model], directory: Path) -> Ensemble:
        import pickle

        method = spec.get("method", "vote")
        if method == "custom":
            file = spec.get("aggregate")
            if not isinstance(file, str) or not (directory / file).is_file():
                raise ConfigError(
                    f"ensemble spec 'aggregate': expected the file save_owned wrote, got {file!r}"
                )
            method = pickle.loads((directory / file).read_bytes())  # the package's own file
        outputs = None
        if "outputs" in spec:
            # OutputSpec has no from_dict: Signature.from_dict reads outputs with its checks
            placeholder = [{"name": "x", "dtype": "float64"}]
            data = {"kind": "columns", "inputs": placeholder, "outputs": spec["outputs"]}
            try:
                outputs = Signature.from_dict(data).outputs
            except ConfigError as exc:
                raise ConfigError(f"ensemble spec 'outputs': {exc}") from exc
        return cls(
            in_spec_order(cls.kind, spec, members),
            method=method,
            weights=spec.get("weights"),
            on_error=spec.get("on_error", "fail"),
            min_members=spec.get("min_members", 1),
            outputs=outputs,
        )


# ---------------------------------------------------------------- isolation


def _run_alone(member: Model, frame: Any) -> tuple[dict[str, list[Any]] | None, dict[int, str]]:
    """``member`` run on each row of ``frame`` alone: its outputs (``None`` at the rows it
    failed on, or ``None`` for all when it failed on every row) and each failure."""
    n_rows = count_rows(frame)
    outputs: dict[str, list[Any]] = {s.name: [None] * n_rows for s in member.signature.outputs}
    errors: dict[int, str] = {}
    for i in range(n_rows):
        try:
            row = member_outputs(member, take_rows(frame, [i]))
        except Exception as exc:  # this row is answered without the member
            errors[i] = f"{type(exc).__name__}: {exc}"
            continue
        for name, values in row.items():
            outputs[name][i] = values[0]
    return (None if len(errors) == n_rows else outputs), errors


def _rows_of(
    answered: dict[str, dict[str, list[Any]]], names: tuple[str, ...], rows: list[int]
) -> dict[str, dict[str, list[Any]]]:
    """The outputs of the members ``names`` at ``rows`` only."""
    return {
        name: {output: [values[i] for i in rows] for output, values in answered[name].items()}
        for name in names
    }


# ---------------------------------------------------------------- checks


def _checked_weights(
    method: object, weights: Mapping[str, float] | None, members: Mapping[str, Model]
) -> dict[str, float] | None:
    if weights is None:
        if method == "weighted_mean":
            raise ConfigError("weights: method 'weighted_mean' needs a weight for every member")
        return None
    if method != "weighted_mean":
        raise ConfigError(f"weights: used only with method 'weighted_mean', got method {method!r}")
    if not isinstance(weights, Mapping):
        raise ConfigError(f"weights: expected a mapping of member to weight, got {weights!r}")
    for name in weights:
        if name not in members:
            raise ConfigError(f"weights: {name!r} is not a member (members: {', '.join(members)})")
    checked = {}
    for name in members:
        value = weights.get(name)
        if value is None:
            raise ConfigError(f"weights: missing a weight for member {name!r}")
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if not is_number or not 0 < value < math.inf:
            raise ConfigError(f"weights[{name!r}]: expected a positive number, got {value!r}")
        checked[name] = float(value)
    return checked


def _same_outputs(kind: str, members: Mapping[str, Model]) -> tuple[OutputSpec, ...]:
    """The first member's outputs, once every member is checked to have the same ones."""
    (first, model), *rest = members.items()
    reference = model.signature.outputs
    names = sorted(spec.name for spec in reference)
    labels = {spec.name: spec.labels for spec in reference}
    for name, member in rest:
        outputs = member.signature.outputs
        if sorted(spec.name for spec in outputs) != names:
            raise ConfigError(
                f"{kind} member {name!r}: outputs {sorted(s.name for s in outputs)} differ from "
                f"member {first!r}'s {names}"
            )
        for spec in outputs:
            if spec.labels != labels[spec.name]:
                raise ConfigError(
                    f"{kind} member {name!r}: output {spec.name!r} has labels "
                    f"{list(spec.labels or [])}, but member {first!r}'s has "
                    f"{list(labels[spec.name] or [])}"
                )
    return reference
