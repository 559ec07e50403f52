"""Request-time features: row transforms and request fields.

A transform is a plain Python function of one row's values, run by the very same call
in training frames (row by row) and in serving, so the two paths cannot disagree::

    FX_TO_EUR = {"EUR": 1.0, "USD": 0.92, "GBP": 1.17}

    @transform(version=1, inputs={"amount": "float64", "currency": "string"},
               outputs={"amount_eur": "float64"})
    def amount_eur(amount, currency):
        return amount * FX_TO_EUR[currency]

Its identity is ``amount_eur@1`` plus the hash of its code and of the constants it reads
(``FX_TO_EUR``): editing either without bumping the version is refused
(``FeatureVersionError``) wherever the definition is applied.

A ``Request`` field passes one value of the request through as a feature.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from roost.errors import ConfigError, FeatureError
from roost.features._source_hash import function_hash, function_source, spec_hash
from roost.features.entities import VALUE_DTYPES, check_name, columns_of
from roost.types import JSONDict, JSONValue

__all__ = ["Request", "Transform", "coerce", "is_missing", "transform"]


def is_missing(value: Any) -> bool:
    """None, or a NaN of any float type (Python, numpy), or pandas' NA or NaT."""
    if value is None:
        return True
    if isinstance(value, bool | int | str):
        return False
    try:
        return bool(value != value)  # NaN is the one value unequal to itself
    except TypeError:  # pandas.NA refuses to be a bool: it is missing
        return True


def coerce(value: Any, dtype: str, where: str) -> JSONValue:
    """One value as the plain Python type of ``dtype``; None stays None (a missing value).

    Both paths (training frames and serving) pass every feature value through here, so a
    numpy float and a Python float of the same value become the same feature.

    Raises:
        FeatureError: the value cannot be that type (naming ``where``).
    """
    if is_missing(value):
        return None
    try:
        if dtype == "float64":
            if isinstance(value, bool | str) or not math.isfinite(float(value)):
                raise TypeError  # an infinity is no feature value: say so where it arose
            return float(value)
        if dtype == "int64":
            number = int(value)
            if isinstance(value, bool | str) or number != value:
                raise TypeError
            return number
        if dtype == "bool":
            if hasattr(value, "dtype") and value.dtype.kind == "b":
                return bool(value)
            if not isinstance(value, bool):
                raise TypeError
            return value
        if not isinstance(value, str):
            raise TypeError
        return value
    except (TypeError, ValueError, OverflowError):
        raise FeatureError(f"{where}: expected a {dtype} value, got {value!r}") from None


