"""Ensemble: vote, mean, weighted mean, a custom aggregation, and isolation of a failing member."""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from roost.compose._live import live
from roost.compose.ensemble import Ensemble
from roost.errors import ConfigError, ModelError, NotLoadedError
from roost.model import ColumnSpec, Model, OutputSpec, Signature
from roost.store import Registry
from roost.testing import check_model

LABELS = ("cat", "dog", "eel")
ROWS = [{"row": i} for i in range(4)]


class Answers:
    """A Model that answers fixed outputs: row ``i`` of the request gets ``answers[row]``.

    It raises on every batch when ``fail``, and on a batch holding a row of ``fail_on``.
    """

    example = ROWS

    def __init__(
        self,
        answers: list[Any],
        *,
        proba: bool = True,
        fail: bool = False,
        fail_on: Collection[int] = (),
        labels: tuple[str, ...] = LABELS,
    ) -> None:
        self.answers = answers
        self.fail = fail
        self.fail_on = set(fail_on)
        #: the rows of each call, in order
        self.calls: list[list[int]] = []
        first = answers[0]
        if isinstance(first, float):
            outputs: tuple[OutputSpec, ...] = (OutputSpec("prediction", "float64"),)
        elif proba:
            outputs = (
                OutputSpec("label", "string"),
                OutputSpec("probabilities", "float64", (-1, 3), labels=labels),
            )
        else:
            outputs = (OutputSpec("label", "string"),)
        self._signature = Signature(inputs=(ColumnSpec("row", "int64"),), outputs=outputs)
        self._loaded = False

    @property
    def signature(self) -> Signature:
        return self._signature

    @property
    def is_loaded(self) -> bool:
        return self._loaded

    def load(self) -> None:
        self._loaded = True

    def predict(self, batch: Any) -> list[Any]:
        if not self._loaded:
            raise NotLoadedError("Answers is not loaded")
        rows = self.signature.validate(batch)["row"].tolist()
        self.calls.append(rows)
        if self.fail:
            raise RuntimeError("member is down")
        if self.fail_on & set(rows):
            raise RuntimeError(f"rows {sorted(self.fail_on & set(rows))} are out of range")
        return [self.answers[i] for i in rows]


def classifier(labels: str, probabilities: list[list[float]], **settings: Any) -> Answers:
    """One letter per row (c, d, e) and the probabilities of that row."""
    names = {"c": "cat", "d": "dog", "e": "eel"}
    return Answers(
        [
            {"label": names[a], "probabilities": p}
            for a, p in zip(labels, probabilities, strict=True)
        ],
        **settings,
    )


#: the probabilities each of the three classifiers gives rows 0 to 3
PROBABILITIES = {
    "a": [[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.4, 0.3, 0.3]],
    "b": [[0.5, 0.4, 0.1], [0.1, 0.3, 0.6], [0.2, 0.2, 0.6], [0.3, 0.4, 0.3]],
    "c": [[0.3, 0.6, 0.1], [0.1, 0.8, 0.1], [0.5, 0.1, 0.4], [0.1, 0.1, 0.8]],
}


def three_classifiers(**fail_on: Collection[int]) -> dict[str, Model]:
    """Classifiers a, b and c; ``b={1, 3}`` makes b raise on a batch holding row 1 or 3."""
    letters = {"a": "cdec", "b": "ceed", "c": "ddce"}
    return {
        name: classifier(letters[name], PROBABILITIES[name], fail_on=fail_on.get(name, ()))
        for name in letters
    }


def round_trip(ensemble: Ensemble, directory: Path) -> Ensemble:
    extra = ensemble.save_owned(directory)
    spec = json.loads(json.dumps({**ensemble.to_spec(), **extra}))
    rebuilt = Ensemble.from_spec(spec, ensemble.members, directory)
    rebuilt.load()
    return rebuilt


def loaded(ensemble: Ensemble) -> Ensemble:
    ensemble.load()
    return ensemble


# ------------------------------------------------------------------ vote


def test_vote_takes_the_majority_and_breaks_ties_by_summed_probability() -> None:
    """Row 3 is a three-way tie (cat, dog, eel); eel has the highest summed probability."""
    outputs = loaded(Ensemble(three_classifiers(), method="vote")).predict(ROWS)
    assert [row["label"] for row in outputs] == ["cat", "dog", "eel", "eel"]
    assert outputs[3]["probabilities"] == pytest.approx([0.8 / 3, 0.8 / 3, 1.4 / 3])


