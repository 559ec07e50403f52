"""Pipeline: an earlier step's outputs feed later steps, by name or through a mapping."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from roost.compose._live import LiveModel, live
from roost.compose.pipeline import Pipeline
from roost.errors import ConfigError, ModelError
from roost.model import Model
from roost.store import Registry
from roost.testing import check_model

datasets = pytest.importorskip("sklearn.datasets")
linear_model = pytest.importorskip("sklearn.linear_model")


@functools.cache
def data() -> tuple[pd.DataFrame, Any, Any]:
    """Three columns, a regression target, and a class that depends on that target."""
    x, y = datasets.make_regression(n_samples=80, n_features=3, noise=5.0, random_state=0)
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    return frame, y, (y + 20 * frame["a"] > 0).astype(int).to_numpy()


@functools.cache
def regressor() -> Any:
    frame, y, _ = data()
    return linear_model.Ridge().fit(frame, y)


def classifier(score_column: str) -> Any:
    """A classifier trained on column ``a`` and the regressor's prediction as ``score_column``."""
    frame, _, labels = data()
    train = pd.DataFrame({"a": frame["a"], score_column: regressor().predict(frame)})
    return linear_model.LogisticRegression().fit(train, labels)


def steps(score_column: str) -> list[tuple[str, Model]]:
    frame, _, _ = data()
    train = pd.DataFrame({"a": frame["a"], score_column: regressor().predict(frame)})
    return [
        ("score", live(regressor(), example=frame[:5])),
        ("classify", live(classifier(score_column), example=train[:5])),
    ]


def expected(score_column: str, frame: pd.DataFrame) -> list[list[float]]:
    fed = pd.DataFrame({"a": frame["a"], score_column: regressor().predict(frame)})
    probabilities: list[list[float]] = classifier(score_column).predict_proba(fed).tolist()
    return probabilities


def round_trip(pipeline: Pipeline, directory: Path) -> Pipeline:
    extra = pipeline.save_owned(directory)
    spec = json.loads(json.dumps({**pipeline.to_spec(), **extra}))
    rebuilt = Pipeline.from_spec(spec, pipeline.members, directory)
    rebuilt.load()
    return rebuilt


# ------------------------------------------------------------------ behaviour


def test_mapping_feeds_a_column_from_an_earlier_output(tmp_path: Path) -> None:
    frame, _, _ = data()
    pipeline = Pipeline(
        steps("embedding_score"), mapping={"classify": {"embedding_score": "score.prediction"}}
    )
    check_model(pipeline, rows=frame[:6])
    assert pipeline.signature.input_names == ["a", "b", "c"]
    assert pipeline.signature.outputs == pipeline.members["classify"].signature.outputs
    outputs = pipeline.predict(frame)
    got = [row["probabilities"] for row in outputs]
    assert np.allclose(got, expected("embedding_score", frame))
    assert round_trip(pipeline, tmp_path).predict(frame) == outputs


@pytest.mark.parametrize("column", ["prediction", "score.prediction"], ids=["bare", "qualified"])
def test_a_column_named_after_an_earlier_output_is_fed_without_mapping(column: str) -> None:
    frame, _, _ = data()
    pipeline = Pipeline(steps(column))
    pipeline.load()
    got = [row["probabilities"] for row in pipeline.predict(frame)]
    assert np.allclose(got, expected(column, frame))


def test_mapping_may_feed_a_column_from_the_request() -> None:
    """The classifier's score comes from request column ``given`` instead of the regressor."""
    frame, _, _ = data()
    pipeline = Pipeline(steps("score_in"), mapping={"classify": {"score_in": "given"}})
    pipeline.load()
    assert pipeline.signature.input_names == ["a", "b", "c", "given"]
    rows = frame.assign(given=0.0)
    fed = pd.DataFrame({"a": frame["a"], "score_in": 0.0})
    got = [row["probabilities"] for row in pipeline.predict(rows)]
    assert np.allclose(got, classifier("score_in").predict_proba(fed))


def test_steps_may_be_a_mapping_of_registered_versions(registry: Registry) -> None:
    frame, _, _ = data()
    registry.save(regressor(), "score", example=frame[:5])
    train = pd.DataFrame({"a": frame["a"], "prediction": regressor().predict(frame)})
    registry.save(classifier("prediction"), "classify", example=train[:5])
    pipeline = Pipeline(
        {"score": registry.model("score:1"), "classify": registry.model("classify:1")}
    )
    check_model(pipeline, rows=frame[:4])
    got = [row["probabilities"] for row in pipeline.predict(frame)]
    assert np.allclose(got, expected("prediction", frame))


def test_a_failing_step_raises_model_error_naming_it() -> None:
    def broken(df: Any) -> Any:
        if (df["prediction"] > 1e6).any():
            raise ValueError("score out of range")
        return df["prediction"]

    pipeline = Pipeline(
        [("score", steps("x")[0][1]), ("guard", live(broken, example=[{"prediction": 1.0}]))]
    )
    pipeline.load()
    with pytest.raises(ModelError, match=r"pipeline step 'guard' failed: .*score out of range"):
        pipeline.predict([{"a": 1e6, "b": 1e6, "c": 1e6}])


