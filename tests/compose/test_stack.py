"""Stack: a metamodel over the bases' outputs, and fit_stack's out-of-fold training."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from roost.compose._live import live
from roost.compose.stack import Stack, fit_stack
from roost.errors import ConfigError, ModelError
from roost.store import Registry
from roost.testing import check_model

datasets = pytest.importorskip("sklearn.datasets")
linear_model = pytest.importorskip("sklearn.linear_model")
model_selection = pytest.importorskip("sklearn.model_selection")
tree = pytest.importorskip("sklearn.tree")
base_module = pytest.importorskip("sklearn.base")


@functools.cache
def classification() -> tuple[pd.DataFrame, Any]:
    x, y = datasets.make_classification(
        n_samples=120, n_features=4, n_informative=3, n_redundant=0, n_classes=3, random_state=0
    )
    return pd.DataFrame(x, columns=["a", "b", "c", "d"]), y


def bases() -> dict[str, Any]:
    return {
        "tree": tree.DecisionTreeClassifier(max_depth=3, random_state=0),
        "logistic": linear_model.LogisticRegression(max_iter=500),
    }


@functools.cache
def fitted_stack() -> Stack:
    x, y = classification()
    return fit_stack(bases(), linear_model.LogisticRegression(max_iter=500), x, y, cv=4)


def round_trip(stack: Stack, directory: Path) -> Stack:
    extra = stack.save_owned(directory)
    spec = json.loads(json.dumps({**stack.to_spec(), **extra}))
    rebuilt = Stack.from_spec(spec, stack.members, directory)
    rebuilt.load()
    return rebuilt


def oof_features(x: pd.DataFrame, y: Any, *, in_sample: bool = False) -> pd.DataFrame:
    """The bases' probabilities as fit_stack should compute them, by hand."""
    folds = model_selection.StratifiedKFold(n_splits=4, shuffle=True, random_state=0)
    columns = {}
    for name, estimator in bases().items():
        if in_sample:
            p = base_module.clone(estimator).fit(x, y).predict_proba(x)
        else:
            p = model_selection.cross_val_predict(
                base_module.clone(estimator), x, y, cv=folds, method="predict_proba"
            )
        columns.update({f"{name}.probabilities[{j}]": p[:, j] for j in range(3)})
    return pd.DataFrame(columns)


# ------------------------------------------------------------------ fit_stack


def test_fit_stack_trains_the_meta_on_out_of_fold_predictions() -> None:
    x, y = classification()
    stack = fit_stack(bases(), linear_model.LogisticRegression(max_iter=500), x, y, cv=4)
    manual = linear_model.LogisticRegression(max_iter=500).fit(oof_features(x, y), y)
    in_sample = linear_model.LogisticRegression(max_iter=500).fit(
        oof_features(x, y, in_sample=True), y
    )
    assert np.allclose(stack.meta.coef_, manual.coef_)
    assert not np.allclose(stack.meta.coef_, in_sample.coef_, atol=1e-3)
    assert list(stack.meta.feature_names_in_) == list(oof_features(x, y).columns)


def test_fit_stack_bases_are_refitted_on_all_rows_and_predict_through_the_meta(
    tmp_path: Path,
) -> None:
    x, y = classification()
    stack = fitted_stack()
    check_model(stack, rows=x[:6])
    refit = {name: base_module.clone(e).fit(x, y) for name, e in bases().items()}
    features = pd.DataFrame(
        {
            f"{name}.probabilities[{j}]": model.predict_proba(x)[:, j]
            for name, model in refit.items()
            for j in range(3)
        }
    )
    outputs = stack.predict(x)
    assert np.allclose(
        [row["probabilities"] for row in outputs], stack.meta.predict_proba(features)
    )
    assert [row["label"] for row in outputs] == stack.meta.predict(features).tolist()
    assert stack.signature.outputs[1].labels == (0, 1, 2)
    assert round_trip(stack, tmp_path).predict(x) == outputs


def test_fit_stack_of_regressors_stacks_their_predictions() -> None:
    ensemble = pytest.importorskip("sklearn.ensemble")
    x, y = datasets.make_regression(n_samples=60, n_features=3, noise=1.0, random_state=0)
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    regressors = {
        "ridge": linear_model.Ridge(),
        "forest": ensemble.RandomForestRegressor(n_estimators=5, random_state=0),
    }
    stack = fit_stack(regressors, linear_model.LinearRegression(), frame, y, cv=3)
    check_model(stack, rows=frame[:4])
    assert [spec.name for spec in stack.signature.outputs] == ["prediction"]
    assert list(stack.meta.feature_names_in_) == ["ridge.prediction", "forest.prediction"]
    folds = model_selection.KFold(n_splits=3, shuffle=True, random_state=0)
    oof = pd.DataFrame(
        {
            f"{name}.prediction": model_selection.cross_val_predict(e, frame, y, cv=folds)
            for name, e in regressors.items()
        }
    )
    assert np.allclose(stack.meta.coef_, linear_model.LinearRegression().fit(oof, y).coef_)


