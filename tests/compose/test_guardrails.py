"""Guarded: rules around a model, and the ``rules`` output that says what fired (the
fallback itself: test_fallback.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from roost.compose._rules import AllowedRange, Clamp, DenyList, Override, rules_from_dicts
from roost.compose.guardrails import Fallback, Guarded
from roost.errors import ConfigError, NotLoadedError, SignatureError
from roost.model import ColumnSpec, Model, OutputSpec, Signature
from roost.store import Registry
from roost.testing import check_model

# ---------------------------------------------------------------- models


class Scorer:
    """A live model: ``decision`` and ``score`` from ``amount`` and ``merchant``."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.loaded = False

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
        time.sleep(self.delay_s)
        return [
            {"decision": "approve" if amount < 500 else "decline", "score": min(amount / 1000, 1.0)}
            for amount in frame["amount"]
        ]


ROWS = [
    {"amount": 10.0, "merchant": "m-1"},
    {"amount": 900.0, "merchant": "m-13"},
    {"amount": 20000.0, "merchant": "m-2"},
]


@pytest.fixture(scope="module")
def iris() -> pd.DataFrame:
    from sklearn.datasets import load_iris

    data = load_iris(as_frame=True)
    frame = data.frame.drop(columns="target")
    frame.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    frame["species"] = data.target_names[data.target]
    return frame  # type: ignore[no-any-return]


@pytest.fixture
def classifier(registry: Registry, iris: pd.DataFrame) -> Model:
    from sklearn.linear_model import LogisticRegression

    x, y = iris.drop(columns="species"), iris["species"]
    registry.save(LogisticRegression(max_iter=500).fit(x, y), "iris", example=x[:5])
    return registry.load("iris:1")


@pytest.fixture
def regression() -> pd.DataFrame:
    from sklearn.datasets import make_regression

    x, y = make_regression(n_samples=60, n_features=3, noise=1.0, random_state=0)
    frame = pd.DataFrame(x, columns=["a", "b", "amount"])
    frame["target"] = y
    return frame


@pytest.fixture
def regressor(registry: Registry, regression: pd.DataFrame) -> Model:
    from sklearn.linear_model import LinearRegression

    x = regression.drop(columns="target")
    registry.save(LinearRegression().fit(x, regression["target"]), "reg", example=x[:5])
    return registry.load("reg:1")


def loaded(guarded: Guarded) -> Guarded:
    guarded.load()
    return guarded


def fired(outputs: list[dict[str, Any]]) -> list[str]:
    return [row["rules"] for row in outputs]


# ---------------------------------------------------------------- each rule


def test_clamp_clips_and_names_exactly_the_clipped_rows(
    regressor: Model, regression: pd.DataFrame
) -> None:
    x = regression.drop(columns="target")[:20]
    raw = regressor.predict(x)
    guarded = loaded(Guarded(regressor, [Clamp("prediction", min=-50, max=50)]))
    outputs = guarded.predict(x)
    assert [row["prediction"] for row in outputs] == [min(max(v, -50), 50) for v in raw]
    assert fired(outputs) == ["clamp_prediction" if abs(v) > 50 else "" for v in raw]
    assert set(fired(outputs)) == {"clamp_prediction", ""}  # some rows fired, some did not
    assert guarded.path_of(outputs) == ["model", "rule:clamp_prediction"]


def test_nothing_fired_gives_empty_rules_and_the_model_path(classifier: Model) -> None:
    guarded = loaded(Guarded(classifier, [AllowedRange("sepal_length", max=99, action="reject")]))
    rows = [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}]
    outputs = guarded.predict(rows)
    assert outputs[0]["label"] == classifier.predict(rows)[0]["label"]
    assert fired(outputs) == [""]
    assert guarded.path_of(outputs) == ["model"]


def test_allowed_range_on_input_rejects_with_signature_error() -> None:
    rule = AllowedRange("amount", min=0, max=10000, action="reject")
    guarded = loaded(Guarded(Scorer(), [rule]))
    with pytest.raises(SignatureError, match="rule 'range_amount': input 'amount'") as caught:
        guarded.predict(ROWS)
    assert "got 20000.0 (row 2)" in str(caught.value)
    assert (caught.value.field, caught.value.row) == ("amount", 2)


