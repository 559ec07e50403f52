"""Cascade as a user meets it: fast answers the rows it is sure of, slow sees only the rest."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression

from roost.compose.cascade import ALWAYS_SLOW, Cascade
from roost.errors import ConfigError, NotLoadedError
from roost.model import Model, Signature
from roost.store import Registry
from roost.testing import check_model
from roost.types import Rows

THRESHOLD = 0.8


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray[Any, Any], pd.DataFrame]:
    """Training rows and labels, and validation rows a logistic regression is unsure of."""
    X, y = make_classification(
        n_samples=600, n_features=6, n_informative=4, n_clusters_per_class=3, random_state=1
    )
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    return frame[:400], y[:400], frame[400:].reset_index(drop=True)


@pytest.fixture(scope="module")
def members(
    tmp_path_factory: pytest.TempPathFactory,
    data: tuple[pd.DataFrame, np.ndarray[Any, Any], pd.DataFrame],
) -> tuple[Model, Model]:
    """A registered logistic regression (fast) and random forest (slow), loaded once."""
    X, y, _ = data
    registry = Registry(tmp_path_factory.mktemp("cascade") / "roost-home")
    forest = RandomForestClassifier(n_estimators=25, min_samples_leaf=3, random_state=0)
    fast = registry.save(LogisticRegression().fit(X, y), "fast", example=X[:5])
    slow = registry.save(forest.fit(X, y), "slow", example=X[:5])
    return registry.load(str(fast)), registry.load(str(slow))


@pytest.fixture
def rows(data: tuple[pd.DataFrame, np.ndarray[Any, Any], pd.DataFrame]) -> pd.DataFrame:
    return data[2]


class Counting:
    """A member that keeps every batch it is asked to predict, then lets the model answer."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.batches: list[pd.DataFrame] = []

    @property
    def signature(self) -> Signature:
        return self.model.signature

    @property
    def is_loaded(self) -> bool:
        return self.model.is_loaded

    def load(self) -> None:
        self.model.load()

    def predict(self, batch: Rows) -> list[Any]:
        self.batches.append(pd.DataFrame(batch).copy())
        return self.model.predict(batch)


def _confidence(model: Model, rows: pd.DataFrame) -> np.ndarray[Any, Any]:
    return np.array([max(out["probabilities"]) for out in model.predict(rows)])


def _regressor(registry: Registry, rows: pd.DataFrame) -> Model:
    version = registry.save(LinearRegression().fit(rows, rows["f0"] * 2), "reg", example=rows[:5])
    return registry.load(str(version))


def _loaded(cascade: Cascade) -> Cascade:
    cascade.load()
    return cascade


def test_cascade_answers_sure_rows_with_fast_and_the_rest_with_slow(
    members: tuple[Model, Model], rows: pd.DataFrame
) -> None:
    fast, slow = members
    outputs = _loaded(Cascade(fast, slow, threshold=THRESHOLD)).predict(rows)
    is_sure = _confidence(fast, rows) >= THRESHOLD
    assert 0 < is_sure.sum() < len(rows)  # both phases answer some rows
    for output, sure, by_fast, by_slow in zip(
        outputs, is_sure, fast.predict(rows), slow.predict(rows), strict=True
    ):
        expected = by_fast if sure else by_slow
        assert output == {**expected, "phase": "fast" if sure else "slow"}


def test_cascade_sends_only_unsure_rows_to_slow(
    members: tuple[Model, Model], rows: pd.DataFrame
) -> None:
    fast, slow = members
    counting = Counting(slow)
    _loaded(Cascade(fast, counting, threshold=THRESHOLD)).predict(rows)
    unsure = rows[_confidence(fast, rows) < THRESHOLD].reset_index(drop=True)
    assert len(counting.batches) == 1
    pd.testing.assert_frame_equal(counting.batches[0], unsure)


def test_cascade_at_threshold_zero_never_runs_slow(
    members: tuple[Model, Model], rows: pd.DataFrame
) -> None:
    fast, slow = members
    counting = Counting(slow)
    cascade = _loaded(Cascade(fast, counting, threshold=0))
    outputs = cascade.predict(rows)
    assert counting.batches == []
    assert {out["phase"] for out in outputs} == {"fast"}
    assert cascade.path_of(outputs) == ["fast"]


def test_cascade_always_slow_answers_every_row_with_slow(
    members: tuple[Model, Model], rows: pd.DataFrame
) -> None:
    fast, slow = members
    cascade = _loaded(Cascade(fast, slow, threshold=ALWAYS_SLOW))
    outputs = cascade.predict(rows)
    assert outputs == [{**out, "phase": "slow"} for out in slow.predict(rows)]
    assert cascade.path_of(outputs) == ["slow"]  # fast ran, but answered no row


