"""Every flavor as a user meets it: fit, ``registry.save``, ``registry.load``, predict.

Each case fits a small model once (cached), saves it with an example and its data,
and compares the loaded model's predictions with the live model's own ones.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest

from roost.errors import FlavorError, ModelError
from roost.store import Registry
from roost.testing import check_model


@dataclass(frozen=True)
class Case:
    """A fitted model, its data, and how the live model predicts, row by row."""

    model: Any
    flavor: str
    x_train: Any
    y_train: Any
    x_test: Any
    y_test: Any
    #: the live model's own predictions, shaped as roost returns them (one entry per row)
    expected: Callable[[Any], list[Any]]


# ------------------------------------------------------------------ data


def _table(n: int = 80) -> tuple[pd.DataFrame, np.ndarray]:
    """A small table with a string (categorical) column and string labels."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "colour": rng.choice(["red", "green", "blue"], n),
            "size": rng.normal(size=n),
            "weight": rng.integers(1, 10, n),
        }
    )
    labels = np.where(frame["size"] + (frame["colour"] == "red") > 0.5, "big", "small")
    return frame, labels


def _arrays(n: int = 80) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three numeric features, a regression target and a 0/1 class."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 3))
    y_reg = x @ np.array([1.0, 2.0, -1.0]) + rng.normal(scale=0.1, size=n)
    y_cls = (x[:, 0] + x[:, 1] > 0).astype(int)
    return x, y_reg, y_cls


def _pyfunc_frame(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    return pd.DataFrame({"a": rng.normal(size=n), "b": rng.integers(0, 5, n)})


def _split(x: Any, y: Any, n_train: int = 60) -> tuple[Any, Any, Any, Any]:
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


# -------------------------------------------------- how live models predict


def _classifier_rows(model: Any) -> Callable[[Any], list[Any]]:
    def rows(x: Any) -> list[Any]:
        labels, probabilities = model.predict(x).tolist(), model.predict_proba(x).tolist()
        return [
            {"label": label, "probabilities": p}
            for label, p in zip(labels, probabilities, strict=True)
        ]

    return rows


def _prediction_rows(predict: Callable[[Any], Any]) -> Callable[[Any], list[Any]]:
    return lambda x: np.asarray(predict(x)).tolist()


def _onnx_rows(onx: Any) -> Callable[[Any], list[Any]]:
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]

    def rows(x: Any) -> list[Any]:
        results = session.run(None, {session.get_inputs()[0].name: x})
        columns = [r.tolist() if isinstance(r, np.ndarray) else r for r in results]
        return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]

    return rows


# ------------------------------------------------------------------ cases


@functools.cache
def sklearn_logistic_iris() -> Case:
    datasets = pytest.importorskip("sklearn.datasets")
    linear_model = pytest.importorskip("sklearn.linear_model")
    iris = datasets.load_iris(as_frame=True)
    x = iris.data
    y = iris.target.map(dict(enumerate(iris.target_names)))  # string labels
    test = x.index % 3 == 0
    model = linear_model.LogisticRegression(max_iter=500).fit(x[~test], y[~test])
    return Case(model, "sklearn", x[~test], y[~test], x[test], y[test], _classifier_rows(model))


@functools.cache
def sklearn_pipeline_categorical() -> Case:
    compose = pytest.importorskip("sklearn.compose")
    ensemble = pytest.importorskip("sklearn.ensemble")
    pipeline = pytest.importorskip("sklearn.pipeline")
    preprocessing = pytest.importorskip("sklearn.preprocessing")
    frame, labels = _table()
    x_train, y_train, x_test, y_test = _split(frame, labels)
    prepare = compose.ColumnTransformer(
        [
            ("colour", preprocessing.OneHotEncoder(handle_unknown="ignore"), ["colour"]),
            ("numbers", preprocessing.StandardScaler(), ["size", "weight"]),
        ]
    )
    forest = ensemble.RandomForestClassifier(n_estimators=5, random_state=0)
    model = pipeline.Pipeline([("prepare", prepare), ("forest", forest)]).fit(x_train, y_train)
    return Case(model, "sklearn", x_train, y_train, x_test, y_test, _classifier_rows(model))


