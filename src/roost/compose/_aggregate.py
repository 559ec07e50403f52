"""How an ensemble combines its members' answers: a vote, a (weighted) mean, or a callable.

Each aggregation takes the outputs of the members that answered, by member name then
output name (one entry per row), and gives the ensemble's outputs by name. The
``*_outputs`` functions give the outputs an aggregation produces, from the members'
own, so ``Ensemble`` can build its signature at load. When members answered some rows
only, each group of rows answered by the same members is aggregated on its own, and
``merge_rows`` puts the groups' outputs back in row order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from roost.compose._base import member_outputs
from roost.errors import ConfigError, ModelError
from roost.model import Model, OutputSpec, infer_outputs

__all__ = [
    "METHODS",
    "Aggregate",
    "apply_aggregate",
    "average",
    "mean_outputs",
    "measure_aggregate",
    "merge_rows",
    "sample_outputs",
    "vote",
    "vote_outputs",
]

#: a custom aggregation: each answering member's outputs by name (one entry per row) in,
#: each of the ensemble's outputs by name (one entry per row) out.
Aggregate = Callable[[dict[str, dict[str, list[Any]]]], Mapping[str, Any]]

#: the built-in aggregations, by the name ``Ensemble(method=...)`` takes
METHODS = ("vote", "mean", "weighted_mean")

_NUMERIC = ("int", "uint", "float")


# ---------------------------------------------------------------- outputs


def vote_outputs(
    by_name: Mapping[str, OutputSpec], target: str, labels: list[Any] | None
) -> tuple[OutputSpec, ...]:
    """The outputs of ``vote``: the voted ``target``, and mean probabilities when there are.

    Raises:
        ConfigError: the members have no ``target`` output with one value per row.
    """
    spec = by_name.get(target)
    if spec is None or spec.shape != (-1,):
        raise ConfigError(
            "method 'vote': members need a 'label' output, or one 'prediction' per row; "
            f"they have {', '.join(by_name)}"
        )
    voted = OutputSpec(spec.name, spec.dtype, description="the majority vote")
    if labels is None:
        return (voted,)
    return (voted, _probabilities_spec(labels))


def mean_outputs(by_name: Mapping[str, OutputSpec]) -> tuple[OutputSpec, ...]:
    """The outputs of ``average``: the argmax ``label`` and mean ``probabilities``, or the
    mean ``prediction``.

    Raises:
        ConfigError: the members have neither labelled probabilities nor one numeric
            prediction per row.
    """
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


def vote(
    answered: dict[str, dict[str, list[Any]]], target: str, labels: list[Any] | None
) -> dict[str, Any]:
    """The majority ``target`` per row, and the members' plain mean ``probabilities``.

    Ties go to the class with the highest summed probability, then to the first member
    (in member order) that voted for one of the tied values.
    """
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


def average(
    answered: dict[str, dict[str, list[Any]]],
    weights: Mapping[str, float],
    labels: list[Any] | None,
) -> dict[str, Any]:
    """The weighted mean of ``probabilities`` (and its argmax ``label``) or of ``prediction``.

    The weights are normalised over the members that answered, so a failed member's
    share goes to the rest in proportion.
    """
    import numpy as np

    w = np.array([weights[name] for name in answered], float)
    w /= w.sum()  # over the members that answered, so the rest still sum to one
    if labels is None:
        stacked = np.array([o["prediction"] for o in answered.values()], float)
        return {"prediction": w @ stacked}
    stacked = np.array([o["probabilities"] for o in answered.values()], float)
    mean = np.tensordot(w, stacked, axes=1)
    return {"label": [labels[j] for j in mean.argmax(axis=1)], "probabilities": mean}


def apply_aggregate(
    method: Aggregate, outputs_by_member: dict[str, dict[str, list[Any]]]
) -> Mapping[str, Any]:
    """Run a custom aggregation, reporting its failure or a result that is no dict.

    Raises:
        ModelError: the aggregation raised, or returned something other than a
            non-empty mapping.
    """
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


def merge_rows(
    parts: Sequence[tuple[Sequence[int], Mapping[str, Any]]], n_rows: int
) -> dict[str, list[Any]]:
    """The outputs of groups of rows, put back in row order.

    Args:
        parts: for each group, the positions of its rows in the batch and its outputs
            by name (one entry per row of the group, in the order of the positions).
        n_rows: the number of rows in the batch; every row is in exactly one group.

    Raises:
        ModelError: an output of a group does not have one entry per row of the group.
    """
    merged: dict[str, list[Any]] = {}
    for rows, outputs in parts:
        for name, values in outputs.items():
            is_batch = hasattr(values, "__len__") and not isinstance(values, str | bytes | Mapping)
            if not is_batch or getattr(values, "ndim", 1) == 0:  # a 0-d array has __len__
                raise ModelError(
                    f"ensemble output {name!r}: expected one value per row ({len(rows)}), "
                    f"got a single {type(values).__name__}"
                )
            if len(values) != len(rows):
                raise ModelError(
                    f"ensemble output {name!r}: expected one value per row ({len(rows)}), "
                    f"got {len(values)}"
                )
            column = merged.setdefault(name, [None] * n_rows)
            for position, value in zip(rows, values, strict=True):
                column[position] = value
    return merged


# ---------------------------------------------------------------- measuring


def measure_aggregate(
    kind: str, members: Mapping[str, Model], method: Aggregate
) -> tuple[OutputSpec, ...]:
    """The outputs of a custom aggregation, measured by running it on sample outputs.

    Raises:
        ConfigError: a member keeps no example rows.
        ModelError: the aggregation fails on the samples.
    """
    samples = sample_outputs(kind, members, "the aggregation's outputs")
    result = apply_aggregate(method, samples)
    return infer_outputs({name: _as_array(values) for name, values in result.items()})


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
