"""live(): a fitted object in memory as a Model, measured exactly as a registered one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from roost.compose._live import LiveModel, live
from roost.errors import ConfigError, FlavorError, ModelError, NotLoadedError, SignatureError
from roost.store import Registry
from roost.testing import check_model

datasets = pytest.importorskip("sklearn.datasets")
linear_model = pytest.importorskip("sklearn.linear_model")


def _iris_classifier() -> tuple[Any, pd.DataFrame]:
    iris = datasets.load_iris(as_frame=True)
    y = iris.target.map(dict(enumerate(iris.target_names)))  # string labels
    return linear_model.LogisticRegression(max_iter=500).fit(iris.data, y), iris.data


def _regressor() -> tuple[Any, pd.DataFrame]:
    x, y = datasets.make_regression(n_samples=60, n_features=3, random_state=0)
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    return linear_model.Ridge().fit(frame, y), frame


def _callable() -> tuple[Any, pd.DataFrame]:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "n": [1, 2, 3]})
    return (lambda df: {"double": df["a"] * 2, "name": ["x"] * len(df)}), frame


def _array_fitted() -> tuple[Any, Any]:
    x, y = datasets.make_classification(n_samples=40, n_features=4, random_state=0)
    return linear_model.LogisticRegression().fit(x, y), x


CASES: dict[str, Callable[[], tuple[Any, Any]]] = {
    "classifier": _iris_classifier,
    "regressor": _regressor,
    "callable": _callable,
    "tensors": _array_fitted,
}


@pytest.mark.parametrize("make", CASES.values(), ids=CASES.keys())
def test_live_matches_the_registered_model(registry: Registry, make: Any) -> None:
    """Same signature, same outputs, as the same object saved and loaded."""
    obj, x = make()
    model = live(obj, example=x[:5])
    model.load()
    registry.save(obj, "m", example=x[:5])
    loaded = registry.load("m:1")
    assert model.signature.to_dict() == loaded.signature.to_dict()
    assert model.predict(x[:10]) == loaded.predict(x[:10])
    assert model.example == loaded.example


def test_live_without_proba_answers_a_prediction() -> None:
    obj, x = _iris_classifier()
    model = live(obj, example=x[:5], proba=False)
    model.load()
    assert [spec.name for spec in model.signature.outputs] == ["prediction"]
    assert model.predict(x.iloc[[0]]) == ["setosa"]


def test_live_classifier_passes_check_model() -> None:
    obj, x = _iris_classifier()
    check_model(live(obj, example=x[:5]))


def test_live_predict_before_load_raises_not_loaded() -> None:
    obj, x = _regressor()
    model = live(obj, example=x[:5])
    assert not model.is_loaded
    with pytest.raises(NotLoadedError, match="model live is not loaded"):
        model.predict(x[:1])


def test_live_load_is_idempotent() -> None:
    obj, x = _regressor()
    model = live(obj, example=x[:5], name="ridge")
    model.load()
    signature = model.signature
    model.load()
    assert model.signature is signature
    assert model.predict_one({"a": 0.0, "b": 0.0, "c": 0.0}) == pytest.approx(obj.intercept_)


def test_live_refuses_rows_that_do_not_fit() -> None:
    obj, x = _regressor()
    model = live(obj, example=x[:5])
    model.load()
    with pytest.raises(SignatureError):
        model.predict([{"a": 1.0, "b": 2.0}])


def test_live_without_example_raises_config_error() -> None:
    obj, _ = _regressor()
    with pytest.raises(ConfigError, match="example: required"):
        live(obj, example=None)


def test_live_with_an_empty_name_raises_config_error() -> None:
    obj, x = _regressor()
    with pytest.raises(ConfigError, match="name: expected a non-empty string"):
        live(obj, example=x[:5], name="")


def test_live_of_an_unknown_object_raises_flavor_error() -> None:
    with pytest.raises(FlavorError, match=r"cannot save a builtins\.object"):
        live(object(), example=[{"a": 1.0}])


def test_live_failing_on_its_example_raises_model_error_at_load() -> None:
    def broken(df: Any) -> Any:
        raise RuntimeError("no luck")

    model = live(broken, example=[{"a": 1.0}], name="broken")
    with pytest.raises(ModelError, match=r"model broken failed on its own example: .*no luck"):
        model.load()


def test_live_failing_at_predict_raises_model_error_naming_it() -> None:
    def picky(df: Any) -> Any:
        if (df["a"] > 5).any():
            raise ValueError("a is too large")
        return df["a"]

    model = live(picky, example=[{"a": 1.0}], name="picky")
    model.load()
    with pytest.raises(ModelError, match="model picky failed: ValueError: a is too large"):
        model.predict([{"a": 9.0}])


def test_live_measures_at_most_twenty_example_rows() -> None:
    obj, x = _regressor()
    model = live(obj, example=x)
    model.load()
    assert isinstance(model, LiveModel)
    assert len(model.example) == 20
    assert np.allclose(model.predict(x), obj.predict(x))