@functools.cache
def sklearn_regressor_numpy() -> Case:
    linear_model = pytest.importorskip("sklearn.linear_model")
    x, y, _ = _arrays()
    x_train, y_train, x_test, y_test = _split(x, y)
    model = linear_model.Ridge().fit(x_train, y_train)
    return Case(model, "sklearn", x_train, y_train, x_test, y_test, _prediction_rows(model.predict))


def _onnx_logistic(zipmap: bool) -> Case:
    linear_model = pytest.importorskip("sklearn.linear_model")
    skl2onnx = pytest.importorskip("skl2onnx")
    x, _, y = _arrays()
    x = x.astype(np.float32)
    labels = np.where(y == 1, "yes", "no") if zipmap else y
    x_train, y_train, x_test, y_test = _split(x, labels)
    fitted = linear_model.LogisticRegression().fit(x_train, y_train)
    options = {} if zipmap else {"zipmap": False}
    onx = skl2onnx.to_onnx(fitted, x_train[:1], options=options)
    return Case(onx, "onnx", x_train, y_train, x_test, y_test, _onnx_rows(onx))


@functools.cache
def onnx_without_zipmap() -> Case:
    return _onnx_logistic(zipmap=False)


@functools.cache
def onnx_with_zipmap() -> Case:
    return _onnx_logistic(zipmap=True)


@functools.cache
def xgboost_classifier_frame() -> Case:
    xgb = pytest.importorskip("xgboost")
    frame, labels = _table()
    x_train, y_train, x_test, y_test = _split(frame[["size", "weight"]], labels == "big")
    model = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(x_train, y_train.astype(int))
    return Case(model, "xgboost", x_train, y_train, x_test, y_test, _classifier_rows(model))


@functools.cache
def xgboost_regressor_numpy() -> Case:
    xgb = pytest.importorskip("xgboost")
    x, y, _ = _arrays()
    x_train, y_train, x_test, y_test = _split(x, y)
    model = xgb.XGBRegressor(n_estimators=5, max_depth=2).fit(x_train, y_train)
    return Case(model, "xgboost", x_train, y_train, x_test, y_test, _prediction_rows(model.predict))


@functools.cache
def xgboost_booster() -> Case:
    xgb = pytest.importorskip("xgboost")
    x, y, _ = _arrays()
    x_train, y_train, x_test, y_test = _split(x, y)
    booster = xgb.train({"max_depth": 2}, xgb.DMatrix(x_train, label=y_train), num_boost_round=5)
    expected = _prediction_rows(lambda rows: booster.predict(xgb.DMatrix(rows)))
    return Case(booster, "xgboost", x_train, y_train, x_test, y_test, expected)


@functools.cache
def lightgbm_classifier_frame() -> Case:
    lgb = pytest.importorskip("lightgbm")
    frame, labels = _table()
    x_train, y_train, x_test, y_test = _split(frame[["size", "weight"]], labels)
    model = lgb.LGBMClassifier(n_estimators=5, min_child_samples=5, verbose=-1)
    model.fit(x_train, y_train)
    return Case(model, "lightgbm", x_train, y_train, x_test, y_test, _classifier_rows(model))


@functools.cache
def lightgbm_regressor_numpy() -> Case:
    lgb = pytest.importorskip("lightgbm")
    x, y, _ = _arrays()
    x_train, y_train, x_test, y_test = _split(x, y)
    model = lgb.LGBMRegressor(n_estimators=5, min_child_samples=5, verbose=-1)
    model.fit(x_train, y_train)
    return Case(
        model, "lightgbm", x_train, y_train, x_test, y_test, _prediction_rows(model.predict)
    )


