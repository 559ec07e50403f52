"""Cascade: a cheap model answers the rows it is sure of, an expensive one the rest.

The fast member runs on the whole batch. A row whose confidence (the largest of the
fast member's ``probabilities``) is at least ``threshold`` keeps the fast answer; only
the other rows go, as one smaller batch, to the slow member. The ``phase`` output says
which member answered each row.

``threshold=0`` lets the fast member answer every row; ``threshold=math.inf``
(:data:`ALWAYS_SLOW`) sends every row to the slow member, though the fast one still
runs. :func:`roost.compose.calibrate.calibrate` picks the threshold from validation data.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from roost.compose._base import (
    Composite,
    member_outputs,
    merged_inputs,
    route_output,
    take_rows,
)
from roost.errors import ConfigError
from roost.model import Model, OutputSpec, Signature
from roost.types import JSONDict

__all__ = ["ALWAYS_SLOW", "PHASE", "Cascade", "check_threshold", "confidences"]

#: the threshold no confidence reaches: every row is answered by the slow member.
ALWAYS_SLOW = math.inf
#: the route output naming the member that answered each row.
PHASE = "phase"
#: the output whose largest entry per row is the fast member's confidence.
_PROBABILITIES = "probabilities"
_FLOATS = ("float16", "float32", "float64")


def check_threshold(threshold: object, what: str = "threshold") -> float:
    """A threshold is a number in [0, 1], or ``math.inf`` for "always slow".

    Numbers above 1 other than infinity are refused: ``90`` is more likely a
    percentage typed by mistake than a wish to never use the fast member.

    Raises:
        ConfigError: naming ``what`` and the value received.
    """
    is_number = isinstance(threshold, numbers.Real) and not isinstance(threshold, bool)
    if is_number and (0 <= threshold <= 1 or threshold == math.inf):  # type: ignore[operator]
        return float(threshold)  # type: ignore[arg-type]
    raise ConfigError(
        f"cascade {what}: expected a number in [0, 1] (or math.inf: always slow), got {threshold!r}"
    )


def confidences(probabilities: Any) -> Any:
    """The confidence of each row: its largest class probability, as a float64 array."""
    import numpy as np

    values = np.asarray(probabilities, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] == 0:
        raise ConfigError(
            f"cascade: expected one list of class probabilities per row, got an array of "
            f"shape {values.shape}"
        )
    return values.max(axis=1)


class Cascade(Composite):
    """Answer with ``fast`` where it is confident, and with ``slow`` elsewhere.

    Both members must give the same outputs with the same class labels, and ``fast``
    must have a ``probabilities`` output (a classifier). The cascade's outputs are the
    members' outputs plus ``phase``: the name of the member that answered the row.

    Args:
        fast: the cheap model; it runs on every row.
        slow: the expensive model; it runs only on the rows ``fast`` is not sure of.
        threshold: the confidence at or above which ``fast`` answers, in [0, 1], or
            ``math.inf`` to always answer with ``slow``.
        names: the members' names, as ``phase`` and packages show them.

    Raises:
        ConfigError: a threshold outside [0, 1], equal or invalid names.

    Example:
        >>> cascade = Cascade(registry.model("lr:1"), registry.model("gbm:4"), threshold=0.85)
        >>> cascade.load()  # doctest: +SKIP
        >>> cascade.predict(rows)  # doctest: +SKIP
        [{'label': 1, 'probabilities': [0.08, 0.92], 'phase': 'fast'}, ...]
    """

    kind = "cascade"

    def __init__(
        self,
        fast: Model,
        slow: Model,
        *,
        threshold: float = 0.9,
        names: tuple[str, str] = ("fast", "slow"),
    ) -> None:
        if not isinstance(names, tuple | list) or len(names) != 2 or names[0] == names[1]:
            raise ConfigError(f"cascade names: expected two different member names, got {names!r}")
        super().__init__({names[0]: fast, names[1]: slow})
        self.threshold = check_threshold(threshold)
        self.names: tuple[str, str] = (names[0], names[1])

    @property
    def fast(self) -> Model:
        return self.members[self.names[0]]

    @property
    def slow(self) -> Model:
        return self.members[self.names[1]]

    def with_threshold(self, threshold: float) -> Cascade:
        """A new cascade with the same members (shared, not copied) and ``threshold``."""
        return Cascade(self.fast, self.slow, threshold=threshold, names=self.names)

    # ------------------------------------------------------------ the composite

    def _build_signature(self) -> Signature:
        fast_name, slow_name = self.names
        fast_specs = {spec.name: spec for spec in self.fast.signature.outputs}
        slow_specs = {spec.name: spec for spec in self.slow.signature.outputs}
        if _PROBABILITIES not in fast_specs:
            raise ConfigError(
                f"cascade member {fast_name!r}: expected a classifier with a "
                f"{_PROBABILITIES!r} output (its confidence decides who answers), got "
                f"outputs {list(fast_specs)}"
            )
        if set(fast_specs) != set(slow_specs):
            raise ConfigError(
                f"cascade members {fast_name!r} and {slow_name!r}: expected the same outputs, "
                f"got {list(fast_specs)} and {list(slow_specs)}"
            )
        if PHASE in fast_specs:
            raise ConfigError(
                f"cascade: member output {PHASE!r} clashes with the route output that names "
                "the member that answered"
            )
        outputs = [self._merged_output(fast_specs[n], slow_specs[n]) for n in fast_specs]
        phase = route_output(
            PHASE, f"the member that answered the row: {fast_name!r} or {slow_name!r}"
        )
        return Signature(inputs=merged_inputs(self.kind, self.members), outputs=(*outputs, phase))

    def _merged_output(self, fast: OutputSpec, slow: OutputSpec) -> OutputSpec:
        """One output both members give; refused when their rows would not mean the same."""
        fast_name, slow_name = self.names

        def differ(what: str, a: object, b: object) -> ConfigError:
            return ConfigError(
                f"cascade output {fast.name!r}: {what} {a!r} for member {fast_name!r} but "
                f"{b!r} for member {slow_name!r}"
            )

        if fast.labels != slow.labels:  # probability positions would mean other classes
            raise differ("class labels are", fast.labels, slow.labels)
        if fast.shape != slow.shape:
            raise differ("shape is", fast.shape, slow.shape)
        if fast.dtype == slow.dtype:
            return fast
        if fast.dtype in _FLOATS and slow.dtype in _FLOATS:
            # an ONNX float32 member beside a float64 one: rows mix, so say the wider type
            return OutputSpec(fast.name, "float64", fast.shape, fast.labels, fast.description)
        raise differ("dtype is", fast.dtype, slow.dtype)

    def predict_outputs(self, frame: Any) -> dict[str, Any]:
        import numpy as np

        fast_name, slow_name = self.names
        outputs = member_outputs(self.fast, frame)
        is_sure = confidences(outputs[_PROBABILITIES]) >= self.threshold
        unsure = np.flatnonzero(~is_sure)
        if unsure.size:
            # only the rows fast is unsure of reach slow: that is the saving
            rest = member_outputs(self.slow, take_rows(frame, unsure))
            for name, values in outputs.items():
                for position, value in zip(unsure.tolist(), rest[name], strict=True):
                    values[position] = value
        outputs[PHASE] = [fast_name if sure else slow_name for sure in is_sure.tolist()]
        return outputs

    def path_of(self, outputs: list[Any]) -> list[str]:
        """The members that answered at least one row, fast first.

        The fast member runs on every request, but it is in the path only when it
        answered a row: a path of just the slow member means fast ran and was unsure of
        every row. Its cost is implied, as it always runs.
        """
        answered = {row.get(PHASE) for row in outputs if isinstance(row, Mapping)}
        return [name for name in self.names if name in answered]

    def to_spec(self) -> JSONDict:
        threshold: float | str = "inf" if self.threshold == math.inf else self.threshold
        return {"kind": self.kind, "members": list(self.names), "threshold": threshold}

    @classmethod
    def from_spec(cls, spec: JSONDict, members: Mapping[str, Model], directory: Path) -> Cascade:
        """Rebuild a cascade from ``to_spec``'s data and its two members.

        Raises:
            ConfigError: the spec does not name two members, names a member not given,
                or holds a bad threshold.
        """
        names = spec.get("members")
        if not isinstance(names, list) or len(names) != 2:
            raise ConfigError(f"cascade spec members: expected two names, got {names!r}")
        missing = [name for name in names if name not in members]
        if missing:
            raise ConfigError(
                f"cascade spec members: {missing} not among the members given ({list(members)})"
            )
        threshold = spec.get("threshold")
        if threshold == "inf":
            threshold = math.inf
        return cls(
            members[names[0]],
            members[names[1]],
            threshold=check_threshold(threshold, "spec threshold"),
            names=(names[0], names[1]),
        )

    def __repr__(self) -> str:
        state = "loaded" if self.is_loaded else "not loaded"
        fast, slow = self.names
        return f"<Cascade {fast} -> {slow} at threshold {self.threshold:g} ({state})>"
