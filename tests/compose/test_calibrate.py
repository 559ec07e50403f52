"""calibrate: the cheapest threshold that meets the target, checked against brute force."""

from __future__ import annotations

import json
import math
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from roost.compose.calibrate import CascadeCalibration, calibrate
from roost.compose.cascade import Cascade
from roost.errors import ConfigError
from roost.model import Model
from roost.store import Registry


class Case(NamedTuple):
    fast: Model
    slow: Model
    X_val: pd.DataFrame
    y_val: np.ndarray[Any, Any]


class Scored(NamedTuple):
    threshold: float
    accuracy: float
    n_slow: int


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Case:
    """A registered logistic regression (fast, 0.79) and random forest (slow, 0.895)."""
    X, y = make_classification(
        n_samples=600, n_features=6, n_informative=4, n_clusters_per_class=3, random_state=1
    )
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    X_train, y_train = frame[:400], y[:400]
    registry = Registry(tmp_path_factory.mktemp("calibrate") / "roost-home")
    forest = RandomForestClassifier(n_estimators=25, min_samples_leaf=3, random_state=0)
    fast = registry.save(LogisticRegression().fit(X_train, y_train), "fast", example=X_train[:5])
    slow = registry.save(forest.fit(X_train, y_train), "slow", example=X_train[:5])
    val = frame[400:].reset_index(drop=True)
    return Case(registry.load(str(fast)), registry.load(str(slow)), val, y[400:])


@pytest.fixture
def cascade(case: Case) -> Cascade:
    return Cascade(case.fast, case.slow, names=("lr", "forest"))  # not loaded: calibrate loads


def _brute_force(case: Case) -> list[Scored]:
    """Every candidate threshold, scored by answering each row the way the cascade would."""
    by_fast, by_slow = case.fast.predict(case.X_val), case.slow.predict(case.X_val)
    confidence = [max(out["probabilities"]) for out in by_fast]
    scored = []
    for threshold in sorted({0.0, *confidence, math.inf}):
        answers = [
            f["label"] if c >= threshold else s["label"]
            for f, s, c in zip(by_fast, by_slow, confidence, strict=True)
        ]
        right = sum(a == b for a, b in zip(answers, case.y_val.tolist(), strict=True))
        n_slow = sum(c < threshold for c in confidence)
        scored.append(Scored(threshold, right / len(answers), n_slow))
    return scored


def _accuracy(labels: list[Any], truth: list[Any]) -> float | None:
    return sum(a == b for a, b in zip(labels, truth, strict=True)) / len(labels) if labels else None


def test_calibrate_meets_a_reachable_target_with_the_fewest_rows_to_slow(
    case: Case, cascade: Cascade
) -> None:
    scored = _brute_force(case)
    target = 0.87  # lr alone 0.79, forest alone 0.895: a mix of both is needed
    meeting = [s for s in scored if s.accuracy >= target]
    fewest = min(s.n_slow for s in meeting)
    cheapest = max(
        (s for s in meeting if s.n_slow == fewest), key=lambda s: (s.accuracy, s.threshold)
    )
    assert 0 < fewest < len(case.y_val)

    report = calibrate(cascade, case.X_val, case.y_val, target_accuracy=target)

    assert report.met
    assert report.threshold == cheapest.threshold
    assert report.accuracy == pytest.approx(cheapest.accuracy)
    assert report.accuracy >= target
    assert report.share["forest"] == pytest.approx(fewest / len(case.y_val))
    assert report.n_rows == len(case.y_val)


def test_calibrate_reports_an_unreachable_target_without_raising(
    case: Case, cascade: Cascade
) -> None:
    best = max(s.accuracy for s in _brute_force(case))
    assert best < 1.0

    report = calibrate(cascade, case.X_val, case.y_val, target_accuracy=1.0)

    assert not report.met
    assert report.accuracy == pytest.approx(best)
    assert f"best reachable accuracy is {best:.4f}" in report.message


def test_calibrated_cascade_routes_and_scores_as_reported(case: Case, cascade: Cascade) -> None:
    """The report's shares and accuracies are what the calibrated cascade really does."""
    report = calibrate(cascade, case.X_val, case.y_val, target_accuracy=0.87)
    outputs = report.cascade.predict(case.X_val)
    truth = case.y_val.tolist()
    for phase in ("lr", "forest"):
        answered = [i for i, out in enumerate(outputs) if out["phase"] == phase]
        labels = [outputs[i]["label"] for i in answered]
        assert report.share[phase] == pytest.approx(len(answered) / len(outputs))
        assert report.accuracy_by_phase[phase] == pytest.approx(
            _accuracy(labels, [truth[i] for i in answered])
        )
    assert report.accuracy == pytest.approx(_accuracy([o["label"] for o in outputs], truth))
    assert report.cascade.threshold == report.threshold
    assert cascade.threshold == 0.9  # the cascade given is left as it was


