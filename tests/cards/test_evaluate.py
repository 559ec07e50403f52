"""The metrics (checked against scikit-learn), the bootstrap, and ``evaluate`` on real versions."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk
from sklearn.datasets import load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression

from roost.cards import _metrics as m
from roost.cards.evaluate import evaluate
from roost.cards.evaluation import Evaluation, SliceResult
from roost.errors import ConfigError, SignatureError
from roost.store import PackagedModel, Registry
from roost.testing import FakeClock

N_BOOTSTRAP = 50
CLASSIFICATION = ["accuracy", "precision", "recall", "f1", "roc_auc", "calibration_error"]

# ------------------------------------------------------------------ metrics


def classes_sample(n_classes: int, n_rows: int = 300, seed: int = 1) -> tuple[Any, Any, Any]:
    """Random truth, predictions and probabilities (rounded, so scores tie)."""
    rng = np.random.default_rng(seed)
    proba = np.round(rng.dirichlet(np.ones(n_classes), n_rows), 2)
    proba /= proba.sum(axis=1, keepdims=True)
    return rng.integers(0, n_classes, n_rows), rng.integers(0, n_classes, n_rows), proba


@pytest.mark.parametrize("n_classes", [2, 3, 5], ids=["binary", "three", "five"])
def test_class_metrics_match_sklearn(n_classes: int) -> None:
    """Binary: of the positive class (code 1); more classes: the macro average."""
    y, predicted, proba = classes_sample(n_classes)
    positive = 1 if n_classes == 2 else None
    average = "binary" if n_classes == 2 else "macro"
    assert m.accuracy(y, predicted) == pytest.approx(sk.accuracy_score(y, predicted))
    for ours, theirs in [
        (m.precision, sk.precision_score),
        (m.recall, sk.recall_score),
        (m.f1, sk.f1_score),
    ]:
        expected = theirs(y, predicted, average=average)
        assert ours(y, predicted, positive=positive) == pytest.approx(expected)
    if n_classes == 2:
        expected_auc = sk.roc_auc_score(y, proba[:, 1])
    else:
        expected_auc = sk.roc_auc_score(y, proba, multi_class="ovr", average="macro")
    assert m.roc_auc(y, proba) == pytest.approx(expected_auc)


def test_regression_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(size=200)
    predicted = y + rng.normal(scale=0.5, size=200)
    assert m.mae(y, predicted) == pytest.approx(sk.mean_absolute_error(y, predicted))
    assert m.rmse(y, predicted) == pytest.approx(np.sqrt(sk.mean_squared_error(y, predicted)))
    assert m.r2(y, predicted) == pytest.approx(sk.r2_score(y, predicted))


def test_macro_leaves_unknown_truth_out_of_the_average() -> None:
    """A truth code past ``n_classes`` counts against its prediction but is no class."""
    y, predicted, _ = classes_sample(3)
    y[:7] = 3  # a value the model does not know
    for ours, theirs in [
        (m.precision, sk.precision_score),
        (m.recall, sk.recall_score),
        (m.f1, sk.f1_score),
    ]:
        expected = theirs(y, predicted, labels=[0, 1, 2], average="macro")
        assert ours(y, predicted, n_classes=3) == pytest.approx(expected)


def test_roc_auc_leaves_unknown_truth_out() -> None:
    y, _, proba = classes_sample(3)
    with_unknown = np.append(y, [3, 3])
    padded = np.vstack([proba, [[0.9, 0.05, 0.05], [0.1, 0.1, 0.8]]])
    assert m.roc_auc(with_unknown, padded) == pytest.approx(m.roc_auc(y, proba))


@pytest.mark.parametrize(
    ("y", "proba"),
    [
        ([0, 1, 0], [[0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.6, 0.2, 0.2]]),
        ([1, 1, 1], [[0.3, 0.7], [0.2, 0.8], [0.6, 0.4]]),
    ],
    ids=["a-class-absent", "one-class-only"],
)
def test_roc_auc_undefined_without_every_class(y: list[int], proba: list[list[float]]) -> None:
    assert m.roc_auc(y, proba) is None


def test_binary_scores_undefined_on_zero_division() -> None:
    truth, predicted = [0, 0, 0], [0, 0, 0]
    assert m.precision(truth, predicted, positive=1) is None  # nothing predicted positive
    assert m.recall(truth, predicted, positive=1) is None  # nothing is positive
    assert m.f1(truth, predicted, positive=1) is None


def test_r2_undefined_on_constant_truth() -> None:
    assert m.r2([0.1, 0.1, 0.1], [0.1, 0.2, 0.3]) is None


def test_calibration_error_matches_a_plain_loop() -> None:
    y, _, proba = classes_sample(4, n_rows=500)
    confidence, right = proba.max(axis=1), proba.argmax(axis=1) == y
    bins = np.minimum((confidence * 10).astype(int), 9)
    expected = sum(
        abs(right[bins == b].mean() - confidence[bins == b].mean()) * (bins == b).sum() / len(y)
        for b in range(10)
        if (bins == b).any()
    )
    assert m.calibration_error(y, proba) == pytest.approx(expected)
    assert sum(b["n_rows"] for b in m.calibration_bins(y, proba)) == len(y)


def test_bootstrap_interval_contains_the_estimate() -> None:
    y, predicted, proba = classes_sample(3)
    for metric, arrays in [(m.accuracy, (y, predicted)), (m.roc_auc, (y, proba))]:
        lower, upper = m.bootstrap(
            metric.batch, *arrays, n_bootstrap=N_BOOTSTRAP, confidence=0.95, seed=0
        )
        value = metric(*arrays)
        assert lower is not None
        assert upper is not None
        assert value is not None
        assert lower <= value <= upper


def test_bootstrap_narrows_with_more_rows() -> None:
    def width(n_rows: int) -> float:
        y, predicted, _ = classes_sample(2, n_rows=n_rows)
        lower, upper = m.bootstrap(
            m.accuracy.batch, y, predicted, n_bootstrap=N_BOOTSTRAP, confidence=0.9, seed=0
        )
        assert lower is not None
        assert upper is not None
        return upper - lower

    assert width(2000) < width(50) / 3


def test_bootstrap_is_reproducible_with_a_seed() -> None:
    y, predicted, _ = classes_sample(3)

    def interval(seed: int) -> tuple[float | None, float | None]:
        return m.bootstrap(
            m.f1.batch, y, predicted, n_bootstrap=N_BOOTSTRAP, confidence=0.95, seed=seed
        )

    assert interval(7) == interval(7)
    assert interval(7) != interval(8)


def test_bootstrap_in_chunks_draws_the_same_resamples(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bounding memory changes how many resamples are drawn at once, not which."""
    y, predicted, _ = classes_sample(3)
    whole = m.bootstrap(m.accuracy.batch, y, predicted, n_bootstrap=40, confidence=0.9, seed=3)
    monkeypatch.setattr(m, "_MAX_CELLS", 7 * 2 * len(y))  # 7 resamples at a time
    chunked = m.bootstrap(m.accuracy.batch, y, predicted, n_bootstrap=40, confidence=0.9, seed=3)
    assert chunked == whole


