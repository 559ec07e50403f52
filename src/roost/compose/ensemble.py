"""Ensemble: every member answers each row, and one aggregation combines their answers.

``vote`` takes the majority ``label``; ``mean`` and ``weighted_mean`` average the
members' ``probabilities`` (classifiers) or ``prediction`` (regressors); a callable
combines the members' outputs any way it likes. With ``on_error="answer_from_rest"`` a
member that fails is left out of the batch, and the ``failed`` output says so per row.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from roost.compose._base import Composite, member_outputs, merged_inputs, route_output
from roost.compose.pipeline import in_spec_order
from roost.errors import ConfigError, ModelError
from roost.model import Model, OutputSpec, Signature, count_rows, infer_outputs
from roost.types import JSONDict

__all__ = ["Aggregate", "Ensemble", "sample_outputs"]

log = logging.getLogger(__name__)

#: a custom aggregation: each answering member's outputs by name (one entry per row) in,
#: each of the ensemble's outputs by name (one entry per row) out.
Aggregate = Callable[[dict[str, dict[str, list[Any]]]], Mapping[str, Any]]

_METHODS = ("vote", "mean", "weighted_mean")
_ON_ERROR = ("fail", "answer_from_rest")
_NUMERIC = ("int", "uint", "float")


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
            ``answer_from_rest`` (the batch is answered without it, and the output
            ``failed`` names it, comma-joined, for every row of that batch).
        min_members: with ``answer_from_rest``, how many members must answer.
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
        if not (callable(method) or method in _METHODS):
            raise ConfigError(
                f"method: expected one of {', '.join(_METHODS)} or a callable, got {method!r}"
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
            outputs = self.outputs or self._measure_aggregate(self.method)
        else:
            reference = _same_outputs(self.kind, self.members)
            by_name = {spec.name: spec for spec in reference}
            self.target_ = "label" if "label" in by_name else "prediction"
            probabilities = by_name.get("probabilities")
            self.labels_: list[Any] | None = (
                list(probabilities.labels) if probabilities and probabilities.labels else None
            )
            outputs = (
                self._vote_outputs(by_name) if self.method == "vote" else _mean_outputs(by_name)
            )
        if self.on_error == "answer_from_rest":
            outputs = (*outputs, route_output("failed", "members that failed, comma-joined"))
        return Signature(inputs=merged_inputs(self.kind, self.members), outputs=tuple(outputs))

    def _vote_outputs(self, by_name: dict[str, OutputSpec]) -> tuple[OutputSpec, ...]:
        target = by_name.get(self.target_)
        if target is None or target.shape != (-1,):
            raise ConfigError(
                "method 'vote': members need a 'label' output, or one 'prediction' per row; "
                f"they have {', '.join(by_name)}"
            )
        voted = OutputSpec(target.name, target.dtype, description="the majority vote")
        if self.labels_ is None:
            return (voted,)
        return (voted, _probabilities_spec(self.labels_))

    def _measure_aggregate(self, method: Aggregate) -> tuple[OutputSpec, ...]:
        samples = sample_outputs(self.kind, self.members, "the aggregation's outputs")
        result = _aggregate(method, samples)
        arrays = {name: _as_array(values) for name, values in result.items()}
        return infer_outputs(arrays)

    # ------------------------------------------------------------ predicting

    def predict_outputs(self, frame: Any) -> dict[str, Any]:
        answered, failures = self._run_members(frame)
        if callable(self.method):
            result = dict(_aggregate(self.method, answered))
            expected = [s.name for s in self.signature_.outputs if s.name != "failed"]
            if sorted(result) != sorted(expected):
                raise ModelError(
                    f"ensemble aggregate: expected outputs {expected}, got {sorted(result)}"
                )
        elif self.method == "vote":
            result = _vote(answered, self.target_, self.labels_)
        else:
            weights = self.weights or dict.fromkeys(self.members, 1.0)
            result = _mean(answered, weights, self.labels_)
        if self.on_error == "answer_from_rest":
            result["failed"] = [",".join(failures)] * count_rows(frame)
        return result

    def _run_members(self, frame: Any) -> tuple[dict[str, dict[str, list[Any]]], dict[str, str]]:
        answered: dict[str, dict[str, list[Any]]] = {}
        failures: dict[str, str] = {}
        for name, member in self.members.items():
            try:
                answered[name] = member_outputs(member, frame)
            except Exception as exc:  # any failure of a member: isolate it, or report it
                if self.on_error == "fail":
                    raise ModelError(
                        f"ensemble member {name!r} failed: {type(exc).__name__}: {exc}"
                    ) from exc
                log.warning("ensemble member %r failed, answering from the rest: %s", name, exc)
                failures[name] = f"{type(exc).__name__}: {exc}"
        if len(answered) < self.min_members:
            detail = "; ".join(f"{name!r}: {error}" for name, error in failures.items())
            raise ModelError(
                f"ensemble: {len(answered)} of {len(self.members)} members answered, expected "
                f"at least {self.min_members} (failed: {detail})"
            )
        return answered, failures

    def path_of(self, outputs: list[Any]) -> list[str]:
        """The members that answered: all of them, less those named in ``failed``."""
        if self.on_error != "answer_from_rest":
            return list(self.members)
        failed = {n for row in outputs for n in str(row.get("failed", "")).split(",") if n}
        return [name for name in self.members if name not in failed]

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


def _mean_outputs(by_name: dict[str, OutputSpec]) -> tuple[OutputSpec, ...]:
    probabilities = by_name.get("probabilities")
    if probabilities is not None:
        if not probabilities.labels:
            raise ConfigError("method 'mean': the members' 'probabilities' have no labels")
        label = by_name.get("label")
        dtype = label.dtype if label else "object"
        argmax = OutputSpec("label", dtype, description="the class of highest mean probability")
        return (argmax, _probabilities_spec(list(probabilities.labels)))
    prediction = by_name.get("prediction")
    if prediction is None or prediction.shape != (-1,) or not prediction.dtype.startswith(_NUMERIC):
        raise ConfigError(
            "method 'mean': members need 'probabilities', or one numeric 'prediction' per row; "
            f"they have {', '.join(f'{s.name} ({s.dtype})' for s in by_name.values())}"
        )
    return (OutputSpec("prediction", "float64", description="the members' mean prediction"),)


def _probabilities_spec(labels: list[Any]) -> OutputSpec:
    return OutputSpec(
        "probabilities",
        "float64",
        shape=(-1, len(labels)),
        labels=tuple(labels),
        description="the members' mean probability of each class",
    )


# ---------------------------------------------------------------- aggregations


def _vote(
    answered: dict[str, dict[str, list[Any]]], target: str, labels: list[Any] | None
) -> dict[str, Any]:
    import numpy as np

    votes = [outputs[target] for outputs in answered.values()]
    result: dict[str, Any] = {}
    summed = None
    if labels is not None:
        summed = np.sum([np.asarray(o["probabilities"], float) for o in answered.values()], 0)
    position = {label: j for j, label in enumerate(labels or [])}
    winners = []
    for i in range(len(votes[0])):
        counts = Counter(vote[i] for vote in votes)
        most = max(counts.values())
        tied = [value for value, count in counts.items() if count == most]
        if len(tied) > 1 and summed is not None:
            scores = {v: summed[i, position[v]] for v in tied if v in position}
            if scores:
                top = max(scores.values())
                tied = [v for v in tied if scores.get(v) == top]
        winners.append(next(vote[i] for vote in votes if vote[i] in tied))  # member order
    result[target] = winners
    if summed is not None:
        result["probabilities"] = summed / len(answered)
    return result


def _aggregate(
    method: Aggregate, outputs_by_member: dict[str, dict[str, list[Any]]]
) -> Mapping[str, Any]:
    try:
        result = method(outputs_by_member)
    except Exception as exc:  # user code: report it with context
        raise ModelError(f"ensemble aggregate failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(result, Mapping) or not result:
        raise ModelError(
            "ensemble aggregate: expected a dict of output name to one value per row, "
            f"got {type(result).__name__}"
        )
    return result


def _mean(
    answered: dict[str, dict[str, list[Any]]],
    weights: Mapping[str, float],
    labels: list[Any] | None,
) -> dict[str, Any]:
    import numpy as np

    w = np.array([weights[name] for name in answered], float)
    w /= w.sum()  # over the members that answered, so the rest still sum to one
    if labels is None:
        stacked = np.array([o["prediction"] for o in answered.values()], float)
        return {"prediction": w @ stacked}
    stacked = np.array([o["probabilities"] for o in answered.values()], float)
    mean = np.tensordot(w, stacked, axes=1)
    return {"label": [labels[j] for j in mean.argmax(axis=1)], "probabilities": mean}


# ---------------------------------------------------------------- measuring


def sample_outputs(
    kind: str, members: Mapping[str, Model], what: str
) -> dict[str, dict[str, list[Any]]]:
    """Each member's outputs on its own stored example, cut to the same number of rows.

    Code a composite owns (a custom aggregation, a stacking metamodel) has outputs that
    only running it can tell. Members may take different columns, so each runs on its
    own example: the rows are not the same inputs, which does not matter for measuring
    the outputs' types and shapes.

    Raises:
        ConfigError: a member keeps no example (a composite), naming it.
    """
    samples = {}
    for name, member in members.items():
        example = getattr(member, "example", None)
        if example is None:
            raise ConfigError(
                f"{kind} member {name!r} has no example rows to measure {what} on "
                "(registered versions and live models have one)"
            )
        samples[name] = member_outputs(member, member.signature.validate(example))
    n_rows = min(len(next(iter(outputs.values()))) for outputs in samples.values())
    return {
        name: {output: values[:n_rows] for output, values in outputs.items()}
        for name, outputs in samples.items()
    }


def _as_array(values: Any) -> Any:
    """Values as an array when they are numbers or strings, so their type can be measured."""
    import numpy as np

    try:
        array = np.asarray(values)
    except ValueError:  # ragged rows
        return values
    return array if array.dtype.kind in "biufUS" else values
