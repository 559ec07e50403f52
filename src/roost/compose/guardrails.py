"""Guardrails: business rules declared beside a model, not inside it.

``Guarded(model, rules, fallback)`` is a composite that answers like ``model`` and adds
an output ``rules``: for each row, the comma-joined names of the rules that fired, in
the order they fired (``"fallback"`` when the fallback answered, ``""`` when nothing
fired). Per batch it applies, in order:

1. input rules (``AllowedRange`` / ``DenyList`` on an input column);
2. the model, on the rows no input rule sent to the fallback; if it raises (and
   ``on_error``), each row is run alone and the fallback answers the rows the model
   fails on, so one request's bad row spares the others merged into its batch; if it
   takes longer than ``timeout_ms``, the fallback answers the whole batch;
3. output rules, in declared order: ``Clamp``, ``AllowedRange`` / ``DenyList`` on an
   output, ``Override``.

A rule with ``action="reject"`` refuses the whole request with ``SignatureError`` (HTTP
400), raised by ``validate``, so a server refuses that request alone. Only input rules
may reject: outputs exist only for a merged batch, where a reject would fail every
request in it, so an output rule answers from the fallback instead (refused at load
otherwise). Output rules apply to every row, the fallback's
answers included; a fallback answer is final: an output rule that would send it to the
fallback again is still named in ``rules``, and the answer stays.

Rules are data, so they can be kept in a YAML file beside the model, shown in docs and
audited (``Guarded.from_yaml``)::

    rules:
      - kind: allowed_range       # an input or a numeric output
        field: amount
        min: 0
        action: reject            # or fallback (the default)
      - kind: deny_list           # an input or an output
        field: merchant
        values: [m-13, m-666]
      - kind: clamp               # a numeric output
        output: score
        min: 0
        max: 1
      - kind: override
        name: large_amount_review
        when: amount > 10000      # a condition: see roost.compose._expression
        set: {decision: needs_review}
    fallback:                     # optional
      value: {decision: needs_review, score: 0.5}   # or  model: fallback
      timeout_ms: 200
      on_error: true

``name`` is optional except for overrides (``clamp_<output>``, ``range_<field>``,
``deny_<field>`` by default). Every name, field and value is checked against the model's
signature when the composite loads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from roost.compose._base import Composite, member_outputs, merged_inputs, route_output, take_rows
from roost.compose._condition import Condition
from roost.compose._fallback import Fallback, run_model
from roost.compose._rules import AllowedRange, Clamp, DenyList, Override, Rule, rules_from_dicts
from roost.errors import ConfigError, SignatureError
from roost.model import ColumnSpec, Model, Signature, as_frame, count_rows
from roost.types import JSONDict, Rows

__all__ = ["Fallback", "Guarded"]


class Guarded(Composite):
    """A model with rules and a fallback around it; see the module docstring.

    Args:
        model: the guarded model (a registered version, a composite, a live model).
        rules: ``Clamp``, ``AllowedRange``, ``DenyList`` and ``Override`` rules.
        fallback: what answers on error, timeout, or a rule's ``action="fallback"``.

    Raises:
        ConfigError: a rule is not a rule, two rules share a name, or a rule needs a
            fallback that is not given. Fields and values are checked by ``load()``.

    Example:
        >>> guarded = Guarded(
        ...     registry.model("fraud:3"),
        ...     [Override(when="amount > 10000", set={"decision": "needs_review"},
        ...               name="large_amount_review")],
        ...     fallback=Fallback(value={"decision": "needs_review"}, timeout_ms=200),
        ... )  # doctest: +SKIP
        >>> guarded.load(); guarded.predict([{"amount": 20000, ...}])  # doctest: +SKIP
        [{'decision': 'needs_review', 'rules': 'large_amount_review'}]
    """

    kind = "guarded"

    def __init__(
        self, model: Model, rules: Sequence[Rule] = (), fallback: Fallback | None = None
    ) -> None:
        members = {"model": model}
        if isinstance(fallback, Fallback) and fallback.model is not None:
            members["fallback"] = fallback.model
        super().__init__(members)
        if fallback is not None and not isinstance(fallback, Fallback):
            raise ConfigError(f"guarded fallback: expected a Fallback, got {fallback!r}")
        if isinstance(rules, str | Mapping) or not isinstance(rules, Sequence):
            raise ConfigError(f"guarded rules: expected a list of rules, got {rules!r}")
        names: set[str] = set()
        for rule in rules:
            if not isinstance(rule, Clamp | AllowedRange | DenyList | Override):  # not Rule: ours
                raise ConfigError(
                    f"guarded rules: expected Clamp, AllowedRange, DenyList or Override, got "
                    f"{rule!r} (rules_from_dicts reads rules from dicts)"
                )
            if rule.name in names:
                raise ConfigError(f"guarded rules: two rules are named {rule.name!r}")
            names.add(rule.name)
            diverts = isinstance(rule, AllowedRange | DenyList) and rule.action == "fallback"
            if diverts and fallback is None:
                raise ConfigError(f"rule {rule.name!r}: action 'fallback' needs fallback=")
        self.model, self.rules, self.fallback = model, tuple(rules), fallback

    def _build_signature(self) -> Signature:
        outputs = self.model.signature.outputs
        self.outputs_ = by_name = {spec.name: spec for spec in outputs}
        if "rules" in by_name:
            raise ConfigError("guarded: the model already has an output named 'rules'")
        # checks the fallback fits; the row a value fallback answers with (None: a model)
        fallback = self.fallback
        self.fallback_row_ = fallback.row_for(outputs) if fallback is not None else None
        inputs = merged_inputs(self.kind, self.members)
        # rules read named columns; the tensors of a tensor model are not addressable
        columns = {spec.name: spec for spec in inputs if isinstance(spec, ColumnSpec)}
        self.columns_ = frozenset(columns)
        self.stages_: dict[str, str] = {}  # rule name -> "input" or "output"
        self.conditions_: dict[str, Condition] = {}
        for rule in self.rules:
            checked = rule.check(columns, by_name)
            if isinstance(checked, Condition):
                self.conditions_[rule.name], checked = checked, "output"
            if checked == "output" and getattr(rule, "action", None) == "reject":
                # outputs exist only for the merged batch, where a reject would fail every
                # request that shares it, not just the one at fault
                raise ConfigError(
                    f"rule {rule.name!r}: action 'reject' applies to inputs only; "
                    f"{getattr(rule, 'field', '')!r} is an output, so use action='fallback'"
                )
            self.stages_[rule.name] = checked
        rules = route_output("rules", "the guardrail rules that fired for the row, in order")
        return Signature(inputs=inputs, outputs=(*outputs, rules))

    # ---------------------------------------------------------------- predicting

    def validate(self, batch: Rows) -> Any:
        """Check rows against the signature and the input rules that reject.

        Serving validates each request on its own before merging requests into one batch,
        so a rejected request fails alone; this is why only input rules may reject.

        Raises:
            SignatureError: a row breaks the signature, or an input rule that rejects
                (naming the rule, the field and the row).
        """
        validated = super().validate(batch)
        for screen in self._screens("input"):
            if screen.action == "reject":
                values = as_frame(validated)[screen.field].tolist()
                self._fire(screen, screen.violations(values), [], values)
        return validated

    def predict_outputs(self, frame: Any) -> dict[str, Any]:
        import numpy as np

        n_rows = count_rows(frame)
        fired: list[list[str]] = [[] for _ in range(n_rows)]
        diverted = np.zeros(n_rows, dtype=bool)
        for screen in self._screens("input"):
            values = frame[screen.field].tolist()
            hit = self._fire(screen, screen.violations(values), fired, values)
            if screen.action == "fallback":
                diverted |= hit
        outputs, answered = self._answer(frame, diverted, fired)
        for rule in self.rules:
            if isinstance(rule, Clamp):
                dtype = self.outputs_[rule.output].dtype
                outputs[rule.output], hit = rule.apply(outputs[rule.output], dtype)
                self._fire(rule, hit, fired)
            elif isinstance(rule, Override):
                condition = self.conditions_[rule.name]
                env = {n: frame[n] if n in self.columns_ else outputs[n] for n in condition.names}
                for i in np.flatnonzero(self._fire(rule, condition.evaluate(env, n_rows), fired)):
                    for name, value in rule.set.items():
                        outputs[name][i] = value
            elif isinstance(rule, AllowedRange | DenyList) and self.stages_[rule.name] == "output":
                # an output screen: load() refused reject, so the fallback answers its rows
                values = outputs[rule.field]
                hit = self._fire(rule, rule.violations(values), fired, values)
                # a fallback answer is final: one that this rule would divert again stays
                self._from_fallback(frame, hit & ~answered, outputs, fired)
                answered |= hit
        return {**outputs, "rules": [",".join(names) for names in fired]}

    def _screens(self, stage: str) -> list[AllowedRange | DenyList]:
        """The allowed ranges and deny-lists that apply to inputs, or to outputs."""
        return [
            rule
            for rule in self.rules
            if isinstance(rule, AllowedRange | DenyList) and self.stages_[rule.name] == stage
        ]

    def _fire(
        self, rule: Rule, hit: Any, fired: list[list[str]], values: list[Any] | None = None
    ) -> Any:
        """Record ``rule`` for the rows in ``hit``; or refuse the request, for a reject."""
        import numpy as np

        rows = np.flatnonzero(hit)
        if rows.size and isinstance(rule, AllowedRange | DenyList) and rule.action == "reject":
            # only input rules reject (load refuses the others), so the request is at fault
            row = int(rows[0])
            value = values[row] if values is not None else None
            message = f"rule {rule.name!r}: input {rule.field!r} {rule.explain(value)}"
            raise SignatureError(f"{message} (row {row})", field=rule.field, row=row)
        for i in rows:
            fired[i].append(rule.name)
        return hit

    def _answer(
        self, frame: Any, diverted: Any, fired: list[list[str]]
    ) -> tuple[dict[str, list[Any]], Any]:
        """The model's outputs, or the fallback's for diverted rows and the rows the
        model failed on (all of them when it was late)."""
        import numpy as np

        names = list(self.outputs_)
        outputs: dict[str, list[Any]] = {name: [None] * len(diverted) for name in names}
        rows, answered = np.flatnonzero(~diverted), diverted.copy()
        if rows.size:
            part = frame if rows.size == len(diverted) else take_rows(frame, rows)
            result, failed = run_model(self.model, part, self.fallback)
            for j in failed:
                answered[rows[j]] = True
            if result is not None:  # None at the failed rows, which the fallback answers
                for name in names:
                    for j, i in enumerate(rows):
                        outputs[name][i] = result[name][j]
        self._from_fallback(frame, answered, outputs, fired)
        return outputs, answered

    def _from_fallback(
        self, frame: Any, mask: Any, outputs: dict[str, list[Any]], fired: list[list[str]]
    ) -> None:
        """Answer the rows in ``mask`` from the fallback, and say so in ``rules``."""
        import numpy as np

        rows = np.flatnonzero(mask)
        if not rows.size:
            return
        if self.fallback_row_ is None:
            answered = member_outputs(self.members["fallback"], take_rows(frame, rows))
        else:
            answered = {name: [value] * rows.size for name, value in self.fallback_row_.items()}
        for name, values in outputs.items():
            for j, i in enumerate(rows):
                values[i] = answered[name][j]
        for i in rows:
            fired[i].append("fallback")

    def path_of(self, outputs: list[Any]) -> list[str]:
        """``model`` and/or ``fallback`` (who answered), then ``rule:<name>`` for each rule
        that fired in any row, in declared order."""
        fired = [set(str(row["rules"]).split(",")) - {""} for row in outputs]
        path = ["model"] if any("fallback" not in names for names in fired) or not fired else []
        path += ["fallback"] if any("fallback" in names for names in fired) else []
        seen = set().union(*fired)
        return path + [f"rule:{rule.name}" for rule in self.rules if rule.name in seen]

    # ---------------------------------------------------------------- as data

    def to_spec(self) -> JSONDict:
        return {
            "kind": self.kind,
            "members": list(self.members),
            "rules": [rule.to_dict() for rule in self.rules],
            "fallback": self.fallback.to_dict() if self.fallback is not None else None,
        }

    @classmethod
    def from_spec(cls, spec: JSONDict, members: Mapping[str, Model], directory: Path) -> Guarded:
        if "model" not in members:
            raise ConfigError(f"guarded: expected a member 'model', got {list(members)}")
        data = {key: value for key, value in spec.items() if key not in ("kind", "members")}
        return cls.from_dict(data, members["model"], fallback_model=members.get("fallback"))

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], model: Model, *, fallback_model: Model | None = None
    ) -> Guarded:
        """Guard ``model`` with the rules and fallback of ``data`` (the YAML format above).

        Raises:
            ConfigError: an unknown key, a malformed rule or fallback.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"guardrails: expected a mapping, got {type(data).__name__}")
        unknown = sorted(set(data) - {"rules", "fallback"})
        if unknown:
            raise ConfigError(f"guardrails: unknown keys {unknown} (known: rules, fallback)")
        fallback = data.get("fallback")
        if fallback is None and fallback_model is not None:
            raise ConfigError("guardrails: fallback_model given, but no 'fallback' entry")
        return cls(
            model,
            rules_from_dicts(data.get("rules") or []),
            Fallback.from_dict(fallback, fallback_model) if fallback is not None else None,
        )

    @classmethod
    def from_yaml(
        cls, path: str | Path, model: Model, *, fallback_model: Model | None = None
    ) -> Guarded:
        """Guard ``model`` with the rules declared in the YAML file at ``path``.

        Example:
            >>> fraud = registry.model("fraud:3")  # doctest: +SKIP
            >>> Guarded.from_yaml("fraud/guardrails.yaml", fraud)  # doctest: +SKIP

        Raises:
            ConfigError: the file cannot be read or parsed, or holds a bad rule (the
                message starts with the file's path).
        """
        import yaml

        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
            return cls.from_dict(data, model, fallback_model=fallback_model)
        except (OSError, UnicodeDecodeError, yaml.YAMLError, ConfigError) as exc:
            raise ConfigError(f"guardrails file {path}: {exc}") from exc
