"""Model-dependent encoders: fitted on the training frame, applied unchanged online.

Some feature transformations depend on data: a scaler needs the mean, a vocabulary the
categories seen. They are fitted once, on the training frame only, and their state (plain
JSON) is saved in the model package; serving then applies that state and never refits.
One encoder transforms one feature column in place: same name, possibly another dtype.

``encode`` is a pure function of ``(value, state)``: the very same call runs in training
frames and in serving, so the two paths cannot disagree. A missing value (None, NaN, pandas' NA)
gets a fixed encoding instead of an error: ``0.0`` (the mean) for ``StandardScaler``,
``0`` for ``Vocabulary``, ``-1`` for ``QuantileBins``. Fitting on a column without a
single present value is refused (``FeatureError``): it would encode nothing.

``to_spec`` gives an encoder's settings (it is what the definition's hash covers) and
``encoder_from_spec`` rebuilds the encoder from it.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from roost.errors import ConfigError, FeatureError
from roost.features.entities import check_name
from roost.types import JSONDict, JSONValue

__all__ = [
    "ENCODER_KINDS",
    "Encoder",
    "QuantileBins",
    "StandardScaler",
    "Vocabulary",
    "encoder_from_spec",
]


@runtime_checkable
class Encoder(Protocol):
    """A fitted, data-dependent transformation of one feature column (module docstring).

    ``column`` is the feature column it encodes (and replaces); ``kind`` is
    ``standard_scaler``, ``vocabulary`` or ``quantile_bins``; ``to_spec`` gives
    ``{"kind": …, "column": …, <settings>}``; ``fit`` learns a JSON-safe state from the
    training column's values; ``encode`` encodes one value with that state;
    ``output_dtype`` is the encoded values' dtype (``float64`` or ``int64``).
    """

    @property
    def column(self) -> str: ...
    @property
    def kind(self) -> str: ...
    def to_spec(self) -> JSONDict: ...
    def fit(self, values: Collection[Any]) -> JSONDict: ...
    def encode(self, value: Any, state: JSONDict) -> JSONValue: ...
    def output_dtype(self) -> str: ...


@dataclass(frozen=True, slots=True)
class StandardScaler:
    """Centre and scale a numeric column: ``(value - mean) / std``.

    The state is ``{"mean": …, "std": …}`` with the population standard deviation; a
    constant column gets ``std`` 1.0 (every value encodes to 0.0). A missing value
    encodes to 0.0, as if it were the mean.

    Args:
        column: the numeric feature column.

    Example:
        >>> scaler = StandardScaler("amount")
        >>> state = scaler.fit([1.0, 3.0, None])
        >>> state
        {'mean': 2.0, 'std': 1.0}
        >>> [scaler.encode(v, state) for v in (3.0, None)]
        [1.0, 0.0]
    """

    column: str

    kind = "standard_scaler"

    def __post_init__(self) -> None:
        check_name(f"{self.kind} encoder column", self.column)

    def to_spec(self) -> JSONDict:
        return {"kind": self.kind, "column": self.column}

    def output_dtype(self) -> str:
        return "float64"

    def fit(self, values: Collection[Any]) -> JSONDict:
        """The mean and population standard deviation of the present values.

        Raises:
            FeatureError: a value is not a finite number, or no value is present.
        """
        numbers = _present_numbers(self, values)
        low, high = min(numbers), max(numbers)
        if low == high:  # exactly constant: no rounding may turn it into a tiny std
            return {"mean": low, "std": 1.0}
        mean = math.fsum(numbers) / len(numbers)
        std = math.sqrt(math.fsum((x - mean) ** 2 for x in numbers) / len(numbers))
        return {"mean": mean, "std": std if std > 0.0 else 1.0}

    def encode(self, value: Any, state: JSONDict) -> JSONValue:
        """``(value - mean) / std``; 0.0 for a missing value.

        Raises:
            FeatureError: the value is not a finite number, or the state is not a
                standard scaler's.
        """
        number = _number(value, _label(self))
        mean, std = _state_item(self, state, "mean", float), _state_item(self, state, "std", float)
        return 0.0 if number is None else (number - mean) / std


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Map categories to integers: ``1`` for the most frequent, ``0`` for unknown.

    The state is ``{"tokens": [...]}``: the categories seen in training, most frequent
    first (ties by value), at most ``max_size`` of them, each seen at least ``min_count``
    times. A value encodes to its position in that list plus one; a value not in it, or a
    missing value, encodes to 0. Values are compared as text (``str(value)``, the same in
    fit and encode), so ``1`` and ``"1"`` are one category but ``1`` and ``1.0`` are not.

    Args:
        column: the feature column (any dtype; usually ``string``).
        max_size: keep at most this many categories (all when None).
        min_count: drop categories seen fewer times than this.

    Example:
        >>> vocabulary = Vocabulary("currency")
        >>> state = vocabulary.fit(["EUR", "USD", "EUR", "GBP"])
        >>> state
        {'tokens': ['EUR', 'GBP', 'USD']}
        >>> [vocabulary.encode(v, state) for v in ("EUR", "USD", "JPY", None)]
        [1, 3, 0, 0]
    """

    column: str
    max_size: int | None = None
    min_count: int = 1
    # the last state's token -> position table, so that encoding a column is not quadratic;
    # keyed on the tokens list's identity: a state is never edited in place after fit or load
    _index: list[tuple[list[str], dict[str, int]]] = field(
        default_factory=list, init=False, repr=False, compare=False
    )

    kind = "vocabulary"

    def __post_init__(self) -> None:
        check_name(f"{self.kind} encoder column", self.column)
        if self.max_size is not None:
            _check_count(self, "max_size", self.max_size, minimum=1)
        _check_count(self, "min_count", self.min_count, minimum=1)

    def to_spec(self) -> JSONDict:
        return {
            "kind": self.kind,
            "column": self.column,
            "max_size": self.max_size,
            "min_count": self.min_count,
        }

    def output_dtype(self) -> str:
        return "int64"

    def fit(self, values: Collection[Any]) -> JSONDict:
        """The categories kept, most frequent first (ties in text order).

        Raises:
            FeatureError: no value is present.
        """
        counts = Counter(_token(value) for value in values if not _is_missing(value))
        if not counts:
            raise _nothing_to_fit(self, values)
        ranked = sorted(
            (token for token, count in counts.items() if count >= self.min_count),
            key=lambda token: (-counts[token], token),
        )
        return {"tokens": ranked[: self.max_size]}

    def encode(self, value: Any, state: JSONDict) -> JSONValue:
        """The category's position in the vocabulary plus one; 0 if unknown or missing.

        Raises:
            FeatureError: the state is not a vocabulary's.
        """
        index = self._index_of(state)
        if _is_missing(value):
            return 0
        return index.get(_token(value), 0)

    def _index_of(self, state: JSONDict) -> dict[str, int]:
        tokens = _state_item(self, state, "tokens", list)
        cached = self._index[0] if self._index else None
        if cached is not None and cached[0] is tokens and len(cached[1]) == len(tokens):
            return cached[1]
        index = {str(token): position for position, token in enumerate(tokens, start=1)}
        self._index[:] = [(tokens, index)]
        return index