def test_vote_without_probabilities_breaks_ties_by_member_order() -> None:
    members = {
        "a": Answers(["dog"], proba=False),
        "b": Answers(["cat"], proba=False),
    }
    ensemble = loaded(Ensemble(members, method="vote"))
    assert [spec.name for spec in ensemble.signature.outputs] == ["label"]
    assert ensemble.predict([{"row": 0}]) == ["dog"]


def test_vote_of_real_classifiers_passes_check_model_and_round_trips(tmp_path: Path) -> None:
    datasets = pytest.importorskip("sklearn.datasets")
    linear_model = pytest.importorskip("sklearn.linear_model")
    tree = pytest.importorskip("sklearn.tree")
    iris = datasets.load_iris(as_frame=True)
    x, y = iris.data, iris.target
    members = {
        "logistic": live(linear_model.LogisticRegression(max_iter=500).fit(x, y), example=x[:5]),
        "tree": live(
            tree.DecisionTreeClassifier(max_depth=2, random_state=0).fit(x, y), example=x[:5]
        ),
        "shallow": live(
            tree.DecisionTreeClassifier(max_depth=1, random_state=0).fit(x, y), example=x[:5]
        ),
    }
    ensemble = Ensemble(members, method="vote")
    check_model(ensemble, rows=x[::15])
    assert ensemble.signature.outputs[1].labels == (0, 1, 2)
    assert round_trip(ensemble, tmp_path).predict(x) == ensemble.predict(x)


def test_mean_of_members_taking_the_same_tensor_passes_check_model() -> None:
    datasets = pytest.importorskip("sklearn.datasets")
    linear_model = pytest.importorskip("sklearn.linear_model")
    tree = pytest.importorskip("sklearn.tree")
    x, y = datasets.make_classification(n_samples=60, n_features=4, random_state=0)
    logistic = linear_model.LogisticRegression().fit(x, y)
    shallow = tree.DecisionTreeClassifier(max_depth=2, random_state=0).fit(x, y)
    members: dict[str, Model] = {
        "logistic": live(logistic, example=x[:5]),
        "tree": live(shallow, example=x[:5]),
    }
    ensemble = Ensemble(members, method="mean", on_error="answer_from_rest")
    check_model(ensemble, rows=x[:5])
    assert ensemble.signature.kind == "tensors"
    outputs = ensemble.predict(x)
    expected = (logistic.predict_proba(x) + shallow.predict_proba(x)) / 2
    assert np.allclose([row["probabilities"] for row in outputs], expected)
    assert {row["failed"] for row in outputs} == {""}


# ------------------------------------------------------------------ mean


def test_mean_averages_probabilities_and_labels_the_argmax() -> None:
    outputs = loaded(Ensemble(three_classifiers(), method="mean")).predict(ROWS)
    assert outputs[1]["probabilities"] == pytest.approx([0.4 / 3, 1.8 / 3, 0.8 / 3])
    assert [row["label"] for row in outputs] == ["cat", "dog", "eel", "eel"]


def test_weighted_mean_equals_a_hand_computation() -> None:
    ensemble = loaded(
        Ensemble(three_classifiers(), method="weighted_mean", weights={"a": 1, "b": 2, "c": 1})
    )
    outputs = ensemble.predict(ROWS)
    # row 0: (0.6, 0.3, 0.1) + 2 * (0.5, 0.4, 0.1) + (0.3, 0.6, 0.1), over 4
    assert outputs[0]["probabilities"] == pytest.approx([0.475, 0.425, 0.1])
    assert outputs[0]["label"] == "cat"
    # row 3: (0.4, 0.3, 0.3) + 2 * (0.3, 0.4, 0.3) + (0.1, 0.1, 0.8), over 4
    assert outputs[3]["probabilities"] == pytest.approx([0.275, 0.3, 0.425])


