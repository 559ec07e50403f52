"""The fallback of a guarded model, and running the model against its deadline.

``Fallback`` says what answers when the guarded model raises, is late, or when a rule
diverts a row; ``run_model`` runs the model and says which rows the fallback must answer
instead. ``roost.compose.guardrails`` answers them and applies the rules.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from roost.compose._base import is_model, member_outputs, take_rows
from roost.compose._rules import check_value
from roost.errors import ConfigError
from roost.model import Model, OutputSpec, count_rows
from roost.types import JSONDict

__all__ = ["Fallback", "run_model"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Fallback:
    """What answers when the guarded model fails or is late, and for rows a rule diverts.

    Give exactly one of ``value`` and ``model``.

    Args:
        value: a full output row: the plain value for a single-output model, else a dict
            of every output (``None`` means no value; it cannot be the fallback itself).
        model: a Model with the same outputs as the guarded one.
        timeout_ms: answer from the fallback when the model takes longer. The deadline
            is per batch and covers the row-by-row runs after an error too: a late batch
            is answered by the fallback as a whole, since running it again row by row
            would multiply the delay. The model runs in a worker thread; a thread cannot
            be killed, so a late model keeps running in the background and its result
            is discarded.
        on_error: answer from the fallback when the model raises. Serving merges
            several requests into one batch, so when the model raises on a batch of
            several rows each row is run alone, and the fallback answers only the rows
            the model fails on: one client's bad row leaves the others their answers.
            The price: a model that fails on every row (one that is down) is called
            once more per row of each batch before the fallback answers it; it logs one
            warning per batch. ``False`` lets the model's error through.

    Raises:
        ConfigError: both or neither of ``value`` and ``model``, a value that is not JSON
            data, a timeout that is not a positive finite number.

    Example:
        >>> Fallback(value={"decision": "needs_review", "score": 0.5}, timeout_ms=200)
        Fallback(value={'decision': 'needs_review', 'score': 0.5}, model=None, ...)
    """

    value: Any = None
    model: Model | None = None
    timeout_ms: float | None = None
    on_error: bool = True

    def __post_init__(self) -> None:
        if (self.value is None) == (self.model is None):
            raise ConfigError("fallback: give exactly one of value= and model=")
        if self.model is not None and not is_model(self.model):
            raise ConfigError(f"fallback model: expected a roost Model, got {self.model!r}")
        try:
            json.dumps(self.value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"fallback value: expected JSON data ({exc})") from exc
        timeout = self.timeout_ms
        # a string from a YAML file must fail here, not as a TypeError in the comparison;
        # an infinite timeout is no timeout (and no thread can wait that long)
        is_number = isinstance(timeout, int | float) and not isinstance(timeout, bool)
        if timeout is not None and not (is_number and 0 < timeout < math.inf):
            raise ConfigError(f"fallback timeout_ms: expected a positive number, got {timeout!r}")
        if not isinstance(self.on_error, bool):
            raise ConfigError(f"fallback on_error: expected True or False, got {self.on_error!r}")

    def row_for(self, outputs: Sequence[OutputSpec]) -> dict[str, Any] | None:
        """Check the fallback against the guarded model's ``outputs``; the row a value
        fallback answers with (every output by name), or None for a fallback model.

        Raises:
            ConfigError: the fallback model has other outputs, or the value does not
                give every output a value it can hold.
        """
        names = [spec.name for spec in outputs]
        if self.model is not None:
            theirs = self.model.signature.outputs
            key = [(s.name, s.dtype, s.shape, s.labels) for s in outputs]
            if [(s.name, s.dtype, s.shape, s.labels) for s in theirs] != key:
                raise ConfigError(
                    "guarded member 'fallback': expected the outputs of 'model' "
                    f"({names}), got {[s.name for s in theirs]}"
                )
            return None
        value = self.value
        if len(names) == 1 and not (isinstance(value, dict) and set(value) == set(names)):
            value = {names[0]: value}  # a single-output model's plain value
        if not isinstance(value, dict) or set(value) != set(names):
            raise ConfigError(
                f"guarded fallback value: expected a dict of every output {names}, "
                f"got {self.value!r}"
            )
        for spec in outputs:
            check_value("guarded fallback value", spec, value[spec.name])
        return value

    def to_dict(self) -> JSONDict:
        """JSON-safe data; a fallback model is referenced as the member ``fallback``."""
        data: JSONDict = {"model": "fallback"} if self.model is not None else {"value": self.value}
        return {**data, "timeout_ms": self.timeout_ms, "on_error": self.on_error}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], model: Model | None = None) -> Fallback:
        """Rebuild from ``to_dict``'s data; ``model`` is the fallback member, if any.

        Raises:
            ConfigError: unknown keys, or a fallback model named but not given.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"fallback: expected a mapping, got {data!r}")
        unknown = sorted(set(data) - {"value", "model", "timeout_ms", "on_error"})
        if unknown:
            raise ConfigError(f"fallback: unknown keys {unknown}")
        if "model" in data and (data["model"] != "fallback" or model is None):
            raise ConfigError(
                f"fallback: model {data['model']!r} expects the member 'fallback' "
                "(pass fallback_model=)"
            )
        if "model" not in data and model is not None:
            raise ConfigError("fallback: a fallback model was given but the data holds a value")
        return cls(
            value=data.get("value"),
            model=model if "model" in data else None,
            timeout_ms=data.get("timeout_ms"),
            on_error=data.get("on_error", True),
        )