@dataclass(frozen=True, slots=True)
class QuantileBins:
    """Bucket a numeric column by the training data's quantiles: ``0 … bins - 1``.

    The state is ``{"edges": [...]}``: the ``bins - 1`` interior quantiles of the present
    training values (linear interpolation, as numpy's default), with duplicates removed,
    so a column with few distinct values gets fewer bins. A value encodes to the number
    of edges at or below it (``numpy.searchsorted(edges, value, side="right")``, computed
    with ``bisect`` so that no numpy version can change it); a missing value to -1.

    Args:
        column: the numeric feature column.
        bins: how many bins to aim for (at least 2).

    Example:
        >>> binner = QuantileBins("amount", bins=4)
        >>> state = binner.fit([1.0, 2.0, 3.0, 4.0, 5.0])
        >>> state
        {'edges': [2.0, 3.0, 4.0]}
        >>> [binner.encode(v, state) for v in (0.5, 2.0, 3.5, 9.0, None)]
        [0, 1, 2, 3, -1]
    """

    column: str
    bins: int = 5

    kind = "quantile_bins"

    def __post_init__(self) -> None:
        check_name(f"{self.kind} encoder column", self.column)
        _check_count(self, "bins", self.bins, minimum=2)

    def to_spec(self) -> JSONDict:
        return {"kind": self.kind, "column": self.column, "bins": self.bins}

    def output_dtype(self) -> str:
        return "int64"

    def fit(self, values: Collection[Any]) -> JSONDict:
        """The distinct interior quantiles of the present values, ascending.

        Raises:
            FeatureError: a value is not a finite number, or no value is present.
        """
        ordered = sorted(_present_numbers(self, values))
        last = len(ordered) - 1
        edges: list[float] = []
        for i in range(1, self.bins):
            position = last * i / self.bins
            below = math.floor(position)
            low, high, fraction = ordered[below], ordered[min(below + 1, last)], position - below
            # numpy's lerp: anchored on the nearer end, so an edge never leaves [low, high]
            if fraction < 0.5:
                edge = low + (high - low) * fraction
            else:
                edge = high - (high - low) * (1.0 - fraction)
            if not edges or edge > edges[-1]:
                edges.append(edge)
        return {"edges": edges}

    def encode(self, value: Any, state: JSONDict) -> JSONValue:
        """How many edges are at or below the value; -1 for a missing value.

        Raises:
            FeatureError: the value is not a finite number, or the state is not
                quantile bins'.
        """
        number = _number(value, _label(self))
        edges = _state_item(self, state, "edges", list)
        return -1 if number is None else bisect_right(edges, number)