def test_mean_of_regressors_averages_the_prediction(tmp_path: Path) -> None:
    members: dict[str, Model] = {"a": Answers([1.0, 2.0]), "b": Answers([3.0, 6.0])}
    plain = loaded(Ensemble(members, method="mean"))
    weighted = loaded(Ensemble(members, method="weighted_mean", weights={"a": 3.0, "b": 1.0}))
    assert plain.predict(ROWS[:2]) == [2.0, 4.0]
    assert weighted.predict(ROWS[:2]) == [1.5, 3.0]
    assert round_trip(weighted, tmp_path).predict(ROWS[:2]) == [1.5, 3.0]
    check_model(weighted, rows=ROWS[:2])


def test_mean_of_registered_regressors_passes_check_model(registry: Registry) -> None:
    datasets = pytest.importorskip("sklearn.datasets")
    linear_model = pytest.importorskip("sklearn.linear_model")
    x, y = datasets.make_regression(n_samples=50, n_features=3, random_state=0)
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    ridge = linear_model.Ridge(alpha=1.0).fit(frame, y)
    lasso = linear_model.Lasso(alpha=0.5).fit(frame, y)
    registry.save(ridge, "ridge", example=frame[:5])
    members: dict[str, Model] = {
        "ridge": registry.model("ridge:1"),
        "lasso": live(lasso, example=frame[:5]),
    }
    ensemble = Ensemble(members, method="mean")
    check_model(ensemble, rows=frame[:6])
    expected = (ridge.predict(frame) + lasso.predict(frame)) / 2
    assert np.allclose(ensemble.predict(frame), expected)


# ------------------------------------------------------------------ custom


def spread(outputs_by_member: dict[str, dict[str, list[Any]]]) -> dict[str, list[Any]]:
    values = np.array([o["prediction"] for o in outputs_by_member.values()])
    return {"high": values.max(axis=0).tolist(), "gap": np.ptp(values, axis=0).tolist()}


def test_custom_aggregation_measures_its_outputs_and_round_trips(tmp_path: Path) -> None:
    members: dict[str, Model] = {
        "a": Answers([1.0, 2.0, 0.0, 5.0]),
        "b": Answers([3.0, 1.0, 0.0, 4.0]),
    }
    ensemble = loaded(Ensemble(members, method=lambda outputs: spread(outputs)))
    assert [(s.name, s.dtype) for s in ensemble.signature.outputs] == [
        ("high", "float64"),
        ("gap", "float64"),
    ]
    assert ensemble.predict(ROWS[:2]) == [{"high": 3.0, "gap": 2.0}, {"high": 2.0, "gap": 1.0}]
    assert round_trip(ensemble, tmp_path).predict(ROWS) == ensemble.predict(ROWS)
    check_model(ensemble, rows=ROWS)


def test_custom_aggregation_with_declared_outputs_round_trips(tmp_path: Path) -> None:
    members: dict[str, Model] = {"a": Answers([1.0, 2.0]), "b": Answers([3.0, 1.0])}
    declared = [OutputSpec("high", "float64"), OutputSpec("gap", "float64")]
    ensemble = loaded(Ensemble(members, method=spread, outputs=declared))
    rebuilt = round_trip(ensemble, tmp_path)
    assert rebuilt.signature == ensemble.signature
    assert rebuilt.predict(ROWS[:2]) == [{"high": 3.0, "gap": 2.0}, {"high": 2.0, "gap": 1.0}]


def test_custom_aggregation_with_wrong_outputs_raises_model_error() -> None:
    members: dict[str, Model] = {"a": Answers([1.0, 2.0]), "b": Answers([3.0, 1.0])}
    declared = [OutputSpec("high", "float64")]
    ensemble = loaded(Ensemble(members, method=spread, outputs=declared))
    with pytest.raises(ModelError, match=r"expected outputs \['high'\], got \['gap', 'high'\]"):
        ensemble.predict(ROWS[:2])


# ------------------------------------------------------------------ isolation


def with_failing_member(**settings: Any) -> Ensemble:
    members = three_classifiers()
    members["b"] = Answers([None], fail=True)
    return loaded(Ensemble(members, method="mean", **settings))


def test_answer_from_rest_leaves_the_failed_member_out_and_says_so() -> None:
    ensemble = with_failing_member(on_error="answer_from_rest", min_members=2)
    outputs = ensemble.predict(ROWS[:2])
    assert [row["failed"] for row in outputs] == ["b", "b"]
    # the mean of a and c only
    assert outputs[0]["probabilities"] == pytest.approx([0.45, 0.45, 0.1])
    assert ensemble.path_of(outputs) == ["a", "c"]
    assert ensemble.signature.outputs[-1] == OutputSpec(
        "failed", "string", description="members that failed, comma-joined"
    )
    check_model(ensemble, rows=ROWS)