def test_calibrate_reports_each_member_alone(case: Case, cascade: Cascade) -> None:
    report = calibrate(cascade, case.X_val, case.y_val, target_accuracy=0.87)
    truth = case.y_val.tolist()
    for name, member in (("lr", case.fast), ("forest", case.slow)):
        labels = [out["label"] for out in member.predict(case.X_val)]
        assert report.member_accuracy[name] == pytest.approx(_accuracy(labels, truth))


def test_calibrate_latency_is_fast_plus_the_slow_share_of_slow(
    case: Case, cascade: Cascade
) -> None:
    report = calibrate(cascade, case.X_val, case.y_val, target_accuracy=0.87, repeat=3)
    fast_ms, slow_ms = report.member_latency_ms["lr"], report.member_latency_ms["forest"]
    assert fast_ms > 0
    assert slow_ms > 0
    assert report.latency_ms_by_phase == {"lr": fast_ms, "forest": fast_ms + slow_ms}
    assert report.latency_ms == pytest.approx(fast_ms + report.share["forest"] * slow_ms)


def test_calibrate_tries_only_the_thresholds_given(case: Case, cascade: Cascade) -> None:
    report = calibrate(cascade, case.X_val, case.y_val, target_accuracy=0.5, thresholds=[0.95, 0.7])
    assert report.threshold == 0.7  # both meet 0.5: the lower sends fewer rows to slow


def test_calibrate_always_slow_has_no_fast_accuracy_and_stays_json_safe(
    case: Case, cascade: Cascade
) -> None:
    report = calibrate(cascade, case.X_val, case.y_val, target_accuracy=0.5, thresholds=[math.inf])
    assert report.threshold == math.inf
    assert report.share == {"lr": 0.0, "forest": 1.0}
    assert report.accuracy_by_phase["lr"] is None
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["threshold"] == "inf"
    assert data["cascade"] == {"kind": "cascade", "members": ["lr", "forest"], "threshold": "inf"}


def test_calibration_summary_names_both_phases(case: Case, cascade: Cascade) -> None:
    report = calibrate(cascade, case.X_val, case.y_val, target_accuracy=0.87)
    text = str(report)
    assert text.splitlines()[0] == report.message
    assert "lr" in text
    assert "forest" in text


@pytest.mark.parametrize(
    ("change", "argument"),
    [
        ({"target_accuracy": 0}, "target_accuracy"),
        ({"target_accuracy": 1.5}, "target_accuracy"),
        ({"target_accuracy": True}, "target_accuracy"),
        ({"y_val": [0, 1]}, "y_val"),
        ({"X_val": [], "y_val": []}, "X_val"),
        ({"repeat": 0}, "repeat"),
        ({"thresholds": [2.0]}, "thresholds"),
        ({"thresholds": []}, "thresholds"),
    ],
    ids=["target 0", "target 1.5", "target bool", "short y", "no rows", "repeat 0", "t 2", "no t"],
)
def test_calibrate_refuses_bad_arguments_naming_them(
    case: Case, cascade: Cascade, change: dict[str, Any], argument: str
) -> None:
    arguments: dict[str, Any] = {
        "X_val": case.X_val,
        "y_val": case.y_val,
        "target_accuracy": 0.9,
        **change,
    }
    with pytest.raises(ConfigError, match=argument):
        calibrate(cascade, **arguments)


def test_calibrate_refuses_a_model_that_is_not_a_cascade(case: Case) -> None:
    with pytest.raises(ConfigError, match="cascade: expected a Cascade, got PackagedModel"):
        calibrate(case.fast, case.X_val, case.y_val, target_accuracy=0.9)  # type: ignore[arg-type]


def test_calibration_is_a_frozen_report(case: Case, cascade: Cascade) -> None:
    report = calibrate(cascade, case.X_val, case.y_val, target_accuracy=0.87, repeat=1)
    assert isinstance(report, CascadeCalibration)
    with pytest.raises(AttributeError):
        report.threshold = 0.5  # type: ignore[misc]