def test_cascade_path_names_both_members_when_both_answered(
    members: tuple[Model, Model], rows: pd.DataFrame
) -> None:
    cascade = _loaded(Cascade(*members, threshold=THRESHOLD, names=("lr", "forest")))
    outputs = cascade.predict(rows)
    assert cascade.path_of(outputs) == ["lr", "forest"]
    assert cascade.path_of([]) == []


def test_cascade_signature_adds_phase_to_the_members_outputs(
    members: tuple[Model, Model],
) -> None:
    cascade = _loaded(Cascade(*members))
    names = [spec.name for spec in cascade.signature.outputs]
    assert names == ["label", "probabilities", "phase"]
    assert cascade.signature.input_names == members[0].signature.input_names


def test_cascade_passes_check_model(members: tuple[Model, Model], rows: pd.DataFrame) -> None:
    cascade = Cascade(*members, threshold=THRESHOLD)
    check_model(cascade, rows[:20].to_dict("records"))


def test_cascade_predict_before_load_raises(members: tuple[Model, Model]) -> None:
    with pytest.raises(NotLoadedError):
        Cascade(*members).predict([])


@pytest.mark.parametrize("threshold", [THRESHOLD, 0.0, ALWAYS_SLOW], ids=["0.8", "0", "inf"])
def test_cascade_spec_round_trip_predicts_identically(
    members: tuple[Model, Model], rows: pd.DataFrame, tmp_path: Path, threshold: float
) -> None:
    cascade = _loaded(Cascade(*members, threshold=threshold, names=("lr", "forest")))
    spec = {**cascade.to_spec(), **cascade.save_owned(tmp_path)}
    text = json.dumps(spec, allow_nan=False)  # strict JSON: no Infinity
    members_by_name = dict(cascade.members)
    again = _loaded(Cascade.from_spec(json.loads(text), members_by_name, tmp_path))
    assert again.threshold == threshold
    assert again.predict(rows) == cascade.predict(rows)


def test_cascade_with_threshold_shares_members_and_keeps_the_original(
    members: tuple[Model, Model],
) -> None:
    cascade = Cascade(*members, threshold=0.7, names=("a", "b"))
    other = cascade.with_threshold(0.95)
    assert (other.threshold, cascade.threshold) == (0.95, 0.7)
    assert other.names == ("a", "b")
    assert other.fast is cascade.fast
    assert other.slow is cascade.slow


@pytest.mark.parametrize(
    "threshold", [-0.1, 1.5, 90, math.nan, -math.inf, "0.9", True, None], ids=repr
)
def test_cascade_refuses_a_threshold_outside_zero_one(
    members: tuple[Model, Model], threshold: Any
) -> None:
    with pytest.raises(ConfigError, match="threshold"):
        Cascade(*members, threshold=threshold)


def test_cascade_refuses_equal_member_names(members: tuple[Model, Model]) -> None:
    with pytest.raises(ConfigError, match="two different member names"):
        Cascade(*members, names=("same", "same"))


def test_cascade_refuses_a_fast_member_without_probabilities(
    registry: Registry, members: tuple[Model, Model], rows: pd.DataFrame
) -> None:
    regressor = _regressor(registry, rows)
    cascade = Cascade(regressor, members[1], names=("reg", "forest"))
    with pytest.raises(ConfigError, match=r"member 'reg'.*'probabilities'.*\['prediction'\]"):
        cascade.load()


def test_cascade_refuses_members_with_other_outputs(
    registry: Registry, members: tuple[Model, Model], rows: pd.DataFrame
) -> None:
    regressor = _regressor(registry, rows)
    with pytest.raises(ConfigError, match="expected the same outputs"):
        Cascade(members[0], regressor).load()


def test_cascade_refuses_members_with_other_class_labels(
    registry: Registry,
    members: tuple[Model, Model],
    data: tuple[pd.DataFrame, np.ndarray[Any, Any], pd.DataFrame],
) -> None:
    X, y, _ = data
    shifted = LogisticRegression().fit(X, y + 1)  # classes 1 and 2 instead of 0 and 1
    other = registry.load(str(registry.save(shifted, "shifted", example=X[:5])))
    with pytest.raises(ConfigError, match=r"class labels are \(0, 1\) for member 'fast'"):
        Cascade(members[0], other).load()


def test_cascade_from_spec_refuses_a_member_not_given(members: tuple[Model, Model]) -> None:
    spec = Cascade(*members).to_spec()
    with pytest.raises(ConfigError, match=r"\['slow'\] not among the members"):
        Cascade.from_spec(spec, {"fast": members[0]}, Path("."))