@pytest.mark.parametrize(
    ("n_rows", "n_bootstrap"), [(1, N_BOOTSTRAP), (10, 0)], ids=["one-row", "no-resamples"]
)
def test_bootstrap_without_interval(n_rows: int, n_bootstrap: int) -> None:
    y = np.zeros(n_rows, dtype=np.int64)
    interval = m.bootstrap(m.accuracy.batch, y, y, n_bootstrap=n_bootstrap, confidence=0.9, seed=0)
    assert interval == (None, None)


def test_bootstrap_drops_an_interval_mostly_undefined() -> None:
    """A statistic undefined on most resamples gets no interval, rather than a biased one."""

    def rarely_defined(values: np.ndarray) -> np.ndarray:
        return np.where(values.sum(axis=1) > values.shape[1] * 0.6, 1.0, np.nan)

    y = np.arange(40) % 2
    interval = m.bootstrap(rarely_defined, y, n_bootstrap=N_BOOTSTRAP, confidence=0.9, seed=0)
    assert interval == (None, None)


# ------------------------------------------------------------------ evaluate


@pytest.fixture(scope="module")
def iris_data() -> pd.DataFrame:
    """Iris with its label (``species``) and a column the model does not take (``site``)."""
    x, y = load_iris(as_frame=True, return_X_y=True)
    sites = np.where(np.arange(len(x)) % 3 == 0, "north", "south")
    frame: pd.DataFrame = x.assign(species=y, site=sites)
    return frame


@pytest.fixture(scope="module")
def iris(tmp_path_factory: pytest.TempPathFactory, iris_data: pd.DataFrame) -> PackagedModel:
    """``iris:1`` loaded from a registry of its own (as ``registry`` makes), once per module."""
    registry = Registry(tmp_path_factory.mktemp("cards") / "roost-home")
    x = iris_data.drop(columns=["species", "site"])
    registry.save(
        LogisticRegression(max_iter=500).fit(x, iris_data["species"]), "iris", example=x[:5]
    )
    return registry.load("iris")


