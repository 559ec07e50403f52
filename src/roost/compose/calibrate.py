"""Pick a cascade's threshold from validation data: the cheapest one that is accurate enough.

Each member runs on the validation rows once per timing repetition; every candidate
threshold is then scored from those predictions alone, without running a model again.
A row answered by the fast member costs the fast member's latency; a row answered by the
slow member costs both, as the fast member ran first. So the cascade's mean latency per
row is ``fast + share sent to slow × slow``: it grows with the share sent to slow, and the
cheapest threshold that meets the target is the one that sends the fewest rows to slow.

Latency is measured per member on the whole validation set with ``time.perf_counter``
(the median of ``repeat`` runs, divided by the number of rows). A model often costs more
per row on a small batch than on a large one, so the slow member's cost on the rows it
really receives can be higher than the figure reported.
"""

from __future__ import annotations

import math
import numbers
import statistics
import time
from dataclasses import dataclass
from typing import Any

from roost.compose._base import member_outputs
from roost.compose.cascade import Cascade, check_threshold, confidences
from roost.errors import ConfigError
from roost.model import Model, as_frame, count_rows
from roost.types import JSONDict, Rows

__all__ = ["CascadeCalibration", "calibrate"]


@dataclass(frozen=True, slots=True)
class CascadeCalibration:
    """What ``calibrate`` chose and how the cascade does at that threshold, on ``n_rows``.

    Dicts are keyed by the members' names (the values of the ``phase`` output).

    Attributes:
        threshold: the chosen threshold (``math.inf``: every row goes to the slow member).
        target_accuracy: the accuracy asked for.
        met: whether ``accuracy`` reaches ``target_accuracy``.
        accuracy: the cascade's accuracy at ``threshold``.
        n_rows: the number of validation rows.
        share: the share of rows each member answered (they add up to 1).
        accuracy_by_phase: the accuracy on the rows each member answered; None when it
            answered none.
        latency_ms_by_phase: the mean latency per row of the rows each member answered,
            in ms (the slow member's rows include the fast member's run).
        latency_ms: the cascade's expected mean latency per row, in ms.
        member_accuracy: each member's accuracy alone on every row.
        member_latency_ms: each member's measured latency per row, in ms.
        message: one line saying what was chosen, or the best accuracy reachable.
        cascade: the cascade with the chosen threshold, loaded.
    """

    threshold: float
    target_accuracy: float
    met: bool
    accuracy: float
    n_rows: int
    share: dict[str, float]
    accuracy_by_phase: dict[str, float | None]
    latency_ms_by_phase: dict[str, float]
    latency_ms: float
    member_accuracy: dict[str, float]
    member_latency_ms: dict[str, float]
    message: str
    cascade: Cascade

    def to_dict(self) -> JSONDict:
        """The report as JSON-safe data (the cascade as its spec), for the CLI and docs."""
        return {
            "threshold": "inf" if self.threshold == math.inf else self.threshold,
            "target_accuracy": self.target_accuracy,
            "met": self.met,
            "accuracy": self.accuracy,
            "n_rows": self.n_rows,
            "share": dict(self.share),
            "accuracy_by_phase": dict(self.accuracy_by_phase),
            "latency_ms_by_phase": dict(self.latency_ms_by_phase),
            "latency_ms": self.latency_ms,
            "member_accuracy": dict(self.member_accuracy),
            "member_latency_ms": dict(self.member_latency_ms),
            "message": self.message,
            "cascade": self.cascade.to_spec(),
        }

    def __str__(self) -> str:
        def number(value: float | None) -> str:
            return "-" if value is None else f"{value:.4f}"

        lines = [self.message, f"{'phase':<12}{'share':>8}{'accuracy':>10}{'ms/row':>10}"]
        for name in self.share:
            lines.append(
                f"{name:<12}{self.share[name]:>8.1%}{number(self.accuracy_by_phase[name]):>10}"
                f"{self.latency_ms_by_phase[name]:>10.4f}"
            )
        lines.append(f"{'cascade':<12}{1:>8.1%}{self.accuracy:>10.4f}{self.latency_ms:>10.4f}")
        alone = ", ".join(f"{n} {a:.4f}" for n, a in self.member_accuracy.items())
        lines.append(f"alone: {alone}")
        return "\n".join(lines)