@functools.cache
def lightgbm_booster() -> Case:
    lgb = pytest.importorskip("lightgbm")
    x, y, _ = _arrays()
    x_train, y_train, x_test, y_test = _split(x, y)
    params = {"min_data_in_leaf": 5, "verbose": -1}
    booster = lgb.train(params, lgb.Dataset(x_train, label=y_train), num_boost_round=5)
    return Case(
        booster, "lightgbm", x_train, y_train, x_test, y_test, _prediction_rows(booster.predict)
    )


class Doubler:
    """A user's own model class: anything with ``predict`` is a pyfunc model."""

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return (frame["a"] * 2).to_numpy()


class TwoOutputs:
    """A model that names its outputs by returning a dict of them."""

    def predict(self, frame: pd.DataFrame) -> dict[str, Any]:
        return {"double": frame["a"] * 2, "total": (frame["a"] + frame["b"]).to_numpy()}


def _pyfunc(model: Any, expected: Callable[[Any], list[Any]]) -> Case:
    frame = _pyfunc_frame()
    x_train, y_train, x_test, y_test = _split(frame, frame["a"].to_numpy(), n_train=30)
    return Case(model, "pyfunc", x_train, y_train, x_test, y_test, expected)


@functools.cache
def pyfunc_lambda() -> Case:
    model: Callable[[pd.DataFrame], pd.Series] = lambda frame: frame["a"] * 2  # noqa: E731
    return _pyfunc(model, lambda x: model(x).tolist())


@functools.cache
def pyfunc_predict_class() -> Case:
    model = Doubler()
    return _pyfunc(model, lambda x: model.predict(x).tolist())


@functools.cache
def pyfunc_dict_outputs() -> Case:
    model = TwoOutputs()

    def expected(x: Any) -> list[Any]:
        outputs = model.predict(x)
        double, total = outputs["double"].tolist(), outputs["total"].tolist()
        return [{"double": d, "total": t} for d, t in zip(double, total, strict=True)]

    return _pyfunc(model, expected)


CASES = [
    sklearn_logistic_iris,
    sklearn_pipeline_categorical,
    sklearn_regressor_numpy,
    onnx_without_zipmap,
    onnx_with_zipmap,
    xgboost_classifier_frame,
    xgboost_regressor_numpy,
    xgboost_booster,
    lightgbm_classifier_frame,
    lightgbm_regressor_numpy,
    lightgbm_booster,
    pyfunc_lambda,
    pyfunc_predict_class,
    pyfunc_dict_outputs,
]
IDS = [make.__name__.replace("_", "-") for make in CASES]


Saved = Callable[[Callable[[], Case]], tuple[Registry, str]]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Saved:
    """Each case saved once, in one registry for this module; the tests only read it."""
    registry = Registry(tmp_path_factory.mktemp("flavors") / "roost-home")
    refs: dict[str, str] = {}

    def save(make: Callable[[], Case]) -> tuple[Registry, str]:
        if make.__name__ not in refs:
            refs[make.__name__] = _save(registry, make(), name=make.__name__)
        return registry, refs[make.__name__]

    return save


def _save(registry: Registry, case: Case, name: str = "model") -> str:
    version = registry.save(
        case.model,
        name,
        example=case.x_train[:5],
        data={"train": (case.x_train, case.y_train), "test": (case.x_test, case.y_test)},
    )
    return str(version)


def _json_rows(x: Any) -> Any:
    """The rows as a client would send them over HTTP: plain JSON."""
    rows = x.to_dict(orient="records") if isinstance(x, pd.DataFrame) else x.tolist()
    return json.loads(json.dumps(rows))


# ------------------------------------------------------------ every flavor


@pytest.mark.parametrize("make", CASES, ids=IDS)
def test_flavor_loaded_model_predicts_like_live_model(saved: Saved, make: Any) -> None:
    registry, ref = saved(make)
    case = make()

    assert registry.load(ref).predict(case.x_test) == case.expected(case.x_test)


@pytest.mark.parametrize("make", CASES, ids=IDS)
def test_flavor_is_detected_from_the_object(saved: Saved, make: Any) -> None:
    registry, ref = saved(make)

    assert registry.metadata(ref)["flavor"]["name"] == make().flavor