def test_fit_stack_on_an_array_stacks_bases_taking_one_tensor(tmp_path: Path) -> None:
    x, y = classification()
    array = x.to_numpy()
    stack = fit_stack(bases(), linear_model.LogisticRegression(max_iter=500), array, y, cv=4)
    check_model(stack, rows=array[:5])
    assert stack.signature.kind == "tensors"
    assert np.allclose(stack.meta.coef_, fitted_stack().meta.coef_)
    assert round_trip(stack, tmp_path).predict(array) == stack.predict(array)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda x, y: fit_stack({}, linear_model.Ridge(), x, y), "base: expected at least one"),
        (
            lambda x, y: fit_stack(
                {"r": linear_model.Ridge(), **bases()}, linear_model.Ridge(), x, y
            ),
            r"base: mixes classifiers \(tree, logistic\) and regressors \(r\)",
        ),
        (lambda x, y: fit_stack({"1": linear_model.Ridge()}, linear_model.Ridge(), x, y), "'1'"),
    ],
    ids=["no-bases", "mixed", "bad-name"],
)
def test_fit_stack_bad_arguments_raise_config_error(make: Any, message: str) -> None:
    x, y = classification()
    with pytest.raises(ConfigError, match=message):
        make(x, y)


# ------------------------------------------------------------------ a stack by hand


def test_stack_over_registered_labels(registry: Registry, tmp_path: Path) -> None:
    """Stacking on labels: the meta is trained on columns '<base>.label'."""
    x, y = classification()
    for name, estimator in bases().items():
        registry.save(base_module.clone(estimator).fit(x, y), name, example=x[:5])
    members = {name: registry.model(f"{name}:1") for name in bases()}
    labels = pd.DataFrame(
        {f"{name}.label": registry.load(f"{name}:1").predict(x) for name in bases()}
    )
    labels = labels.map(lambda row: row["label"])
    meta = tree.DecisionTreeClassifier(max_depth=2, random_state=0).fit(labels, y)
    stack = Stack(members, meta, features="label")
    check_model(stack, rows=x[:5])
    outputs = stack.predict(x)
    assert [row["label"] for row in outputs] == meta.predict(labels).tolist()
    assert round_trip(stack, tmp_path).predict(x) == outputs


def test_a_failing_base_raises_model_error_naming_it() -> None:
    def picky(df: Any) -> Any:
        if (df["a"] > 5).any():
            raise ValueError("a is too large")
        return df["a"]

    features = pd.DataFrame({"double.prediction": [0.0, 2.0], "picky.prediction": [0.0, 1.0]})
    stack = Stack(
        {
            "double": live(lambda df: df["a"] * 2, example=[{"a": 1.0}]),
            "picky": live(picky, example=[{"a": 1.0}]),
        },
        linear_model.LinearRegression().fit(features, [0.0, 1.0]),
        features="prediction",
    )
    check_model(stack, rows=[{"a": 1.0}, {"a": 2.0}])
    assert stack.predict([{"a": 3.0}]) == pytest.approx([3.0])
    with pytest.raises(ModelError, match=r"stack base 'picky' failed: .*a is too large"):
        stack.predict([{"a": 9.0}])


def test_bad_stack_settings_raise_config_error() -> None:
    members = {"tree": fitted_stack().members["tree"]}
    with pytest.raises(ConfigError, match="features: expected one of probabilities"):
        Stack(members, linear_model.LinearRegression(), features="proba")
    with pytest.raises(ConfigError, match="meta: expected a fitted estimator with predict"):
        Stack(members, "tree")


def test_a_base_without_the_feature_output_is_refused_at_load() -> None:
    stack = Stack(fitted_stack().members, fitted_stack().meta, features="prediction")
    with pytest.raises(ConfigError, match="stack base 'tree': has no output 'prediction'"):
        stack.load()


def test_a_meta_fitted_on_other_columns_is_refused_at_load() -> None:
    x, y = classification()
    meta = linear_model.LogisticRegression(max_iter=500).fit(x, y)
    with pytest.raises(ConfigError, match=r"meta: fitted on columns \['a', 'b', 'c', 'd'\]"):
        Stack(fitted_stack().members, meta).load()


def test_from_spec_without_the_meta_raises_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="stack spec 'meta'"):
        Stack.from_spec(fitted_stack().to_spec(), fitted_stack().members, tmp_path)