def calibrate(
    cascade: Cascade,
    X_val: Rows,
    y_val: Any,
    *,
    target_accuracy: float,
    thresholds: Any = None,
    repeat: int = 5,
) -> CascadeCalibration:
    """Pick the threshold that meets ``target_accuracy`` while sending fewest rows to slow.

    Candidates are 0 (fast answers every row), each distinct confidence of the fast
    member on ``X_val``, and ``math.inf`` (slow answers every row): between two
    neighbouring confidences the cascade routes the validation rows alike. Among the
    candidates that meet the target, the one with the smallest share sent to slow wins
    (ties: the higher accuracy, then the higher threshold). When none meets it, the one
    with the best accuracy is returned with ``met=False``; nothing is raised.

    Args:
        cascade: the cascade to calibrate; loaded here if it is not.
        X_val: validation rows, as the cascade takes them.
        y_val: the true label of each row.
        target_accuracy: the accuracy to reach, in (0, 1].
        thresholds: the only candidates to try, instead of 0, the fast member's
            confidences and ``math.inf``.
        repeat: how many times each member is timed on ``X_val`` (the median counts).

    Returns:
        The chosen threshold, the cascade's accuracy, routing and latency there, and
        the cascade with that threshold.

    Raises:
        ConfigError: naming the argument: not a cascade, no rows, a label count that
            differs from the row count, a target outside (0, 1], a bad candidate or
            ``repeat`` below 1.

    Example:
        >>> report = calibrate(cascade, X_val, y_val, target_accuracy=0.95)  # doctest: +SKIP
        >>> report.threshold, report.share  # doctest: +SKIP
        (0.83, {'fast': 0.71, 'slow': 0.29})
    """
    import numpy as np

    if not isinstance(cascade, Cascade):
        raise ConfigError(f"cascade: expected a Cascade, got {type(cascade).__name__}")
    target = _check_target(target_accuracy)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise ConfigError(f"repeat: expected a whole number >= 1, got {repeat!r}")
    candidates = None if thresholds is None else _check_candidates(thresholds)
    frame, truth = _validation_rows(cascade, X_val, y_val)
    n = count_rows(frame)

    fast_name, slow_name = cascade.names
    ms: dict[str, float] = {}
    outputs: dict[str, dict[str, Any]] = {}
    is_right = {}
    for name, member in cascade.members.items():
        outputs[name], ms[name] = _timed(member, frame, repeat, n)
        labels = _labels(name, member, outputs[name])
        is_right[name] = np.array([bool(a == b) for a, b in zip(labels, truth, strict=True)])
    # a NaN confidence never clears a threshold: -inf sorts it where the cascade routes it
    confidence = np.nan_to_num(confidences(outputs[fast_name]["probabilities"]), nan=-np.inf)

    if candidates is None:
        seen = np.unique(confidence[np.isfinite(confidence)])
        candidates = np.unique(np.concatenate([[0.0], seen, [math.inf]]))
    # rows from most to least confident: a threshold lets fast answer a prefix of them
    order = np.argsort(-confidence, kind="stable")
    fast_right = np.concatenate([[0], np.cumsum(is_right[fast_name][order])])
    slow_right = np.concatenate([[0], np.cumsum(is_right[slow_name][order])])
    n_fast = n - np.searchsorted(np.sort(confidence), candidates, side="left")
    accuracy = (fast_right[n_fast] + slow_right[n] - slow_right[n_fast]) / n

    meets = np.flatnonzero(accuracy >= target)
    if meets.size:
        best = min(meets.tolist(), key=lambda i: (-n_fast[i], -accuracy[i], -candidates[i]))
    else:
        best = min(range(len(candidates)), key=lambda i: (-accuracy[i], -n_fast[i], -candidates[i]))
    threshold = float(candidates[best])
    by_fast, by_slow = int(n_fast[best]), n - int(n_fast[best])
    right_fast = int(fast_right[by_fast])
    right_slow = int(slow_right[n] - slow_right[by_fast])
    met = bool(meets.size)
    chosen_accuracy = float(accuracy[best])
    alone = {name: float(right.mean()) for name, right in is_right.items()}
    if met:
        message = (
            f"threshold {threshold:.4g} meets the target {target:g}: accuracy "
            f"{chosen_accuracy:.4f}, {by_slow / n:.1%} of rows sent to {slow_name!r}"
        )
    else:
        message = (
            f"no threshold meets the target {target:g}: the best reachable accuracy is "
            f"{chosen_accuracy:.4f} (threshold {threshold:.4g}; {fast_name!r} alone "
            f"{alone[fast_name]:.4f}, {slow_name!r} alone {alone[slow_name]:.4f})"
        )
    return CascadeCalibration(
        threshold=threshold,
        target_accuracy=target,
        met=met,
        accuracy=chosen_accuracy,
        n_rows=n,
        share={fast_name: by_fast / n, slow_name: by_slow / n},
        accuracy_by_phase={
            fast_name: right_fast / by_fast if by_fast else None,
            slow_name: right_slow / by_slow if by_slow else None,
        },
        latency_ms_by_phase={fast_name: ms[fast_name], slow_name: ms[fast_name] + ms[slow_name]},
        latency_ms=ms[fast_name] + by_slow / n * ms[slow_name],
        member_accuracy=alone,
        member_latency_ms=ms,
        message=message,
        cascade=_loaded(cascade.with_threshold(threshold)),
    )