@pytest.mark.parametrize("make", CASES, ids=IDS)
def test_flavor_model_passes_check_model(saved: Saved, make: Any) -> None:
    registry, ref = saved(make)

    check_model(registry.model(ref))


@pytest.mark.parametrize("make", CASES, ids=IDS)
def test_flavor_json_rows_predict_like_the_training_type(saved: Saved, make: Any) -> None:
    """Rows sent as JSON (records or nested lists) give the same outputs as the frame/array."""
    registry, ref = saved(make)
    model, case = registry.load(ref), make()

    assert model.predict(_json_rows(case.x_test)) == model.predict(case.x_test)


@pytest.mark.parametrize("make", CASES, ids=IDS)
def test_flavor_outputs_are_plain_python_values(saved: Saved, make: Any) -> None:
    """No numpy scalar leaks out: outputs survive json.dumps unchanged."""
    registry, ref = saved(make)
    outputs = registry.load(ref).predict(make().x_test)

    assert json.loads(json.dumps(outputs)) == _json_keys(outputs)
    assert not _numpy_values(outputs)


def _json_keys(value: Any) -> Any:
    """What JSON does to dict keys (they become strings), and nothing else."""
    if isinstance(value, dict):
        return {str(k): _json_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_keys(v) for v in value]
    return value


