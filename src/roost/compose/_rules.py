"""The guardrail rules, as data: clamps, allowed ranges, deny-lists and overrides.

Each rule is a frozen value object that checks its own arguments when it is made, turns
into a JSON/YAML-safe dict (``to_dict``) and back (``from_dict``), and is checked against
a model's signature when the ``Guarded`` composite holding it loads (``check``).
``roost.compose.guardrails`` applies them.
"""

from __future__ import annotations

import json
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from roost.compose._condition import Condition
from roost.compose._expression import compile_condition
from roost.errors import ConfigError
from roost.model import ColumnSpec, OutputSpec

__all__ = [
    "AllowedRange",
    "Clamp",
    "DenyList",
    "Override",
    "Rule",
    "check_value",
    "kind_of",
    "rule_from_dict",
    "rules_from_dicts",
]

_RULE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,62}$")

Inputs = Mapping[str, ColumnSpec]
Outputs = Mapping[str, OutputSpec]


def kind_of(dtype: str, shape: tuple[int, ...] = (-1,)) -> str:
    """What a column or output holds, in the words of conditions (``_expression.KINDS``)."""
    if len(shape) > 1:
        return "list"
    if dtype in ("bool", "string"):
        return dtype
    return "number" if dtype.startswith(("int", "uint", "float")) else "any"


def _fits(dtype: str) -> Callable[[Any], bool]:
    """Whether one value fits a column or output of ``dtype`` (a bool is not a number)."""
    kind = kind_of(dtype)
    if kind == "any":
        return lambda v: True
    if kind != "number":
        return lambda v: isinstance(v, str if kind == "string" else bool)
    whole = dtype.startswith(("int", "uint"))
    return lambda v: isinstance(v, int if whole else int | float) and not isinstance(v, bool)


def check_value(where: str, spec: OutputSpec, value: Any) -> None:
    """Refuse a value that ``spec``'s output cannot hold; None (no answer) always fits.

    Raises:
        ConfigError: naming ``where``, the output, what it holds and the value.
    """
    fits = _fits(spec.dtype)
    if kind_of(spec.dtype, spec.shape) == "list":
        width = spec.shape[1]
        ok = isinstance(value, list) and width in (-1, len(value))
        ok = ok and all(v is None or fits(v) for v in value)
        expected = f"a list of {'' if width == -1 else f'{width} '}{spec.dtype} values"
    else:
        ok, expected = fits(value), f"a {spec.dtype} value"
    if value is not None and not ok:
        raise ConfigError(f"{where}: output {spec.name!r} holds {expected}, got {value!r}")


class Rule(ABC):
    """What every rule shares: a ``name``, a ``kind``, the dict form and the checks."""

    __slots__ = ()
    kind: ClassVar[str]
    name: str

    @abstractmethod
    def check(self, inputs: Inputs, outputs: Outputs) -> str | Condition:
        """Check the rule against a model: ``"input"`` or ``"output"`` (where it applies),
        or, for an override, its compiled condition.

        Raises:
            ConfigError: naming the rule and the field or value that does not fit.
        """

    def to_dict(self) -> dict[str, Any]:
        """The rule as JSON/YAML-safe data; ``from_dict`` gives back an equal rule."""
        data: dict[str, Any] = {"kind": self.kind}
        for spec in fields(self):  # type: ignore[arg-type]
            value = getattr(self, spec.name)
            if isinstance(value, tuple | Mapping):  # copies, so the rule stays frozen
                value = list(value) if isinstance(value, tuple) else dict(value)
            if value is not None:
                data[spec.name] = value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rule:
        """A rule from ``to_dict``'s data (as read from JSON or YAML).

        Raises:
            ConfigError: another kind of rule, an unknown or missing key, a bad value.
        """
        rule = rule_from_dict(data)
        if not isinstance(rule, cls):
            raise ConfigError(f"{cls.kind} rule: got the data of a {rule.kind} rule")
        return rule

    # ------------------------------------------------------------ checks for subclasses

    def _fail(self, problem: str) -> ConfigError:
        return ConfigError(f"rule {self.name!r} ({self.kind}): {problem}")

    def _check_name(self, default: str | None) -> None:
        """Check the name; an empty one becomes ``default`` when the kind has one."""
        if self.name == "" and default is not None:
            object.__setattr__(self, "name", re.sub(r"[^A-Za-z0-9_.-]", "_", default)[:63])
        if not isinstance(self.name, str) or not _RULE_NAME.match(self.name):
            raise ConfigError(
                f"{self.kind} rule name {self.name!r}: expected a letter then letters, digits, "
                "'_', '.' or '-' (at most 63 characters)"
            )
        if self.name == "fallback":
            raise ConfigError(f"{self.kind} rule name 'fallback': reserved for the fallback")

    def _check_bounds(self, target: Any, low: Any, high: Any) -> None:
        if not isinstance(target, str) or not target:
            raise self._fail(f"expected the name of a field, got {target!r}")
        for which, bound in (("min", low), ("max", high)):
            if bound is not None and (not _fits("float64")(bound) or math.isnan(bound)):
                raise self._fail(f"{which} must be a number or None, got {bound!r}")
        if low is None and high is None:
            raise self._fail("give min, max or both")
        if low is not None and high is not None and low > high:
            raise self._fail(f"min ({low}) is above max ({high})")

    def _check_action(self, action: Any) -> None:
        if action not in ("fallback", "reject"):
            raise self._fail(f"action must be 'fallback' or 'reject', got {action!r}")

    def _locate(self, name: str, inputs: Inputs, outputs: Outputs, kinds: Sequence[str]) -> str:
        """``"input"`` or ``"output"`` (an input when both), if ``name`` holds one of ``kinds``."""
        if name not in inputs and name not in outputs:
            raise self._fail(
                f"{name!r} is neither an input nor an output of the model "
                f"(inputs: {', '.join(inputs) or 'none by name'}; outputs: {', '.join(outputs)})"
            )
        spec: ColumnSpec | OutputSpec = inputs[name] if name in inputs else outputs[name]
        if kind_of(spec.dtype, getattr(spec, "shape", (-1,))) not in kinds:
            raise self._fail(f"{name!r} is {spec.dtype}; this rule needs {' or '.join(kinds)}")
        return "input" if name in inputs else "output"