def run(
    model: PackagedModel, frame: pd.DataFrame, truth: Any = "species", **options: Any
) -> Evaluation:
    options = {"n_bootstrap": N_BOOTSTRAP, "source": "test.csv", **options}
    return evaluate(model, frame, truth, **options)


def value_of(evaluation: Evaluation, name: str) -> float:
    """The overall value of a metric that must be measured."""
    metric = evaluation.metric(name)
    assert metric is not None
    assert metric.value is not None
    return metric.value


def slice_of(evaluation: Evaluation, column: str, value: Any) -> SliceResult:
    return next(s for s in evaluation.slices if (s.column, s.value) == (column, value))


def test_evaluate_classifier_overall_and_per_slice(
    iris: PackagedModel, iris_data: pd.DataFrame
) -> None:
    evaluation = run(iris, iris_data, slice_by=["site"], clock=FakeClock(epoch=1_800_000_000.0))
    assert (evaluation.model, evaluation.version, evaluation.digest) == ("iris", 1, iris.digest)
    assert evaluation.task == "classification"
    assert evaluation.label == "species"
    assert re.fullmatch(r"20270115T080000Z-[0-9a-f]{4}", evaluation.id)
    assert evaluation.created_at == "2027-01-15T08:00:00.000+00:00"
    assert [metric.name for metric in evaluation.overall] == CLASSIFICATION
    for metric in evaluation.overall:
        assert metric.value is not None
        assert metric.lower is not None
        assert metric.upper is not None
        assert metric.lower <= metric.value <= metric.upper
    predicted = [row["label"] for row in iris.predict(iris_data.iloc[:, :4])]
    expected = np.mean(np.array(predicted) == iris_data["species"].to_numpy())
    assert value_of(evaluation, "accuracy") == pytest.approx(expected)
    assert [(s.value, s.n_rows) for s in evaluation.slices] == [("north", 50), ("south", 100)]
    assert [m.name for m in slice_of(evaluation, "site", "north").metrics] == CLASSIFICATION
    confusion = evaluation.confusion
    assert confusion is not None
    assert confusion["labels"] == [0, 1, 2]
    assert sum(map(sum, confusion["matrix"])) == 150
    assert sum(b["n_rows"] for b in evaluation.calibration or ()) == 150
    assert evaluation.residuals is None
    assert evaluation.data["n_rows"] == 150
    assert evaluation.data["source"] == "test.csv"
    assert evaluation.data["hashed"] == "frame"
    assert len(evaluation.data["sha256"]) == 64
    assert Evaluation.from_dict(evaluation.to_dict()) == evaluation


def test_evaluate_slices_by_an_input_column_and_by_a_separate_frame(
    iris: PackagedModel, iris_data: pd.DataFrame
) -> None:
    inputs = iris_data.drop(columns=["site"])
    sites = iris_data[["site"]]
    evaluation = run(iris, inputs, slice_by=["petal width (cm)", "site"], slices_frame=iris_data)
    widths = [s for s in evaluation.slices if s.column == "petal width (cm)"]
    assert sum(s.n_rows for s in widths) == 150
    assert [s.value for s in widths] == sorted(s.value for s in widths)  # type: ignore[type-var]
    separate = run(iris, inputs, slice_by=["site"], slices_frame=sites)
    assert slice_of(separate, "site", "north") == slice_of(evaluation, "site", "north")


def test_evaluate_is_reproducible_with_a_seed(iris: PackagedModel, iris_data: pd.DataFrame) -> None:
    first, second = run(iris, iris_data, seed=4), run(iris, iris_data, seed=4)
    assert first.overall == second.overall
    assert first.data["sha256"] == second.data["sha256"]


def test_evaluate_counts_unknown_truth_as_wrong(
    iris: PackagedModel, iris_data: pd.DataFrame
) -> None:
    frame = iris_data.copy()
    frame.loc[:4, "species"] = 7
    evaluation = run(iris, frame)
    known = run(iris, iris_data)
    right_before = value_of(known, "accuracy") * 150
    assert value_of(evaluation, "accuracy") * 150 == pytest.approx(right_before - 5)
    assert evaluation.confusion is not None
    assert evaluation.confusion["labels"] == [0, 1, 2, 7]
    assert sum(evaluation.confusion["matrix"][3]) == 5
    assert any("7" in note and "count as wrong" in note for note in evaluation.data["notes"])


def test_evaluate_slice_of_one_row_has_no_intervals(
    iris: PackagedModel, iris_data: pd.DataFrame
) -> None:
    frame = iris_data.copy()
    frame.loc[0, "site"] = "east"
    frame.loc[1, "site"] = None
    evaluation = run(iris, frame, slice_by=["site"])
    for value in ("east", None):
        alone = slice_of(evaluation, "site", value)
        assert alone.n_rows == 1
        assert all(metric.lower is None and metric.upper is None for metric in alone.metrics)
        assert alone.metrics[0].value is not None
    assert evaluation.slices[-1].value is None  # missing values come last
    assert any("east" in note and "too few" in note for note in evaluation.data["notes"])


