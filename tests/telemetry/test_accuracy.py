"""Production accuracy: logged predictions scored against their feedback."""

from __future__ import annotations

import math
from typing import Any

import pytest

from roost.errors import ConfigError
from roost.telemetry._records import FeedbackRecord, PredictionRecord
from roost.telemetry.accuracy import (
    CLASSIFICATION,
    REGRESSION,
    WindowMetrics,
    prediction_of,
    production_metrics,
    task_of,
)


def _pair(
    pid: str,
    outputs: list[Any],
    truth: Any,
    *,
    timestamp: float = 0.0,
    model: str = "m",
    version: int = 1,
) -> tuple[PredictionRecord, FeedbackRecord]:
    inputs: list[Any] = [{}] * len(outputs)
    record = PredictionRecord(pid, timestamp, model, version, "v1", inputs, outputs, 1.0)
    return record, FeedbackRecord(pid, truth, timestamp + 5)


# ------------------------------------------------------------- prediction_of


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("setosa", "setosa"),
        (3.5, 3.5),
        (None, None),
        ({"label": "cat", "probabilities": [0.9, 0.1], "prediction": "x"}, "cat"),
        ({"prediction": 2.5, "std": 0.1}, 2.5),
        ({"score": 0.7}, 0.7),
    ],
    ids=["str", "float", "none", "label-first", "prediction", "only-key"],
)
def test_prediction_of_reads_the_predicted_value(output: Any, expected: Any) -> None:
    assert prediction_of(output) == expected


def test_prediction_of_ambiguous_dict_names_its_keys() -> None:
    with pytest.raises(ValueError, match=r"\['a', 'b'\]"):
        prediction_of({"b": 1, "a": 2})


# ------------------------------------------------------------- task_of


@pytest.mark.parametrize(
    ("outputs", "task"),
    [
        (["setosa", "virginica"], CLASSIFICATION),
        ([True, False], CLASSIFICATION),
        ([{"label": 1, "probabilities": [0.2, 0.8]}], CLASSIFICATION),
        ([{"probabilities": [0.2, 0.8], "extra": 1}], CLASSIFICATION),
        ([0.5, 1.25], REGRESSION),
        ([1, 2, 2.5], REGRESSION),
        ([{"prediction": 3.25}], REGRESSION),
        ([0, 1, 2, 1, 0], CLASSIFICATION),
        (list(range(20)), CLASSIFICATION),
        (list(range(21)), REGRESSION),
        ([None, "a"], CLASSIFICATION),
        ([{"a": 1, "b": 2}, 0.5], REGRESSION),
    ],
    ids=[
        "strings",
        "bools",
        "label-dict",
        "probabilities-dict",
        "floats",
        "ints-and-a-float",
        "prediction-dict",
        "few-ints",
        "20-distinct-ints",
        "21-distinct-ints",
        "none-skipped",
        "ambiguous-dict-skipped",
    ],
)
def test_task_of_infers_the_task(outputs: list[Any], task: str) -> None:
    assert task_of(outputs) == task


@pytest.mark.parametrize("outputs", [[], [None, [1, 2]]], ids=["empty", "nothing-usable"])
def test_task_of_without_values_raises(outputs: list[Any]) -> None:
    with pytest.raises(ConfigError, match="pass task="):
        task_of(outputs)


# ------------------------------------------------------------- classification


def test_production_metrics_accuracy_hand_computed() -> None:
    pairs = [
        _pair("a", ["cat"], "cat", timestamp=10),
        _pair("b", ["dog"], "cat", timestamp=20),
        _pair("c", ["cat", "dog"], ["cat", "dog"], timestamp=30),
    ]

    result = production_metrics(pairs, window_s=3600)

    assert result.task == CLASSIFICATION
    assert result.overall == [WindowMetrics("m", 1, 10.0, 30.0, 4, accuracy=0.75)]
    assert result.windows == [WindowMetrics("m", 1, 0.0, 3600.0, 4, accuracy=0.75)]
    assert result.invalid == 0


def test_production_metrics_windows_aligned_to_multiples() -> None:
    pairs = [
        _pair("a", [1], 1, timestamp=59.9),
        _pair("b", [1], 0, timestamp=60.0),
        _pair("c", [1], 1, timestamp=119.0),
        _pair("d", [0], 0, timestamp=250.0),
    ]

    result = production_metrics(pairs, window_s=60)

    assert [(w.start, w.end, w.n, w.accuracy) for w in result.windows] == [
        (0.0, 60.0, 1, 1.0),
        (60.0, 120.0, 2, 0.5),
        (240.0, 300.0, 1, 1.0),
    ]
    assert all(isinstance(w.start, float) for w in result.windows)


def test_production_metrics_versions_and_models_kept_apart() -> None:
    pairs = [
        _pair("a", ["x"], "x", model="b-model", version=1),
        _pair("b", ["x"], "y", model="a-model", version=2),
        _pair("c", ["x"], "x", model="a-model", version=1),
        _pair("d", ["x"], "x", model="a-model", version=2),
    ]

    result = production_metrics(pairs, window_s=60)

    assert [(m.model, m.version, m.n, m.accuracy) for m in result.overall] == [
        ("a-model", 1, 1, 1.0),
        ("a-model", 2, 2, 0.5),
        ("b-model", 1, 1, 1.0),
    ]
    assert len(result.windows) == 3


def test_production_metrics_dict_outputs_use_their_label() -> None:
    outputs = [
        {"label": "a", "probabilities": [0.9, 0.1]},
        {"label": "b", "probabilities": [0.4, 0.6]},
    ]

    result = production_metrics([_pair("a", outputs, ["a", "a"])], window_s=60)

    assert result.overall[0].accuracy == 0.5