def test_input_reject_is_raised_by_validate_so_a_server_refuses_that_request_alone() -> None:
    guarded = loaded(Guarded(Scorer(), [DenyList("merchant", ["m-13"], action="reject")]))
    with pytest.raises(SignatureError, match="rule 'deny_merchant': input 'merchant' 'm-13'"):
        guarded.validate(ROWS)
    assert len(guarded.validate(ROWS[:1])) == 1


def test_allowed_range_on_input_sends_rows_to_the_fallback() -> None:
    fallback = Fallback(value={"decision": "needs_review", "score": 0.5})
    guarded = loaded(Guarded(Scorer(), [AllowedRange("amount", max=10000)], fallback))
    outputs = guarded.predict(ROWS)
    assert [row["decision"] for row in outputs] == ["approve", "decline", "needs_review"]
    assert fired(outputs) == ["", "", "range_amount,fallback"]
    assert guarded.path_of(outputs) == ["model", "fallback", "rule:range_amount"]


def test_an_output_rule_may_not_reject_a_batch_of_other_requests() -> None:
    rule = AllowedRange("score", max=0.95, action="reject", name="score_cap")
    with pytest.raises(ConfigError, match=r"'score_cap': action 'reject' applies to inputs only"):
        loaded(Guarded(Scorer(), [rule]))


def test_deny_list_on_input_merchant_answers_from_the_fallback() -> None:
    fallback = Fallback(value={"decision": "blocked", "score": 1.0})
    guarded = loaded(Guarded(Scorer(), [DenyList("merchant", ["m-13", "m-666"])], fallback))
    outputs = guarded.predict(ROWS)
    assert outputs[1] == {"decision": "blocked", "score": 1.0, "rules": "deny_merchant,fallback"}
    assert fired(outputs) == ["", "deny_merchant,fallback", ""]


def test_deny_list_on_classifier_label_answers_from_fallback_value(
    classifier: Model, iris: pd.DataFrame
) -> None:
    x = iris.drop(columns="species").iloc[[0, 60, 120]]  # setosa, versicolor, virginica
    unknown = {"label": "unknown", "probabilities": [1 / 3, 1 / 3, 1 / 3]}
    rule = DenyList("label", ["virginica"], name="no_virginica")
    guarded = loaded(Guarded(classifier, [rule], Fallback(value=unknown)))
    outputs = guarded.predict(x)
    assert [row["label"] for row in outputs] == ["setosa", "versicolor", "unknown"]
    assert outputs[2]["probabilities"] == unknown["probabilities"]
    assert fired(outputs) == ["", "", "no_virginica,fallback"]


def test_override_replaces_outputs_where_the_condition_holds() -> None:
    rule = Override(
        when="amount > 10000", set={"decision": "needs_review"}, name="large_amount_review"
    )
    guarded = loaded(Guarded(Scorer(), [rule]))
    outputs = guarded.predict(ROWS)
    assert [row["decision"] for row in outputs] == ["approve", "decline", "needs_review"]
    assert outputs[2]["score"] == 1  # outputs not in set= are the model's
    assert fired(outputs) == ["", "", "large_amount_review"]


def test_override_reads_outputs_of_earlier_rules(classifier: Model, iris: pd.DataFrame) -> None:
    x = iris.drop(columns="species").iloc[[0, 60, 120]]
    rules = [
        Override(
            when="label == 'virginica' and petal_length > 5",
            set={"label": "check"},
            name="tall_virginica",
        ),
        Override(when="label == 'check'", set={"label": "reviewed"}, name="second"),
    ]
    outputs = loaded(Guarded(classifier, rules)).predict(x)
    assert [row["label"] for row in outputs] == ["setosa", "versicolor", "reviewed"]
    assert fired(outputs) == ["", "", "tall_virginica,second"]


def test_output_rules_apply_in_declared_order() -> None:
    rules = [
        Override(when="amount > 10000", set={"score": 7.0}, name="boost"),
        Clamp("score", max=2),
    ]
    outputs = loaded(Guarded(Scorer(), rules)).predict(ROWS)
    assert outputs[2]["score"] == 2.0
    assert outputs[2]["rules"] == "boost,clamp_score"


# ---------------------------------------------------------------- the contract


def test_check_model_passes_on_guarded(regressor: Model, regression: pd.DataFrame) -> None:
    rules = [
        AllowedRange("amount", min=-1.5, action="fallback"),
        Clamp("prediction", min=-50, max=50),
        Override(when="a > 1 and prediction > 0", set={"prediction": 1.0}, name="cap_high_a"),
    ]
    guarded = Guarded(regressor, rules, Fallback(value=0.0, timeout_ms=5000))
    check_model(guarded, regression.drop(columns="target")[:12])