@dataclass(frozen=True, slots=True)
class Clamp(Rule):
    """Clip a numeric output into ``[min, max]``; fires for the rows that were clipped.

    Example:
        >>> Clamp("prediction", min=0, max=100)
        Clamp(output='prediction', min=0, max=100, name='clamp_prediction')
    """

    output: str
    min: float | None = None
    max: float | None = None
    name: str = ""
    kind: ClassVar[str] = "clamp"

    def __post_init__(self) -> None:
        self._check_name(f"clamp_{self.output}")
        self._check_bounds(self.output, self.min, self.max)

    def check(self, inputs: Inputs, outputs: Outputs) -> str:
        if self.output not in outputs:
            raise self._fail(f"{self.output!r} is not an output (outputs: {', '.join(outputs)})")
        self._locate(self.output, {}, outputs, ("number",))
        dtype = outputs[self.output].dtype
        if not all(b is None or _fits(dtype)(b) for b in (self.min, self.max)):
            raise self._fail(f"output {self.output!r} is {dtype}; min and max must be whole")
        return "output"

    def apply(self, values: list[Any], dtype: str) -> tuple[list[Any], Any]:
        """The clipped values of an output of ``dtype``, and a bool array of the rows clipped."""
        import numpy as np

        array = np.asarray(values, dtype=float)  # None becomes NaN, which is never clipped
        clipped = np.clip(array, self.min, self.max)
        changed = ~np.isnan(array) & (clipped != array)
        out, whole = list(values), dtype.startswith(("int", "uint"))
        for i in np.flatnonzero(changed):
            out[i] = int(clipped[i]) if whole else float(clipped[i])
        return out, changed


@dataclass(frozen=True, slots=True)
class AllowedRange(Rule):
    """Rows whose ``field`` (an input, or a numeric output) is outside ``[min, max]`` fire.

    ``action="fallback"`` answers them from the fallback; ``"reject"`` refuses the
    request. A missing value is not outside the range.

    Example:
        >>> AllowedRange("amount", min=0, action="reject").name
        'range_amount'
    """

    field: str
    min: float | None = None
    max: float | None = None
    action: str = "fallback"
    name: str = ""
    kind: ClassVar[str] = "allowed_range"

    def __post_init__(self) -> None:
        self._check_name(f"range_{self.field}")
        self._check_bounds(self.field, self.min, self.max)
        self._check_action(self.action)

    def check(self, inputs: Inputs, outputs: Outputs) -> str:
        return self._locate(self.field, inputs, outputs, ("number",))

    def violations(self, values: list[Any]) -> Any:
        import numpy as np

        array = np.asarray([np.nan if v is None else v for v in values], dtype=float)
        low = -np.inf if self.min is None else self.min
        high = np.inf if self.max is None else self.max
        return (array < low) | (array > high)  # NaN compares False: missing is not outside

    def explain(self, value: Any) -> str:
        bounds = [f">= {self.min}"] if self.min is not None else []
        bounds += [f"<= {self.max}"] if self.max is not None else []
        return f"expected {' and '.join(bounds)}, got {value!r}"


