"""The fallback of a guarded model: what answers when the model raises or is late."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import pandas as pd
import pytest

from roost.compose.guardrails import Fallback, Guarded
from roost.errors import ModelError, NotLoadedError
from roost.model import ColumnSpec, OutputSpec, Signature
from roost.store import Registry

REVIEW = {"decision": "needs_review", "score": 0.5}
ROWS = [
    {"amount": 10.0, "merchant": "m-1"},
    {"amount": 900.0, "merchant": "m-13"},
    {"amount": 20000.0, "merchant": "m-2"},
]


class Scorer:
    """A live model: ``decision`` and ``score`` from ``amount``.

    It raises on every batch when ``down``, and on any batch holding a merchant of
    ``breaks_on`` (as a model with a bug would); ``calls`` counts its predictions.
    """

    def __init__(
        self, *, delay_s: float = 0.0, down: bool = False, breaks_on: Sequence[str] = ()
    ) -> None:
        self.delay_s, self.down, self.breaks_on = delay_s, down, set(breaks_on)
        self.loaded, self.calls = False, 0

    @property
    def is_loaded(self) -> bool:
        return self.loaded

    @property
    def signature(self) -> Signature:
        if not self.is_loaded:
            raise NotLoadedError("scorer is not loaded")
        return Signature(
            inputs=(ColumnSpec("amount", "float64"), ColumnSpec("merchant", "string")),
            outputs=(OutputSpec("decision", "string"), OutputSpec("score", "float64")),
        )

    def load(self) -> None:
        self.loaded = True

    def predict(self, batch: Any) -> list[Any]:
        frame = self.signature.validate(batch)
        self.calls += 1
        if self.down:
            raise ModelError("scorer is down")
        broken = self.breaks_on & set(frame["merchant"])
        if broken:
            raise ValueError(f"merchant {sorted(broken)[0]!r} breaks the scorer")
        time.sleep(self.delay_s)
        return [
            {"decision": "approve" if amount < 500 else "decline", "score": min(amount / 1000, 1.0)}
            for amount in frame["amount"]
        ]


def loaded(guarded: Guarded) -> Guarded:
    guarded.load()
    return guarded


def fired(outputs: list[dict[str, Any]]) -> list[str]:
    return [row["rules"] for row in outputs]


@pytest.mark.parametrize("timeout_ms", [None, 5000], ids=["no-deadline", "deadline"])
def test_model_failing_on_some_rows_leaves_the_other_rows_its_answers(
    timeout_ms: float | None,
) -> None:
    """Requests of several clients share a batch: one client's bad row must not turn
    every other answer into the fallback."""
    rows = [*ROWS, {"amount": 30.0, "merchant": "m-13"}]
    guarded = loaded(
        Guarded(Scorer(breaks_on=["m-13"]), [], Fallback(value=REVIEW, timeout_ms=timeout_ms))
    )
    outputs = guarded.predict(rows)
    assert outputs == [
        {"decision": "approve", "score": 0.01, "rules": ""},
        {**REVIEW, "rules": "fallback"},
        {"decision": "decline", "score": 1.0, "rules": ""},
        {**REVIEW, "rules": "fallback"},
    ]
    assert guarded.path_of(outputs) == ["model", "fallback"]


def test_model_that_is_down_is_answered_by_the_fallback_with_one_warning_per_batch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each row is tried alone before the fallback answers it: a model that is down is
    called once per row, but logged once per batch."""
    scorer = Scorer(down=True)
    guarded = loaded(Guarded(scorer, [], Fallback(value=REVIEW)))
    with caplog.at_level(logging.WARNING, logger="roost.compose"):
        outputs = guarded.predict(ROWS)
    assert outputs == [{**REVIEW, "rules": "fallback"}] * 3
    assert guarded.path_of(outputs) == ["fallback"]
    assert scorer.calls == 1 + len(ROWS)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "failed on 3 of 3 rows" in warnings[0].getMessage()
    assert "scorer is down" in warnings[0].getMessage()


def test_fallback_off_for_errors_lets_the_error_through() -> None:
    fallback = Fallback(value={"decision": "x", "score": 0.0}, on_error=False)
    guarded = loaded(Guarded(Scorer(breaks_on=["m-13"]), [], fallback))
    with pytest.raises(ValueError, match="merchant 'm-13' breaks the scorer"):
        guarded.predict(ROWS)


def test_fallback_answers_the_whole_batch_when_the_model_is_late() -> None:
    fallback = Fallback(value={"decision": "late", "score": 0.0}, timeout_ms=50)
    guarded = loaded(Guarded(Scorer(delay_s=0.5), [], fallback))
    started = time.perf_counter()
    outputs = guarded.predict(ROWS)
    assert time.perf_counter() - started < 0.4
    assert [row["decision"] for row in outputs] == ["late"] * 3
    assert fired(outputs) == ["fallback"] * 3


def test_deadline_covers_the_rows_run_alone_after_an_error() -> None:
    """The batch raises at once, but running its rows alone takes longer than the
    deadline: the fallback answers the whole batch, as for a late batch."""
    fallback = Fallback(value={"decision": "late", "score": 0.0}, timeout_ms=300)
    guarded = loaded(Guarded(Scorer(delay_s=0.2, breaks_on=["m-13"]), [], fallback))
    outputs = guarded.predict(ROWS)
    assert fired(outputs) == ["fallback"] * 3


def test_model_within_its_deadline_answers_itself() -> None:
    fallback = Fallback(value={"decision": "late", "score": 0.0}, timeout_ms=5000)
    outputs = loaded(Guarded(Scorer(), [], fallback)).predict(ROWS)
    assert [row["decision"] for row in outputs] == ["approve", "decline", "decline"]


def test_fallback_model_answers_when_the_model_raises(registry: Registry) -> None:
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    data = load_iris(as_frame=True)
    x: pd.DataFrame = data.data.set_axis(["sl", "sw", "pl", "pw"], axis=1)
    y = data.target_names[data.target]
    registry.save(DecisionTreeClassifier(max_depth=2).fit(x, y), "tree", example=x[:5])
    tree = registry.load("tree:1")

    class Broken:
        signature, is_loaded = tree.signature, True

        def load(self) -> None: ...

        def predict(self, batch: Any) -> list[Any]:
            raise RuntimeError("GPU fell off")

    guarded = loaded(Guarded(Broken(), [], Fallback(model=tree)))
    outputs = guarded.predict(x[:3])
    answers = [{k: v for k, v in row.items() if k != "rules"} for row in outputs]
    assert answers == tree.predict(x[:3])
    assert guarded.path_of(outputs) == ["fallback"]
    assert list(guarded.members) == ["model", "fallback"]