@pytest.mark.parametrize("with_model", [False, True], ids=["value", "model"])
def test_spec_round_trip_predicts_identically(
    tmp_path: Path, regressor: Model, regression: pd.DataFrame, with_model: bool
) -> None:
    fallback = Fallback(model=regressor) if with_model else Fallback(value=-1.0, timeout_ms=900)
    rules = [
        AllowedRange("amount", max=1, name="small"),
        DenyList("b", [0.0]),
        Clamp("prediction", min=-60, max=60),
        Override(when="`a` < -1 or prediction == None", set={"prediction": 0.5}, name="low_a"),
    ]
    guarded = loaded(Guarded(regressor, rules, fallback))
    spec = {**guarded.to_spec(), **guarded.save_owned(tmp_path)}
    again = Guarded.from_spec(json.loads(json.dumps(spec)), guarded.members, tmp_path)
    again.load()
    x = regression.drop(columns="target")
    assert again.predict(x) == guarded.predict(x)
    assert again.to_spec() == guarded.to_spec()
    assert {"small", "clamp_prediction", "low_a"} <= {
        name for row in guarded.predict(x) for name in row["rules"].split(",")
    }


def test_from_yaml_reads_rules_declared_beside_the_model(tmp_path: Path) -> None:
    path = tmp_path / "guardrails.yaml"
    path.write_text(
        """
rules:
  - kind: allowed_range
    field: amount
    min: 0
    action: reject
  - kind: deny_list
    field: merchant
    values: [m-13, m-666]
  - kind: clamp
    output: score
    min: 0
    max: 0.95
  - kind: override
    name: large_amount_review
    when: amount > 10000
    set: {decision: needs_review}
fallback:
  value: {decision: needs_review, score: 0.5}
  timeout_ms: 200
""",
        encoding="utf-8",
    )
    guarded = loaded(Guarded.from_yaml(path, Scorer()))
    outputs = guarded.predict(ROWS)
    assert fired(outputs) == ["", "deny_merchant,fallback", "clamp_score,large_amount_review"]
    assert outputs[2] == {
        "decision": "needs_review",
        "score": 0.95,
        "rules": "clamp_score,large_amount_review",
    }
    with pytest.raises(SignatureError, match="range_amount"):
        guarded.predict([{"amount": -5.0, "merchant": "m-1"}])