#: every encoder, by its ``kind``
ENCODER_KINDS: dict[str, type[StandardScaler] | type[Vocabulary] | type[QuantileBins]] = {
    "standard_scaler": StandardScaler,
    "vocabulary": Vocabulary,
    "quantile_bins": QuantileBins,
}


def encoder_from_spec(spec: JSONDict) -> Encoder:
    """Rebuild an encoder from its ``to_spec()``.

    Args:
        spec: ``{"kind": …, "column": …, <settings>}``.

    Returns:
        The encoder; ``encoder_from_spec(e.to_spec()) == e``.

    Raises:
        ConfigError: the spec is not a mapping, names an unknown kind, or has settings
            that encoder does not take or accept.

    Example:
        >>> encoder_from_spec({"kind": "quantile_bins", "column": "amount", "bins": 4})
        QuantileBins(column='amount', bins=4)
    """
    if not isinstance(spec, dict):
        raise ConfigError(f"encoder spec: expected a mapping with a 'kind', got {_brief(spec)}")
    settings = dict(spec)
    kind = settings.pop("kind", None)
    cls = ENCODER_KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ConfigError(f"encoder kind must be one of {', '.join(ENCODER_KINDS)}, got {kind!r}")
    accepted = set(cls.__dataclass_fields__) - {"_index"}
    unknown = sorted(set(settings) - accepted)
    if unknown or "column" not in settings:
        problem = f"unknown settings {unknown}" if unknown else "no 'column'"
        raise ConfigError(
            f"{kind} encoder spec: expected settings {sorted(accepted)}, got {problem}"
        )
    return cls(**settings)


def _label(encoder: Encoder) -> str:
    return f"{encoder.kind} encoder of {encoder.column!r}"


def _brief(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "…"


def _check_count(encoder: Encoder, setting: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(
            f"{_label(encoder)}: {setting} must be a whole number >= {minimum}, got {value!r}"
        )


def _is_missing(value: Any) -> bool:
    """None, a float NaN (Python or numpy), pandas' NA or NaT: how rows spell "no value"."""
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return True
    return (isinstance(value, float) or _dtype_kind(value) == "f") and math.isnan(value)


def _dtype_kind(value: Any) -> str:
    """numpy's kind letter for a numpy scalar (``f`` float, ``b`` bool), else ``""``."""
    return str(getattr(getattr(value, "dtype", None), "kind", ""))


def _token(value: Any) -> str:
    """A category as text; numpy scalars print as their Python twins (``np.int64(1)`` → 1)."""
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():
        value = item()
    return str(value)


def _number(value: Any, where: str) -> float | None:
    """A finite number as a float, or None when missing; FeatureError naming ``where``."""
    if _is_missing(value):
        return None
    if isinstance(value, bool | str | bytes) or _dtype_kind(value) == "b":
        raise FeatureError(f"{where}: expected a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise FeatureError(f"{where}: expected a number, got {value!r}") from None
    if not math.isfinite(number):
        raise FeatureError(f"{where}: expected a finite number, got {value!r}")
    return number


def _present_numbers(encoder: Encoder, values: Collection[Any]) -> list[float]:
    numbers = []
    for row, value in enumerate(values):
        number = _number(value, f"{_label(encoder)} (value {row})")
        if number is not None:
            numbers.append(number)
    if not numbers:
        raise _nothing_to_fit(encoder, values)
    return numbers


def _nothing_to_fit(encoder: Encoder, values: Collection[Any]) -> FeatureError:
    got = f"{len(values)} missing values" if len(values) else "no values"
    return FeatureError(f"{_label(encoder)}: expected a present value to fit on, got {got}")


def _state_item(encoder: Encoder, state: JSONDict, name: str, kind: type[Any]) -> Any:
    """``state[name]`` if it is a ``kind`` (float: any number), else FeatureError."""
    value = state.get(name) if isinstance(state, dict) else None
    expected = (int, float) if kind is float else kind
    if isinstance(value, bool) or not isinstance(value, expected):
        raise FeatureError(
            f"{_label(encoder)}: expected a state with {name!r} ({kind.__name__}), "
            f"got {_brief(state)}"
        )
    return value