@dataclass(frozen=True, slots=True)
class Transform:
    """A row transform: ``fn(**inputs)`` gives the outputs (see the module docstring).

    Args:
        fn: the function; its parameters are the input names.
        name: the definition's name (the function's name by default).
        version: bumped whenever the code or a constant it reads changes.
        inputs: each input and its dtype: a request field, or another feature's output.
        outputs: each output and its dtype. With one output, ``fn`` may return the value.
        description: what the feature means, for the catalog and the model card.
    """

    fn: Callable[..., Any]
    name: str
    version: int
    inputs: tuple[tuple[str, str], ...]
    outputs: tuple[tuple[str, str], ...]
    description: str | None = None
    _hash: str | None = field(init=False, default=None, compare=False, repr=False)

    kind = "transform"

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise ConfigError(f"transform {self.name!r}: expected a function, got {self.fn!r}")
        check_name("transform", self.name)
        _check_version(self.name, self.version)
        object.__setattr__(
            self,
            "inputs",
            columns_of(f"transform {self.name!r} inputs", dict(self.inputs), VALUE_DTYPES),
        )
        function_source(self.fn)  # unreadable source is refused now; its hash comes on first use
        object.__setattr__(
            self,
            "outputs",
            columns_of(f"transform {self.name!r} outputs", dict(self.outputs), VALUE_DTYPES),
        )

    @property
    def source_hash(self) -> str:
        """The hash of the code and of what it reads (computed on first use, see below)."""
        # not at decoration time: the helpers and constants the function reads may be
        # defined further down its module, and must be part of its hash
        hashed = self._hash
        if hashed is None:
            hashed = spec_hash({**self.to_spec(), "code": function_hash(self.fn)})
            object.__setattr__(self, "_hash", hashed)
        return hashed

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def source(self) -> str:
        return function_source(self.fn)

    def to_spec(self) -> JSONDict:
        return {
            "kind": self.kind,
            "name": self.name,
            "version": self.version,
            "inputs": [list(pair) for pair in self.inputs],
            "outputs": [list(pair) for pair in self.outputs],
        }

    def __call__(self, row: Mapping[str, Any]) -> dict[str, JSONValue]:
        """The outputs for one row holding (at least) the inputs.

        Raises:
            FeatureError: an input is missing, or the function failed or returned the
                wrong outputs (naming the transform).
        """
        arguments = {}
        for name, dtype in self.inputs:
            if name not in row:
                raise FeatureError(f"transform {self.ref}: input {name!r} is missing")
            arguments[name] = coerce(row[name], dtype, f"transform {self.ref} input {name!r}")
        try:
            result = self.fn(**arguments)
        except Exception as exc:  # user code: report which transform failed, on what
            raise FeatureError(
                f"transform {self.ref} failed on {arguments}: {type(exc).__name__}: {exc}"
            ) from exc
        if len(self.outputs) == 1 and not isinstance(result, Mapping):
            result = {self.outputs[0][0]: result}
        if not isinstance(result, Mapping) or set(result) != {n for n, _ in self.outputs}:
            expected = [n for n, _ in self.outputs]
            raise FeatureError(f"transform {self.ref}: expected outputs {expected}, got {result!r}")
        return {
            name: coerce(result[name], dtype, f"transform {self.ref} output {name!r}")
            for name, dtype in self.outputs
        }


def transform(
    *,
    version: int,
    inputs: Mapping[str, str],
    outputs: Mapping[str, str],
    name: str | None = None,
    description: str | None = None,
) -> Callable[[Callable[..., Any]], Transform]:
    """Declare a function as a row transform (see the module docstring).

    Example:
        >>> @transform(version=1, inputs={"x": "float64"}, outputs={"double": "float64"})
        ... def double(x):
        ...     return 2 * x
        >>> double({"x": 1.5})
        {'double': 3.0}
    """

    def declare(fn: Callable[..., Any]) -> Transform:
        return Transform(
            fn,
            name or fn.__name__,
            version,
            tuple(inputs.items()),
            tuple(outputs.items()),
            description or (fn.__doc__ or "").strip() or None,
        )

    return declare


@dataclass(frozen=True, slots=True)
class Request:
    """A request field used as a feature as it is (``Request("hour", "int64")``).

    Args:
        name: the field's name, in the request and in the feature vector.
        dtype: its type.
        version: bumped if its meaning changes.
        description: what it means, for the catalog and the model card.
    """

    name: str
    dtype: str
    version: int = 1
    description: str | None = None
    source_hash: str = field(init=False, compare=False)

    kind = "request"

    def __post_init__(self) -> None:
        check_name("request field", self.name)
        _check_version(self.name, self.version)
        if self.dtype not in VALUE_DTYPES:
            raise ConfigError(
                f"request field {self.name!r}: dtype must be one of {', '.join(VALUE_DTYPES)}, "
                f"got {self.dtype!r}"
            )
        object.__setattr__(self, "source_hash", spec_hash(self.to_spec()))

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def inputs(self) -> tuple[tuple[str, str], ...]:
        return ((self.name, self.dtype),)

    @property
    def outputs(self) -> tuple[tuple[str, str], ...]:
        return ((self.name, self.dtype),)

    @property
    def source(self) -> str:
        return f"Request({self.name!r}, {self.dtype!r}, version={self.version})"

    def to_spec(self) -> JSONDict:
        return {"kind": self.kind, "name": self.name, "version": self.version, "dtype": self.dtype}

    def __call__(self, row: Mapping[str, Any]) -> dict[str, JSONValue]:
        if self.name not in row:
            raise FeatureError(f"request field {self.name!r} is missing")
        return {self.name: coerce(row[self.name], self.dtype, f"request field {self.name!r}")}


def _check_version(name: str, version: object) -> None:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ConfigError(f"{name!r}: version must be a whole number >= 1, got {version!r}")