def run_model(
    model: Model, frame: Any, fallback: Fallback | None
) -> tuple[dict[str, list[Any]] | None, list[int]]:
    """``model``'s outputs for ``frame``, and the rows the fallback must answer instead.

    When the model raises on a batch of several rows (and ``on_error``), each row is run
    alone, so that a row the model fails on does not take the other rows of a merged
    batch with it; the outputs hold ``None`` at the rows it still fails on. The outputs
    are ``None`` when the fallback answers every row: the model failed on each, or the
    whole answer took longer than ``timeout_ms``.

    Raises:
        Exception: whatever the model raised, when no fallback answers errors.
    """

    def answer() -> tuple[dict[str, list[Any]] | None, list[int]]:
        try:
            return member_outputs(model, frame), []
        except Exception as exc:  # any failure of the model is what a fallback is for
            if fallback is None or not fallback.on_error:
                raise
            return _run_alone(model, frame, exc)

    if fallback is None or fallback.timeout_ms is None:
        return answer()
    # one deadline for the whole answer, row-by-row runs included: a late batch is
    # answered by the fallback as a whole (rerunning it by row would multiply the delay)
    return _run_with_deadline(answer, fallback.timeout_ms, count_rows(frame))


def _run_alone(
    model: Model, frame: Any, error: Exception
) -> tuple[dict[str, list[Any]] | None, list[int]]:
    """``model`` run on each row of ``frame`` alone, after it raised ``error`` on them all."""
    n_rows = count_rows(frame)
    outputs: dict[str, list[Any]] = {s.name: [None] * n_rows for s in model.signature.outputs}
    failed = list(range(n_rows))  # a batch of one row has failed alone already
    if n_rows > 1:
        failed = []
        for i in range(n_rows):
            try:
                row = member_outputs(model, take_rows(frame, [i]))
            except Exception:  # the fallback answers this row; the batch's error is logged
                failed.append(i)
                continue
            for name, values in row.items():
                outputs[name][i] = values[0]
    # one warning per batch: a model that is down would otherwise log every row
    if failed:
        log.warning(
            "guarded model failed on %d of %d rows (%s: %s); the fallback answers them",
            len(failed),
            n_rows,
            type(error).__name__,
            error,
        )
    else:
        log.warning(
            "guarded model failed on a batch of %d rows (%s: %s) but answered each row alone",
            n_rows,
            type(error).__name__,
            error,
        )
    return (None if len(failed) == n_rows else outputs), failed


def _run_with_deadline(
    answer: Callable[[], tuple[dict[str, list[Any]] | None, list[int]]],
    timeout_ms: float,
    n_rows: int,
) -> tuple[dict[str, list[Any]] | None, list[int]]:
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["answer"] = answer()
        except BaseException as exc:  # handed to the caller's thread, which decides
            box["error"] = exc

    # A daemon thread: one that never returns must not keep the process alive at exit.
    worker = threading.Thread(target=work, name="roost-guarded-model", daemon=True)
    worker.start()
    worker.join(min(timeout_ms / 1000, threading.TIMEOUT_MAX))
    if worker.is_alive():
        log.warning(
            "guarded model took longer than %s ms; the fallback answers %d rows "
            "(the model's late result will be discarded)",
            timeout_ms,
            n_rows,
        )
        return None, list(range(n_rows))
    if "error" in box:
        raise box["error"]
    return box["answer"]  # type: ignore[no-any-return]