def test_answer_from_rest_leaves_a_member_out_of_only_the_rows_it_fails_on() -> None:
    """b fails on rows 1 and 3 of the batch: rows 0 and 2 keep it, as if alone."""
    ensemble = loaded(
        Ensemble(three_classifiers(b={1, 3}), method="mean", on_error="answer_from_rest")
    )
    outputs = ensemble.predict(ROWS)
    assert [row["failed"] for row in outputs] == ["", "b", "", "b"]
    p = PROBABILITIES
    expected = [
        np.mean([p["a"][0], p["b"][0], p["c"][0]], axis=0),  # (0.467, 0.433, 0.1)
        np.mean([p["a"][1], p["c"][1]], axis=0),  # (0.15, 0.75, 0.1)
        np.mean([p["a"][2], p["b"][2], p["c"][2]], axis=0),  # (0.267, 0.167, 0.567)
        np.mean([p["a"][3], p["c"][3]], axis=0),  # (0.25, 0.2, 0.55)
    ]
    assert np.allclose([row["probabilities"] for row in outputs], expected)
    assert [row["label"] for row in outputs] == ["cat", "dog", "eel", "eel"]
    assert ensemble.predict([ROWS[0], ROWS[2]]) == [outputs[0], outputs[2]]
    assert ensemble.path_of(outputs) == ["a", "b", "c"]  # b answered rows 0 and 2


def test_answer_from_rest_votes_each_row_over_the_members_that_answered_it() -> None:
    """Row 2 without a is a tie of eel (b) and cat (c), which c's probabilities break."""
    ensemble = loaded(
        Ensemble(three_classifiers(a={2}), method="vote", on_error="answer_from_rest")
    )
    outputs = ensemble.predict(ROWS)
    assert [row["label"] for row in outputs] == ["cat", "dog", "eel", "eel"]
    assert [row["failed"] for row in outputs] == ["", "", "a", ""]
    # row 2: b (0.2, 0.2, 0.6) + c (0.5, 0.1, 0.4), over 2; eel 0.5 beats cat 0.35
    assert outputs[2]["probabilities"] == pytest.approx([0.35, 0.15, 0.5])