@pytest.mark.parametrize(
    ("predicted", "truth", "correct"),
    [
        (1, "1", True),
        ("1", 1, True),
        (1, 1.0, True),
        (True, "True", True),
        ("setosa", "Setosa", False),
        (1.0, "1", False),
    ],
    ids=["int-vs-str", "str-vs-int", "int-vs-float", "bool-vs-str", "case-sensitive", "float-str"],
)
def test_production_metrics_classes_compare_by_str_when_one_is_text(
    predicted: Any, truth: Any, correct: bool
) -> None:
    """Feedback often arrives as text: "1" for a predicted 1 is the same class."""
    result = production_metrics([_pair("a", [predicted], truth)], window_s=60, task=CLASSIFICATION)

    assert result.overall[0].accuracy == (1.0 if correct else 0.0)


def test_production_metrics_multi_row_truths_expand_per_row() -> None:
    pairs = [_pair("a", [1, 2, 3], [1, 2, 0]), _pair("b", [5], [5])]

    result = production_metrics(pairs, window_s=60, task=CLASSIFICATION)

    assert (result.overall[0].n, result.overall[0].accuracy) == (4, 0.75)
    assert result.invalid == 0


@pytest.mark.parametrize(
    ("outputs", "truth", "invalid"),
    [
        ([1, 2, 3], [1, 2], 3),
        ([1, 2], 1, 2),
        ([1], [1, 2], 1),
        ([], [1], 1),
        ([1], None, 1),
        ([1], math.nan, 1),
        ([1, 2], [[1], 2], 1),
        ([{"a": 1, "b": 2}], 1, 1),
    ],
    ids=[
        "short-list",
        "plain-for-many",
        "long-list-for-one",
        "no-rows",
        "none",
        "nan",
        "list-truth",
        "no-prediction",
    ],
)
def test_production_metrics_invalid_rows_are_counted_not_scored(
    outputs: list[Any], truth: Any, invalid: int
) -> None:
    result = production_metrics([_pair("a", outputs, truth)], window_s=60, task=CLASSIFICATION)

    assert result.invalid == invalid
    assert sum(m.n for m in result.overall) == max(len(outputs) - invalid, 0)


def test_production_metrics_invalid_rows_leave_the_rest_scored() -> None:
    result = production_metrics([_pair("a", [1, 2], [None, 2])], window_s=60)

    assert (result.overall[0].n, result.overall[0].accuracy, result.invalid) == (1, 1.0, 1)


# ------------------------------------------------------------- regression


def test_production_metrics_mae_rmse_hand_computed() -> None:
    # errors 0.5, -1.5, 2.0: mae 4/3, rmse sqrt((0.25 + 2.25 + 4) / 3)
    pairs = [_pair("a", [1.5, 2.5], [1.0, 4.0]), _pair("b", [{"prediction": 5.0}], 3)]

    result = production_metrics(pairs, window_s=60)

    (overall,) = result.overall
    assert result.task == REGRESSION
    assert overall.mae == pytest.approx(4 / 3)
    assert overall.rmse == pytest.approx(1.4719601, abs=1e-7)
    assert (overall.n, overall.accuracy) == (3, None)


@pytest.mark.parametrize(
    "truth",
    ["3.0", None, True, math.inf, [1.0, 2.0]],
    ids=["text", "none", "bool", "inf", "two-truths-for-one-row"],
)
def test_production_metrics_regression_needs_numeric_truth(truth: Any) -> None:
    pairs = [_pair("a", [1.0], truth), _pair("b", [1.0], 2.0)]

    result = production_metrics(pairs, window_s=60, task=REGRESSION)

    assert (result.invalid, result.overall[0].n, result.overall[0].mae) == (1, 1, 1.0)


def test_production_metrics_regression_non_numeric_prediction_is_invalid() -> None:
    result = production_metrics([_pair("a", ["x", 2.0], [1.0, 2.5])], window_s=60, task=REGRESSION)

    assert result.invalid == 1
    assert result.overall[0].mae == pytest.approx(0.5)


# ------------------------------------------------------------- edges


def test_production_metrics_empty_input() -> None:
    result = production_metrics([], window_s=60)

    assert (result.task, result.overall, result.windows, result.invalid) == (None, [], [], 0)


def test_production_metrics_empty_input_keeps_the_given_task() -> None:
    assert production_metrics([], window_s=60, task=REGRESSION).task == REGRESSION


def test_production_metrics_infers_task_from_all_outputs() -> None:
    pairs = [_pair("a", [1], 1), _pair("b", [1.5], 1.0)]

    assert production_metrics(pairs, window_s=60).task == REGRESSION


@pytest.mark.parametrize("window_s", [0, -1, math.nan, math.inf], ids=["0", "neg", "nan", "inf"])
def test_production_metrics_bad_window_raises(window_s: float) -> None:
    with pytest.raises(ConfigError, match="window_s"):
        production_metrics([], window_s=window_s)


def test_production_metrics_unknown_task_raises() -> None:
    with pytest.raises(ConfigError, match="'ranking'"):
        production_metrics([_pair("a", [1], 1)], window_s=60, task="ranking")


def test_production_metrics_mismatched_ids_raise() -> None:
    record, _ = _pair("a", [1], 1)
    _, feedback = _pair("b", [1], 1)

    with pytest.raises(ConfigError, match=r"'b'.*'a'"):
        production_metrics([(record, feedback)], window_s=60)