def test_from_yaml_takes_the_fallback_model_by_name(tmp_path: Path) -> None:
    path = tmp_path / "guardrails.yaml"
    path.write_text("fallback:\n  model: fallback\n  timeout_ms: 50\n", encoding="utf-8")
    guarded = loaded(Guarded.from_yaml(path, Scorer(delay_s=0.5), fallback_model=Scorer()))
    assert fired(guarded.predict(ROWS[:1])) == ["fallback"]
    with pytest.raises(ConfigError, match=r"guardrails\.yaml: fallback: model 'fallback' expects"):
        Guarded.from_yaml(path, Scorer())


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("rules:\n  - kind: clamp\n    outptu: score\n", r"unknown keys \['outptu'\]"),
        ("fallback:\n  value: 0\n  timeout_ms: 200ms\n", "positive number, got '200ms'"),
    ],
    ids=["unknown-key", "timeout-not-a-number"],
)
def test_from_yaml_bad_file_names_the_path(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "guardrails.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"guardrails\.yaml.*{problem}"):
        Guarded.from_yaml(path, Scorer())


def test_rules_round_trip_through_dicts() -> None:
    rules = [
        Clamp("score", min=0, max=1),
        AllowedRange("amount", max=5, action="reject", name="cap"),
        DenyList("merchant", ("m-1",)),
        Override(when="amount > 1", set={"decision": "x"}, name="o"),
    ]
    assert rules_from_dicts(json.loads(json.dumps([r.to_dict() for r in rules]))) == rules
    assert Clamp.from_dict(rules[0].to_dict()) == rules[0]
    with pytest.raises(ConfigError, match="got the data of a allowed_range rule"):
        Clamp.from_dict(rules[1].to_dict())


# ---------------------------------------------------------------- declaration errors

LOAD_ERRORS = [
    (Clamp("amont_out", max=1), "rule 'clamp_amont_out' \\(clamp\\): 'amont_out' is not an output"),
    (Clamp("decision", max=1), "rule 'clamp_decision'.*'decision' is string"),
    (AllowedRange("amonut", min=0), "rule 'range_amonut'.*'amonut' is neither an input nor"),
    (AllowedRange("merchant", min=0), "'merchant' is string; this rule needs number"),
    (DenyList("merchant", [13]), "rule 'deny_merchant'.*'merchant' is string but values hold"),
    (DenyList("merchnt", ["m-1"]), "rule 'deny_merchnt'.*'merchnt' is neither"),
    (Override(when="amount > 1", set={"decison": "x"}, name="o"), "rule 'o'.*'decison' is not"),
    (Override(when="amount > 1", set={"score": "high"}, name="o"), "rule 'o'.*'score' holds a"),
    (Override(when="amout > 1", set={"score": 1.0}, name="o"), "rule 'o'.*unknown name 'amout'"),
    (Override(when="merchant > 1", set={"score": 1.0}, name="o"), "rule 'o'.*compares a string"),
]


@pytest.mark.parametrize(("rule", "problem"), LOAD_ERRORS, ids=[m for _, m in LOAD_ERRORS])
def test_rule_that_does_not_fit_the_model_is_refused_at_load(rule: Any, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        Guarded(Scorer(), [rule], Fallback(value={"decision": "x", "score": 0.0})).load()


DECLARATION_ERRORS = [
    (lambda: Clamp("score"), "give min, max or both"),
    (lambda: Clamp("score", min=2, max=1), "min \\(2\\) is above max \\(1\\)"),
    (lambda: Clamp("score", min="0"), "min must be a number"),  # type: ignore[arg-type]
    (lambda: AllowedRange("amount", min=0, action="drop"), "action must be 'fallback' or"),
    (lambda: DenyList("merchant", "m-13"), "values must be a list"),
    (lambda: DenyList("merchant", []), "values must be strings"),
    (lambda: Override(when="amount.real > 1", set={"a": 1}, name="o"), "attribute access"),
    (lambda: Override(when="amount > 1", set={}, name="o"), "set must map outputs"),
    (lambda: Override(when="amount > 1", set={"a": 1}, name="no name"), "rule name 'no name'"),
    (lambda: Clamp("score", max=1, name="fallback"), "reserved"),
    (lambda: Fallback(), "exactly one of value= and model="),
    (lambda: Fallback(value=1, timeout_ms=0), "timeout_ms: expected a positive number"),
    (lambda: Fallback(value=1, timeout_ms="200"), "positive number, got '200'"),  # type: ignore[arg-type]
    (lambda: Fallback(value=1, timeout_ms=float("inf")), "positive number, got inf"),
    (lambda: Fallback(model="fraud:3"), "expected a roost Model"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(
    ("make", "problem"), DECLARATION_ERRORS, ids=[m for _, m in DECLARATION_ERRORS]
)
def test_bad_declaration_is_refused_when_made(make: Any, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        make()


def test_guarded_refuses_duplicate_names_and_a_missing_fallback() -> None:
    with pytest.raises(ConfigError, match="two rules are named 'clamp_score'"):
        Guarded(Scorer(), [Clamp("score", max=1), Clamp("score", min=0)])
    with pytest.raises(ConfigError, match="rule 'range_amount': action 'fallback' needs fallback"):
        Guarded(Scorer(), [AllowedRange("amount", min=0)])
    with pytest.raises(ConfigError, match="rules_from_dicts"):
        Guarded(Scorer(), [{"kind": "clamp", "output": "score"}])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"decision": "x"}, "expected a dict of every output"),
        ({"decision": 1, "score": 0.0}, "'decision' holds a string value, got 1"),
        ("needs_review", "expected a dict of every output"),
    ],
    ids=["missing-output", "wrong-type", "not-a-row"],
)
def test_fallback_value_that_does_not_fit_is_refused_at_load(value: Any, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        Guarded(Scorer(), [], Fallback(value=value)).load()


def test_fallback_model_with_other_outputs_is_refused_at_load(classifier: Model) -> None:
    with pytest.raises(ConfigError, match="member 'fallback': expected the outputs of 'model'"):
        Guarded(Scorer(), [], Fallback(model=classifier)).load()