def test_evaluate_takes_truth_as_values(iris: PackagedModel, iris_data: pd.DataFrame) -> None:
    inputs = iris_data.drop(columns=["species"])
    evaluation = run(iris, inputs, list(iris_data["species"]), label="y")
    assert evaluation.label == "y"
    assert evaluation.overall == run(iris, iris_data).overall


def test_evaluate_regressor(registry: Registry) -> None:
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120)})
    y = 3 * x["a"] - x["b"] + rng.normal(scale=0.3, size=120)
    registry.save(LinearRegression().fit(x, y), "line", example=x[:5])
    frame = x.assign(y=y, half=np.where(x["a"] > 0, "high", "low"))
    evaluation = run(registry.load("line"), frame, "y", slice_by=["half"])
    assert evaluation.task == "regression"
    assert [metric.name for metric in evaluation.overall] == ["mae", "rmse", "r2"]
    assert value_of(evaluation, "r2") > 0.9
    residuals = evaluation.residuals
    assert residuals is not None
    assert sum(residuals["counts"]) == 120
    assert len(residuals["edges"]) == len(residuals["counts"]) + 1
    assert evaluation.confusion is None
    assert evaluation.calibration is None
    assert {s.value for s in evaluation.slices} == {"high", "low"}


def test_evaluate_regressor_refuses_text_truth(registry: Registry) -> None:
    x = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})
    registry.save(LinearRegression().fit(x, [0.0, 1.0, 2.0, 3.0]), "line", example=x)
    frame = x.assign(y=[0.0, 1.0, "high", 3.0])
    with pytest.raises(ConfigError, match=r"label column 'y': expected numbers.*'high' in row 2"):
        run(registry.load("line"), frame, "y")


def test_evaluate_asks_for_the_task_of_an_integer_output(
    registry: Registry, iris_data: pd.DataFrame
) -> None:
    """A classifier saved without probabilities gives class codes: counts, or classes?"""
    x = iris_data.iloc[:, :4]
    registry.save(
        LogisticRegression(max_iter=500).fit(x, iris_data["species"]),
        "codes",
        example=x[:5],
        proba=False,
    )
    model = registry.load("codes")
    with pytest.raises(ConfigError, match=r"model codes:1: .*prediction \(int64\).*--task"):
        run(model, iris_data)
    evaluation = run(model, iris_data, task="classification")
    assert [metric.name for metric in evaluation.overall] == CLASSIFICATION[:4]
    assert evaluation.calibration is None


def test_evaluate_refuses_a_task_the_outputs_cannot_have(
    iris: PackagedModel, iris_data: pd.DataFrame
) -> None:
    with pytest.raises(ConfigError, match=r"cannot evaluate it as regression.*probabilities"):
        run(iris, iris_data, task="regression")


@pytest.mark.parametrize(
    ("change", "options", "message"),
    [
        (lambda f: f, {"truth": "kind"}, r"label column 'kind' not in test.csv \(columns: sepal"),
        (lambda f: f, {"slice_by": ["region"]}, r"slice column 'region' not in test.csv"),
        (lambda f: f.iloc[:0], {}, r"test.csv: expected rows to evaluate, got none"),
        (
            lambda f: f.assign(species=f["species"].where(f.index != 3)),
            {},
            r"label column 'species': expected a value in every row, got none in row\(s\) 3",
        ),
        (lambda f: f, {"truth": [0, 1]}, r"truth: expected one value per row \(150\), got 2"),
        (lambda f: f, {"confidence": 1.0}, r"confidence: expected a level between 0 and 1"),
        (lambda f: f, {"n_bootstrap": -1}, r"n_bootstrap: expected 0 or more"),
    ],
    ids=["label", "slice", "empty", "missing-truth", "truth-length", "confidence", "bootstrap"],
)
def test_evaluate_refuses_bad_input(
    iris: PackagedModel, iris_data: pd.DataFrame, change: Any, options: dict[str, Any], message: str
) -> None:
    options = {"truth": "species", **options}
    with pytest.raises(ConfigError, match=message):
        run(iris, change(iris_data), **options)


def test_evaluate_reports_a_missing_input_column(
    iris: PackagedModel, iris_data: pd.DataFrame
) -> None:
    with pytest.raises(SignatureError, match="petal width"):
        run(iris, iris_data.drop(columns=["petal width (cm)"]))