# ------------------------------------------------------------------ configuration


def doubler(column: str, value: Any) -> LiveModel:
    return live(lambda df: df[column] * 2, example=[{column: value}], name=f"double-{column}")


def labeller() -> LiveModel:
    return live(lambda df: np.where(df["a"] > 0, "up", "down"), example=[{"a": 1.0}])


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Pipeline([("one", doubler("a", 1.0))] * 2), "step name 'one' is given twice"),
        (
            lambda: Pipeline([doubler("a", 1.0)]),  # type: ignore[list-item]
            r"steps: expected \(name, model\) pairs",
        ),
        (lambda: Pipeline("ab"), "steps: expected a list of"),  # type: ignore[arg-type]
        (
            lambda: Pipeline({"one": doubler("a", 1.0)}, mapping={"two": {"a": "b"}}),
            r"mapping: 'two' is not a step \(steps: one\)",
        ),
        (
            lambda: Pipeline({"one": doubler("a", 1.0)}, mapping={"one": {"a": 1}}),  # type: ignore[dict-item]
            r"mapping\['one'\]: expected a mapping of input column to source name",
        ),
    ],
    ids=["twice", "not-pairs", "string", "unknown-step", "not-strings"],
)
def test_bad_steps_or_mapping_raise_config_error(make: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make()


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"two": {"z": "one.prediction"}}, r"mapping\['two'\]: step 'two' has no input column 'z'"),
        ({"two": {"prediction": "one.score"}}, "step 'one' has no output 'score'"),
        ({"one": {"a": "two.prediction"}}, "step 'two' does not run before step 'one'"),
        ({"two": {"prediction": "nosuch.prediction"}}, "'nosuch' is not a step"),
    ],
    ids=["unknown-column", "unknown-output", "later-step", "unknown-source-step"],
)
def test_mapping_naming_what_does_not_exist_is_refused_at_load(
    mapping: dict[str, dict[str, str]], message: str
) -> None:
    pipeline = Pipeline(
        [("one", doubler("a", 1.0)), ("two", doubler("prediction", 1.0))], mapping=mapping
    )
    with pytest.raises(ConfigError, match=message):
        pipeline.load()


def test_a_bare_name_given_by_two_earlier_steps_is_refused_at_load() -> None:
    pipeline = Pipeline(
        [
            ("one", doubler("a", 1.0)),
            ("two", doubler("b", 1.0)),
            ("three", doubler("prediction", 1.0)),
        ]
    )
    with pytest.raises(ConfigError, match="output 'prediction' is given by steps 'one', 'two'"):
        pipeline.load()


def test_a_vector_output_feeding_a_column_is_refused_at_load() -> None:
    pipeline = Pipeline(
        [("classify", steps("s")[1][1]), ("next", doubler("p", 1.0))],
        mapping={"next": {"p": "classify.probabilities"}},
    )
    with pytest.raises(ConfigError, match="output 'probabilities' of step 'classify' has shape"):
        pipeline.load()


def test_a_string_output_feeding_a_number_column_is_refused_at_load() -> None:
    pipeline = Pipeline([("one", labeller()), ("two", doubler("prediction", 1.0))])
    with pytest.raises(ConfigError, match="input 'prediction': expected float64, but output"):
        pipeline.load()


def test_from_spec_runs_the_steps_in_the_spec_order(tmp_path: Path) -> None:
    """Members read back from JSON with sorted keys come in another order."""
    frame, _, _ = data()
    pipeline = Pipeline(steps("prediction"))
    pipeline.load()
    shuffled = dict(reversed(pipeline.members.items()))
    spec = json.loads(json.dumps(pipeline.to_spec()))
    rebuilt = Pipeline.from_spec(spec, shuffled, tmp_path)
    assert list(rebuilt.members) == ["score", "classify"]
    rebuilt.load()
    assert rebuilt.predict(frame) == pipeline.predict(frame)
    with pytest.raises(ConfigError, match="pipeline spec 'members': expected the names"):
        Pipeline.from_spec({**spec, "members": ["score"]}, shuffled, tmp_path)


def test_a_step_taking_tensors_is_refused_at_load() -> None:
    x, y = datasets.make_regression(n_samples=20, n_features=2, random_state=0)
    pipeline = Pipeline([("t", live(linear_model.Ridge().fit(x, y), example=x[:5]))])
    with pytest.raises(ConfigError, match="member 't' takes tensors"):
        pipeline.load()


def test_request_column_with_two_types_is_refused_at_load() -> None:
    pipeline = Pipeline([("one", doubler("a", 1.0)), ("two", doubler("a", 1))])
    with pytest.raises(ConfigError, match="column 'a' is float64 for step 'one' but int64"):
        pipeline.load()