@dataclass(frozen=True, slots=True)
class DenyList(Rule):
    """Rows whose ``field`` (an input or an output: a label, a merchant id) is listed fire.

    Example:
        >>> DenyList("merchant", ["m-13", "m-666"], action="reject").values
        ('m-13', 'm-666')
    """

    field: str
    values: Sequence[Any]
    action: str = "fallback"
    name: str = ""
    kind: ClassVar[str] = "deny_list"

    def __post_init__(self) -> None:
        self._check_name(f"deny_{self.field}")
        self._check_action(self.action)
        if not isinstance(self.field, str) or not self.field:
            raise self._fail(f"expected the name of a field, got {self.field!r}")
        if isinstance(self.values, str | bytes) or not isinstance(self.values, Iterable):
            raise self._fail(f"values must be a list, got {self.values!r}")
        object.__setattr__(self, "values", tuple(self.values))
        bad = [v for v in self.values if not isinstance(v, str | int | float) or v != v]
        if not self.values or bad:
            raise self._fail(f"values must be strings, numbers or booleans, got {bad or '[]'}")

    def check(self, inputs: Inputs, outputs: Outputs) -> str:
        where = self._locate(self.field, inputs, outputs, ("number", "string", "bool", "any"))
        dtype = (inputs[self.field] if where == "input" else outputs[self.field]).dtype
        wrong = [v for v in self.values if not _fits(dtype)(v)]
        if wrong:
            raise self._fail(f"{self.field!r} is {dtype} but values hold {wrong}")
        return where

    def violations(self, values: list[Any]) -> Any:
        import pandas as pd

        series = pd.Series(values, dtype=object)
        return (series.isin(self.values) & series.notna()).to_numpy(dtype=bool)

    def explain(self, value: Any) -> str:
        return f"{value!r} is on the deny list"


@dataclass(frozen=True, slots=True)
class Override(Rule):
    """Where ``when`` holds, replace outputs with fixed values: a business rule.

    ``when`` is a condition over inputs and outputs (see ``compile_condition``); each
    value in ``set`` must fit its output (a string for a label, a number for a score).

    Example:
        >>> Override(when="amount > 10000", set={"decision": "needs_review"},
        ...          name="large_amount_review").name
        'large_amount_review'
    """

    when: str
    set: Mapping[str, Any] = field(hash=False)
    name: str
    kind: ClassVar[str] = "override"

    def __post_init__(self) -> None:
        self._check_name(None)
        compile_condition(self.when, None, rule=self.name)  # the syntax, before any model
        if not isinstance(self.set, Mapping) or not self.set:
            raise self._fail(f"set must map outputs to values, got {self.set!r}")
        object.__setattr__(self, "set", dict(self.set))
        try:
            json.dumps(self.set, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise self._fail(f"set must hold JSON values ({exc})") from exc

    def check(self, inputs: Inputs, outputs: Outputs) -> Condition:
        for output, value in self.set.items():
            if output not in outputs:
                raise self._fail(f"{output!r} is not an output (outputs: {', '.join(outputs)})")
            check_value(f"rule {self.name!r} (override)", outputs[output], value)
        kinds = {name: kind_of(spec.dtype) for name, spec in inputs.items()}
        for name, out in outputs.items():
            kinds.setdefault(name, kind_of(out.dtype, out.shape))  # an input wins a tie
        return compile_condition(self.when, kinds, rule=self.name)


_KINDS: dict[str, type[Rule]] = {cls.kind: cls for cls in (Clamp, AllowedRange, DenyList, Override)}


def rule_from_dict(data: Mapping[str, Any]) -> Rule:
    """A rule of any kind from its dict form (``{"kind": "clamp", "output": ...}``).

    Raises:
        ConfigError: not a mapping, an unknown kind or key, a missing key, a bad value.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"rule: expected a mapping with a 'kind', got {data!r}")
    label = f"rule {data['name']!r}" if data.get("name") else "rule"
    cls = _KINDS.get(str(data.get("kind")))
    if cls is None:
        raise ConfigError(
            f"{label}: kind must be one of {', '.join(_KINDS)}, got {data.get('kind')!r}"
        )
    known = [spec.name for spec in fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(data) - {*known, "kind"})
    if unknown:
        raise ConfigError(f"{label} ({cls.kind}): unknown keys {unknown} (known: {known})")
    try:
        return cls(**{key: value for key, value in data.items() if key != "kind"})
    except TypeError as exc:  # a required key is missing
        raise ConfigError(f"{label} ({cls.kind}): {exc}") from exc


def rules_from_dicts(items: Iterable[Mapping[str, Any]]) -> list[Rule]:
    """Rules from a list of dicts, as read from a YAML or JSON file.

    Example:
        >>> rules_from_dicts([{"kind": "clamp", "output": "prediction", "min": 0}])
        [Clamp(output='prediction', min=0, max=None, name='clamp_prediction')]
    """
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable):
        raise ConfigError(f"rules: expected a list of rules, got {type(items).__name__}")
    return [rule_from_dict(item) for item in items]