def _validation_rows(cascade: Cascade, X_val: Rows, y_val: Any) -> tuple[Any, list[Any]]:
    """The validated rows as a DataFrame, and their labels as plain values."""
    import numpy as np

    if X_val is None:
        raise ConfigError("X_val: expected validation rows, got None")
    cascade.load()
    frame = as_frame(cascade.validate(X_val))
    n = count_rows(frame)
    if n == 0:
        raise ConfigError("X_val: expected at least one validation row, got none")
    truth = np.asarray(y_val, dtype=object)
    if truth.ndim != 1 or len(truth) != n:
        raise ConfigError(
            f"y_val: expected one label per row of X_val ({n}), got shape {truth.shape}"
        )
    return frame, np.asarray(y_val).tolist()  # plain values: np.str_ == str, 1 == 1.0


def _check_target(target: object) -> float:
    is_number = isinstance(target, numbers.Real) and not isinstance(target, bool)
    if not (is_number and 0 < target <= 1):  # type: ignore[operator]
        raise ConfigError(f"target_accuracy: expected a number in (0, 1], got {target!r}")
    return float(target)  # type: ignore[arg-type]


def _check_candidates(thresholds: Any) -> Any:
    import numpy as np

    if isinstance(thresholds, str | bytes) or not hasattr(thresholds, "__iter__"):
        raise ConfigError(f"thresholds: expected a list of thresholds, got {thresholds!r}")
    values = [check_threshold(t, "thresholds") for t in thresholds]
    if not values:
        raise ConfigError("thresholds: expected at least one candidate, got none")
    return np.unique(np.asarray(values, dtype=np.float64))


def _timed(member: Model, frame: Any, repeat: int, n_rows: int) -> tuple[dict[str, Any], float]:
    """The member's outputs on ``frame`` and its median latency per row, in ms."""
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        outputs = member_outputs(member, frame)
        seconds.append(time.perf_counter() - start)
    return outputs, statistics.median(seconds) / n_rows * 1000


def _labels(name: str, member: Model, outputs: dict[str, Any]) -> list[Any]:
    """The class each row was given: the ``label`` output, else the likeliest class."""
    import numpy as np

    if "label" in outputs:
        return list(outputs["label"])
    spec = next(s for s in member.signature.outputs if s.name == "probabilities")
    if spec.labels is None:
        raise ConfigError(
            f"cascade member {name!r}: expected a 'label' output or class labels on "
            "'probabilities', to compare with y_val; got neither"
        )
    positions = np.asarray(outputs["probabilities"], dtype=np.float64).argmax(axis=1)
    return [spec.labels[i] for i in positions.tolist()]


def _loaded(cascade: Cascade) -> Cascade:
    cascade.load()  # members are loaded already: this only builds the signature
    return cascade
