"""Pipeline: steps run in order, and each step may read what earlier steps answered.

A step sees the request's columns plus every earlier step's outputs. An earlier output
is visible as ``"<step>.<output>"`` and, when no other earlier step has an output of
that name, as its bare name (``prediction``). ``mapping`` feeds a step's input column
from any of these by name. Whatever a step takes that no earlier step provides is an
input of the pipeline itself; the pipeline's outputs are the last step's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from roost.compose._base import Composite, member_outputs
from roost.errors import ConfigError, ModelError
from roost.model import ColumnSpec, Model, OutputSpec, Signature
from roost.types import JSONDict

__all__ = ["Pipeline", "in_spec_order"]

#: where a step's input column comes from: (None, request column) or (step, output)
Source = tuple[str | None, str]


class Pipeline(Composite):
    """Models run one after the other, an earlier model's outputs feeding later ones.

    Args:
        steps: the models in the order they run: ``[("score", a), ("classify", b)]``
            or a mapping of step name to model.
        mapping: for a step, which value feeds each of its input columns that is not
            found by name: ``{"classify": {"embedding_score": "score.prediction"}}``.
            A value is ``"<earlier step>.<output>"``, an earlier step's bare output name,
            or a request column (whose name holds no ``.``).

    Raises:
        ConfigError: no steps, a step name given twice, or a mapping for a step that
            does not exist (its columns and outputs are checked at ``load()``).

    Example:
        >>> pipeline = Pipeline(
        ...     [("score", regressor), ("classify", classifier)],
        ...     mapping={"classify": {"embedding_score": "score.prediction"}},
        ... )  # doctest: +SKIP
        >>> pipeline.load()  # doctest: +SKIP
        >>> pipeline.predict([{"a": 1.0, "b": 2.0}])  # doctest: +SKIP
        [{'label': 1, 'probabilities': [0.2, 0.8]}]
    """

    kind = "pipeline"
    accepts_tensors = False  # values are routed between steps by column name

    def __init__(
        self,
        steps: Sequence[tuple[str, Model]] | Mapping[str, Model],
        *,
        mapping: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        super().__init__(_as_members(steps))
        self.mapping = _checked_mapping(mapping, self.members)

    # ------------------------------------------------------------ signature

    def _build_signature(self) -> Signature:
        """Find each step input's source, refusing what cannot feed it.

        Raises:
            ConfigError: a mapping names a column the step does not take or an output
                no earlier step gives; a bare name is given by two earlier steps; a
                vector output or a value of the wrong type would feed a column; two
                steps take one request column with different types.
        """
        given: dict[str, dict[str, OutputSpec]] = {}  # earlier step -> its outputs
        request: dict[str, tuple[str, ColumnSpec]] = {}  # column -> (first step, spec)
        plan: dict[str, dict[str, Source]] = {}
        for step, member in self.members.items():
            mapped = self.mapping.get(step, {})
            columns = member.signature.input_names
            for column in mapped:
                if column not in columns:
                    raise ConfigError(
                        f"mapping[{step!r}]: step {step!r} has no input column {column!r} "
                        f"(inputs: {', '.join(columns)})"
                    )
            plan[step] = {}
            for spec in member.signature.inputs:
                assert isinstance(spec, ColumnSpec)  # load() refused tensor members
                if spec.name in mapped:
                    source = _mapped_source(step, spec.name, mapped[spec.name], given, self.members)
                else:
                    source = _implicit_source(step, spec.name, given)
                if source[0] is None:
                    _add_request_column(request, step, spec, source[1])
                else:
                    _check_feeds(step, spec, source, given[source[0]][source[1]])
                plan[step][spec.name] = source
            given[step] = {output.name: output for output in member.signature.outputs}
        self.plan_ = plan
        last = next(reversed(self.members.values()))
        # the first step reads only the request, so there is always at least one input
        inputs = tuple(spec for _, spec in request.values())
        return Signature(inputs=inputs, outputs=last.signature.outputs)

    # ------------------------------------------------------------ predicting

    def predict_outputs(self, frame: Any) -> dict[str, Any]:
        import pandas as pd

        answers: dict[str, dict[str, list[Any]]] = {}
        for step, member in self.members.items():
            columns = {
                column: frame[name].reset_index(drop=True)
                if origin is None
                else answers[origin][name]
                for column, (origin, name) in self.plan_[step].items()
            }
            try:
                answers[step] = member_outputs(member, pd.DataFrame(columns))
            except Exception as exc:  # name the step: the member's own message may not
                raise ModelError(
                    f"pipeline step {step!r} failed: {type(exc).__name__}: {exc}"
                ) from exc
        return answers[next(reversed(self.members))]

    # ------------------------------------------------------------ spec

    def to_spec(self) -> JSONDict:
        mapping = {step: dict(columns) for step, columns in self.mapping.items()}
        return {"kind": self.kind, "members": list(self.members), "mapping": mapping}

    @classmethod
    def from_spec(cls, spec: JSONDict, members: Mapping[str, Model], directory: Path) -> Pipeline:
        return cls(in_spec_order(cls.kind, spec, members), mapping=spec.get("mapping"))


def in_spec_order(kind: str, spec: JSONDict, members: Mapping[str, Model]) -> dict[str, Model]:
    """``members`` in the order ``spec["members"]`` lists them.

    Order is meaning (a pipeline's steps, a vote's tie-break), and a mapping read back
    from JSON written with sorted keys has lost it.

    Raises:
        ConfigError: the spec lists other names than the members given.
    """
    order = spec.get("members", list(members))
    if not isinstance(order, list) or sorted(order) != sorted(members):
        raise ConfigError(
            f"{kind} spec 'members': expected the names {sorted(members)} in order, got {order!r}"
        )
    return {name: members[name] for name in order}


# ---------------------------------------------------------------- checks


def _as_members(steps: object) -> dict[str, Model]:
    if isinstance(steps, Mapping):
        return dict(steps)
    if isinstance(steps, str) or not isinstance(steps, Sequence):
        raise ConfigError(
            "steps: expected a list of (name, model) pairs or a mapping, got "
            f"{type(steps).__name__}"
        )
    members: dict[str, Model] = {}
    for item in steps:
        if not isinstance(item, tuple) or len(item) != 2:
            raise ConfigError(f"steps: expected (name, model) pairs, got {item!r}")
        name, model = item
        if name in members:
            raise ConfigError(f"steps: step name {name!r} is given twice")
        members[name] = model
    return members


def _checked_mapping(mapping: object, members: Mapping[str, Model]) -> dict[str, dict[str, str]]:
    if mapping is None:
        return {}
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"mapping: expected a mapping of step to columns, got {mapping!r}")
    checked: dict[str, dict[str, str]] = {}
    for step, columns in mapping.items():
        if step not in members:
            raise ConfigError(f"mapping: {step!r} is not a step (steps: {', '.join(members)})")
        if not isinstance(columns, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in columns.items()
        ):
            raise ConfigError(
                f"mapping[{step!r}]: expected a mapping of input column to source name, "
                f"got {columns!r}"
            )
        checked[step] = dict(columns)
    return checked


def _mapped_source(
    step: str,
    column: str,
    value: str,
    given: Mapping[str, Mapping[str, OutputSpec]],
    members: Mapping[str, Model],
) -> Source:
    where = f"mapping[{step!r}][{column!r}]"
    # the longest step name first: steps 'a' and 'a.b' both prefix 'a.b.prediction'
    for earlier in sorted(given, key=len, reverse=True):
        if value.startswith(f"{earlier}."):
            output = value[len(earlier) + 1 :]
            if output not in given[earlier]:
                raise ConfigError(
                    f"{where}: step {earlier!r} has no output {output!r} "
                    f"(outputs: {', '.join(given[earlier])})"
                )
            return (earlier, output)
    providers = [earlier for earlier, outputs in given.items() if value in outputs]
    if providers:
        return _one_provider(step, column, value, providers)
    if "." in value:
        later = [name for name in members if value.startswith(f"{name}.")]
        if later:
            raise ConfigError(
                f"{where}: step {later[0]!r} does not run before step {step!r}; a step reads "
                "only earlier steps' outputs"
            )
        raise ConfigError(
            f"{where}: {value.split('.', 1)[0]!r} is not a step (steps: {', '.join(members)}); "
            "a request column fed by a mapping has no '.' in its name"
        )
    return (None, value)


def _implicit_source(
    step: str, column: str, given: Mapping[str, Mapping[str, OutputSpec]]
) -> Source:
    for earlier, outputs in given.items():
        if column.startswith(f"{earlier}.") and column[len(earlier) + 1 :] in outputs:
            return (earlier, column[len(earlier) + 1 :])
    providers = [earlier for earlier, outputs in given.items() if column in outputs]
    if providers:
        return _one_provider(step, column, column, providers)
    return (None, column)


def _one_provider(step: str, column: str, output: str, providers: list[str]) -> Source:
    if len(providers) > 1:
        raise ConfigError(
            f"pipeline step {step!r} input {column!r}: output {output!r} is given by steps "
            f"{', '.join(map(repr, providers))}; name one in mapping, e.g. "
            f"{{{step!r}: {{{column!r}: '{providers[-1]}.{output}'}}}}"
        )
    return (providers[0], output)


def _check_feeds(step: str, spec: ColumnSpec, source: Source, output: OutputSpec) -> None:
    where = f"pipeline step {step!r} input {spec.name!r}"
    if output.shape != (-1,):
        raise ConfigError(
            f"{where}: output {output.name!r} of step {source[0]!r} has shape "
            f"{list(output.shape)}, not one value per row; only such outputs can feed a column"
        )
    if output.dtype != "object" and (output.dtype == "string") != (spec.dtype == "string"):
        raise ConfigError(
            f"{where}: expected {spec.dtype}, but output {output.name!r} of step "
            f"{source[0]!r} is {output.dtype}"
        )


def _add_request_column(
    request: dict[str, tuple[str, ColumnSpec]], step: str, spec: ColumnSpec, name: str
) -> None:
    """A request column, typed as the step that takes it declares."""
    if name not in request:
        request[name] = (step, ColumnSpec(name, spec.dtype, spec.allow_nan, spec.description))
        return
    first, earlier = request[name]
    if earlier.dtype != spec.dtype:
        raise ConfigError(
            f"pipeline: request column {name!r} is {earlier.dtype} for step {first!r} but "
            f"{spec.dtype} for step {step!r}"
        )
    if earlier.allow_nan and not spec.allow_nan:
        # every step sees every row: a gap is let in only if each step taking it copes
        request[name] = (first, ColumnSpec(name, spec.dtype, False, earlier.description))