def test_answer_from_rest_member_down_on_every_row_warns_once_per_batch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A member that is down is tried on the batch, then on each row alone: one warning."""
    ensemble = with_failing_member(on_error="answer_from_rest", min_members=2)
    down = ensemble.members["b"]
    assert isinstance(down, Answers)
    with caplog.at_level(logging.WARNING, logger="roost.compose.ensemble"):
        outputs = ensemble.predict(ROWS)
    assert [row["failed"] for row in outputs] == ["b"] * 4
    p = PROBABILITIES
    expected = [np.mean([p["a"][i], p["c"][i]], axis=0) for i in range(4)]
    assert np.allclose([row["probabilities"] for row in outputs], expected)
    assert ensemble.path_of(outputs) == ["a", "c"]
    assert down.calls == [[0, 1, 2, 3], [0], [1], [2], [3]]
    assert [r.getMessage() for r in caplog.records] == [
        "ensemble member 'b' failed on 4 of 4 rows, answering them from the rest: "
        "RuntimeError: member is down"
    ]


def test_answer_from_rest_row_too_few_members_answered_raises_naming_the_row() -> None:
    ensemble = loaded(
        Ensemble(
            three_classifiers(a={2}, b={2, 3}),
            method="mean",
            on_error="answer_from_rest",
            min_members=2,
        )
    )
    assert [row["failed"] for row in ensemble.predict(ROWS[:2])] == ["", ""]
    with pytest.raises(
        ModelError,
        match=r"ensemble row 2 \(of 4, from 0\): 1 of 3 members answered, expected at least 2 "
        r"\(failed: 'a': RuntimeError: rows \[2\] are out of range; "
        r"'b': RuntimeError: rows \[2\] are out of range\)",
    ):
        ensemble.predict(ROWS)


def test_custom_aggregation_runs_once_per_group_of_rows_with_the_same_members() -> None:
    seen: list[list[str]] = []

    def highest(outputs_by_member: dict[str, dict[str, list[Any]]]) -> dict[str, list[Any]]:
        seen.append(list(outputs_by_member))
        return {"high": spread(outputs_by_member)["high"]}

    members: dict[str, Model] = {
        "a": Answers([1.0, 2.0, 0.0, 5.0]),
        "b": Answers([3.0, 1.0, 9.0, 4.0], fail_on={2}),
    }
    declared = [OutputSpec("high", "float64")]
    ensemble = loaded(
        Ensemble(members, method=highest, outputs=declared, on_error="answer_from_rest")
    )
    outputs = ensemble.predict(ROWS)
    assert outputs == [
        {"high": 3.0, "failed": ""},
        {"high": 2.0, "failed": ""},
        {"high": 0.0, "failed": "b"},
        {"high": 5.0, "failed": ""},
    ]
    assert seen == [["a", "b"], ["a"]]


def test_answer_from_rest_says_nothing_failed_when_all_answer() -> None:
    ensemble = loaded(Ensemble(three_classifiers(), method="vote", on_error="answer_from_rest"))
    outputs = ensemble.predict(ROWS[:1])
    assert outputs[0]["failed"] == ""
    assert ensemble.path_of(outputs) == ["a", "b", "c"]


def test_answer_from_rest_below_min_members_raises_naming_each_failure() -> None:
    ensemble = with_failing_member(on_error="answer_from_rest", min_members=3)
    with pytest.raises(
        ModelError, match=r"2 of 3 members answered.*'b': RuntimeError: member is down"
    ):
        ensemble.predict(ROWS[:1])


def test_fail_raises_model_error_naming_the_member() -> None:
    ensemble = with_failing_member()
    with pytest.raises(
        ModelError, match="ensemble member 'b' failed: RuntimeError: member is down"
    ):
        ensemble.predict(ROWS[:1])
    assert "failed" not in [spec.name for spec in ensemble.signature.outputs]


# ------------------------------------------------------------------ configuration


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"method": "median"}, "method: expected one of vote, mean, weighted_mean or a callable"),
        ({"method": "weighted_mean"}, "weights: method 'weighted_mean' needs a weight"),
        ({"method": "weighted_mean", "weights": {"a": 1, "b": 1}}, "weights: missing .* 'c'"),
        ({"method": "weighted_mean", "weights": {"a": 1, "b": 1, "c": 1, "d": 1}}, "'d' is not"),
        ({"method": "weighted_mean", "weights": {"a": 1, "b": -1, "c": 1}}, r"weights\['b'\]"),
        ({"method": "vote", "weights": {"a": 1, "b": 1, "c": 1}}, "weights: used only with"),
        ({"on_error": "ignore"}, "on_error: expected one of fail, answer_from_rest"),
        ({"min_members": 4}, "min_members: expected 1 to 3"),
        ({"outputs": [OutputSpec("x", "float64")]}, "outputs: expected OutputSpecs"),
    ],
    ids=[
        "method",
        "no-weights",
        "missing-weight",
        "unknown-weight",
        "negative",
        "vote-weights",
        "on-error",
        "min-members",
        "outputs",
    ],
)
def test_bad_setting_raises_config_error_naming_it(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Ensemble(three_classifiers(), **settings)


def test_members_with_other_outputs_are_refused_at_load() -> None:
    members = {"a": three_classifiers()["a"], "r": Answers([1.0])}
    with pytest.raises(ConfigError, match=r"ensemble member 'r': outputs \['prediction'\] differ"):
        Ensemble(members).load()


def test_members_with_other_label_order_are_refused_at_load() -> None:
    other = Answers([None], labels=("dog", "cat", "eel"))
    members = {"a": three_classifiers()["a"], "b": other}
    with pytest.raises(ConfigError, match="member 'b': output 'probabilities' has labels"):
        Ensemble(members, method="mean").load()


def test_mean_of_string_predictions_is_refused_at_load() -> None:
    members = {"a": Answers(["x"], proba=False), "b": Answers(["y"], proba=False)}
    with pytest.raises(ConfigError, match="method 'mean': members need 'probabilities'"):
        Ensemble(members, method="mean").load()