def _numpy_values(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return _numpy_values(list(value)) + _numpy_values(list(value.values()))
    if isinstance(value, list):
        return [bad for v in value for bad in _numpy_values(v)]
    return [value] if isinstance(value, np.generic) else []


@pytest.mark.parametrize(
    "form",
    ["dataframe", "records", "one-dict", "list-of-lists", "numpy"],
    ids=["dataframe", "records", "one-dict", "list-of-lists", "numpy"],
)
def test_check_model_accepts_rows_in_every_form(saved: Saved, form: str) -> None:
    registry, ref = saved(sklearn_pipeline_categorical)
    frame = sklearn_pipeline_categorical().x_test[:4]
    rows = {
        "dataframe": frame,
        "records": frame.to_dict(orient="records"),
        "one-dict": frame.to_dict(orient="records")[0],
        "list-of-lists": frame.to_numpy().tolist(),
        "numpy": frame.to_numpy(),
    }[form]

    check_model(registry.model(ref), rows=rows)


# ------------------------------------------------------ flavor by flavor


def test_sklearn_string_labels_are_plain_strings_in_signature(saved: Saved) -> None:
    """Labels fitted from pandas strings are np.str_; model.yaml must hold plain str."""
    registry, ref = saved(sklearn_logistic_iris)
    (probabilities,) = [
        o for o in registry.metadata(ref)["signature"]["outputs"] if o["name"] == "probabilities"
    ]

    assert probabilities["labels"] == ["setosa", "versicolor", "virginica"]
    assert all(type(label) is str for label in probabilities["labels"])


def test_onnx_zipmap_gives_one_plain_dict_per_row(saved: Saved) -> None:
    registry, ref = saved(onnx_with_zipmap)
    outputs = registry.load(ref).predict(onnx_with_zipmap().x_test)

    probabilities = outputs[0]["output_probability"]
    assert sorted(probabilities) == ["no", "yes"]
    assert all(type(p) is float for p in probabilities.values())


def test_onnx_float64_rows_are_cast_to_the_graph_float32(saved: Saved) -> None:
    registry, ref = saved(onnx_without_zipmap)
    model, case = registry.load(ref), onnx_without_zipmap()

    assert model.predict(case.x_test.astype(np.float64)) == case.expected(case.x_test)


def test_onnx_signature_comes_from_the_graph(saved: Saved) -> None:
    registry, ref = saved(onnx_without_zipmap)

    (tensor,) = registry.metadata(ref)["signature"]["inputs"]
    assert (tensor["name"], tensor["dtype"], tensor["shape"]) == ("X", "float32", [-1, 3])


def _columns_frame() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    return frame, frame["a"] * 2 + frame["b"]


def _fit_on_columns(kind: str) -> tuple[Any, Callable[[pd.DataFrame], Any]]:
    frame, y = _columns_frame()
    if kind == "sklearn":
        model = pytest.importorskip("sklearn.linear_model").Ridge().fit(frame, y)
        return model, model.predict
    if kind == "xgboost":
        model = pytest.importorskip("xgboost").XGBRegressor(n_estimators=5).fit(frame, y)
        return model, model.predict
    if kind == "xgboost-booster":
        xgb = pytest.importorskip("xgboost")
        booster = xgb.train({}, xgb.DMatrix(frame, label=y), num_boost_round=5)
        return booster, lambda x: booster.predict(xgb.DMatrix(x))
    lgb = pytest.importorskip("lightgbm")
    if kind == "lightgbm":
        model = lgb.LGBMRegressor(n_estimators=5, min_child_samples=5, verbose=-1).fit(frame, y)
        return model, model.predict
    params = {"min_data_in_leaf": 5, "verbose": -1}
    booster = lgb.train(params, lgb.Dataset(frame, label=y), num_boost_round=5)
    return booster, booster.predict


FITTED_ON_COLUMNS = ["sklearn", "xgboost", "xgboost-booster", "lightgbm", "lightgbm-booster"]


@pytest.mark.parametrize("kind", FITTED_ON_COLUMNS, ids=FITTED_ON_COLUMNS)
def test_framework_example_in_another_column_order_predicts_like_fit_order(
    registry: Registry, kind: str
) -> None:
    """Columns are fed in fit order: LightGBM would otherwise predict on swapped columns."""
    frame, _ = _columns_frame()
    model, predict = _fit_on_columns(kind)
    ref = str(registry.save(model, "swapped", example=frame[["b", "a"]][:5]))

    # approx: a reordered frame may take another BLAS path; swapped columns would be far off
    assert registry.load(ref).predict(frame) == pytest.approx(predict(frame).tolist(), rel=1e-12)


@pytest.mark.parametrize("kind", FITTED_ON_COLUMNS, ids=FITTED_ON_COLUMNS)
def test_framework_fitted_on_columns_accepts_an_array_example(
    registry: Registry, kind: str
) -> None:
    frame, _ = _columns_frame()
    model, predict = _fit_on_columns(kind)
    ref = str(registry.save(model, "unnamed", example=frame.to_numpy()[:5]))

    assert registry.load(ref).predict(frame.to_numpy()) == predict(frame).tolist()


def test_pyfunc_one_value_for_the_whole_batch_is_refused_at_save(registry: Registry) -> None:
    frame = _pyfunc_frame()

    with pytest.raises(ModelError, match=r"one value per input row \(5\), got a single ndarray"):
        registry.save(lambda x: np.asarray(x["a"].sum()), "total", example=frame[:5])


def test_pyfunc_class_instead_of_instance_is_refused(registry: Registry) -> None:
    """A class has a ``predict`` too, but calling it on a batch would build an object."""
    with pytest.raises(
        FlavorError, match=r"cannot save the class .*Doubler: pass a fitted instance"
    ):
        registry.save(Doubler, "doubler", example=_pyfunc_frame()[:5])


def test_pyfunc_output_of_the_wrong_length_is_refused_at_save(registry: Registry) -> None:
    frame = _pyfunc_frame()

    with pytest.raises(ModelError, match=r"output 'prediction'.*\(5\), got 1"):
        registry.save(lambda x: x["a"].to_numpy()[:1], "first", example=frame[:5])


def test_pyfunc_dict_outputs_are_typed_by_their_values(saved: Saved) -> None:
    """A Series in the dict is measured as a float64 output, not an opaque object."""
    registry, ref = saved(pyfunc_dict_outputs)

    outputs = registry.metadata(ref)["signature"]["outputs"]
    assert [(o["name"], o["dtype"]) for o in outputs] == [
        ("double", "float64"),
        ("total", "float64"),
    ]
