"""Test helpers roost ships for its users: the Model conformance suite.

``check_model`` is to roost what scikit-learn's ``check_estimator`` is to
estimators: run it on any Model (a packaged model, a composite, your own class)
and it raises ``AssertionError`` naming the first broken promise.

Example:
    >>> from roost.testing import check_model
    >>> check_model(registry.model("iris:1"))  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Mapping
from typing import Any

from roost.errors import ModelError, NotLoadedError, SignatureError
from roost.model import Model, Signature
from roost.types import Rows

__all__ = ["FakeClock", "check_model"]


class FakeClock:
    """A clock that moves only when the test calls ``advance``: timing tests without sleeping.

    Example:
        >>> clock = FakeClock()
        >>> clock.advance(0.5)
        >>> clock.monotonic()
        0.5
    """

    def __init__(self, start: float = 0.0, epoch: float = 1_800_000_000.0) -> None:
        self._now = start
        self._epoch = epoch
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def monotonic(self) -> float:
        return self._now

    def time(self) -> float:
        return self._epoch + self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)  # still a scheduling point, like asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self._now + seconds, future))
        await future

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper whose time has come."""
        self._now += seconds
        waiting = []
        for deadline, future in self._sleepers:
            if future.done():
                continue
            if deadline <= self._now:
                future.set_result(None)
            else:
                waiting.append((deadline, future))
        self._sleepers = waiting


def _fail(check: str, detail: str) -> AssertionError:
    return AssertionError(f"check_model: {check}: {detail}")


def _close(a: Any, b: Any) -> bool:
    """Equal, allowing float rounding (a batch and a single row may take other BLAS paths)."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    return bool(a == b)


def _count(rows: Rows) -> int:
    if isinstance(rows, Mapping):
        return len(next(iter(rows.values())))
    return len(rows)


def _take(rows: Rows, indices: list[int]) -> Rows:
    if isinstance(rows, Mapping):
        return {name: [values[i] for i in indices] for name, values in rows.items()}
    if hasattr(rows, "iloc"):
        return rows.iloc[indices]
    if hasattr(rows, "shape"):
        return rows[indices]
    return [rows[i] for i in indices]


def _drop_first_input(signature: Signature, rows: Rows) -> Rows:
    first = signature.inputs[0].name
    if signature.kind == "columns":
        # through the signature, so rows given as lists or an array become named records
        records: list[dict[str, Any]] = signature.validate(rows).to_dict(orient="records")
        return [{k: v for k, v in record.items() if k != first} for record in records]
    return {spec.name: [] for spec in signature.inputs[1:]} if len(signature.inputs) > 1 else {}


def check_model(model: Model, rows: Rows | None = None) -> None:
    """Check that ``model`` keeps the Model contract, on ``rows`` (default: its example).

    Checks: ``predict`` before ``load`` raises ``NotLoadedError``; ``load`` is idempotent;
    ``predict`` returns a list with one output per row, in order, the same output for a row
    alone as in a batch, the same output twice, ``[]`` for no rows, JSON-serialisable
    values shaped as the signature says; a row missing an input raises ``SignatureError``.

    Raises:
        AssertionError: naming the first check that failed.
    """
    if not model.is_loaded:
        try:
            model.predict(rows if rows is not None else [])
        except NotLoadedError:
            pass
        else:
            raise _fail("not loaded", "predict before load() did not raise NotLoadedError")
        model.load()
    model.load()  # idempotent: a second call must not fail or reload differently
    if not model.is_loaded:
        raise _fail("load", "is_loaded is False after load()")
    signature = model.signature
    if not isinstance(signature, Signature):
        raise _fail("signature", f"expected a Signature, got {type(signature).__name__}")
    if rows is None:
        rows = getattr(model, "example", None)
        if rows is None:
            raise _fail("rows", "the model has no example; pass rows=")
    if signature.kind == "columns" and isinstance(rows, Mapping):
        rows = [dict(rows)]  # one dict is one row, not a mapping of columns
    n = _count(rows)
    if n < 1:
        raise _fail("rows", "need at least one row to check")

    try:
        outputs = model.predict(rows)
    except ModelError as exc:  # the model's own checks caught it first: still a broken promise
        raise _fail("predict", f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(outputs, list) or len(outputs) != n:
        got = len(outputs) if isinstance(outputs, list) else type(outputs).__name__
        raise _fail("one output per row", f"{n} rows gave {got}")
    if not _close(model.predict(rows), outputs):
        raise _fail("deterministic", "two predictions on the same rows differ")
    order = list(range(n))[::-1]
    if not _close(model.predict(_take(rows, order)), [outputs[i] for i in order]):
        raise _fail("order", "reversed rows did not give reversed outputs")
    for i in range(n):
        alone = model.predict(_take(rows, [i]))
        if len(alone) != 1 or not _close(alone[0], outputs[i]):
            raise _fail(
                "row independence", f"row {i} alone gave {alone!r}, in a batch {outputs[i]!r}"
            )
    if model.predict(_take(rows, [])) != []:
        raise _fail("empty batch", "predict on no rows did not return []")
    try:
        json.dumps(outputs)
    except (TypeError, ValueError) as exc:
        raise _fail("serialisable", f"outputs are not JSON-serialisable ({exc})") from exc
    names = [spec.name for spec in signature.outputs]
    for i, output in enumerate(outputs):
        if len(names) > 1 and (not isinstance(output, dict) or sorted(output) != sorted(names)):
            raise _fail("outputs", f"row {i}: expected a dict with {names}, got {output!r}")
    try:
        model.predict(_drop_first_input(signature, rows))
    except SignatureError:
        pass
    else:
        raise _fail(
            "validation", f"rows without input {names and signature.inputs[0].name!r} were accepted"
        )
