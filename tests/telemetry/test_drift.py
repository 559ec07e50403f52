"""Drift: PSI of recent inputs and outputs against the training baseline."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from roost.errors import ConfigError
from roost.model.baseline import profile_column
from roost.telemetry._records import PredictionRecord
from roost.telemetry.drift import (
    MAJOR,
    MIN_VALUES,
    MODERATE,
    NO_BASELINE,
    PSI_FLOOR,
    STABLE,
    TOO_FEW,
    drift_report,
    feature_drift,
    psi,
)


def _record(inputs: list[Any], outputs: list[Any], pid: str = "p") -> PredictionRecord:
    return PredictionRecord(pid, 0.0, "m", 1, "v1", inputs, outputs, 1.0)


def _uniform_profile(edges: list[float]) -> dict[str, Any]:
    share = 1 / (len(edges) + 1)
    return {"kind": "numeric", "edges": edges, "proportions": [share] * (len(edges) + 1)}


# ------------------------------------------------------------- psi


def test_psi_hand_computed() -> None:
    # (0.25 - 0.5) ln(0.5) + (0.75 - 0.5) ln(1.5)
    assert psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.2746531, abs=1e-7)


def test_psi_empty_bin_is_floored_not_infinite() -> None:
    value = psi([0.5, 0.5, 0.0], [0.5, 0.4, 0.1])

    expected = (0.4 - 0.5) * math.log(0.4 / 0.5) + (0.1 - PSI_FLOOR) * math.log(0.1 / PSI_FLOOR)
    assert value == pytest.approx(expected)
    assert value == pytest.approx(0.7123991, abs=1e-7)


@pytest.mark.parametrize(
    ("expected", "actual"),
    [([0.5, 0.5], [1.0]), ([], []), ([0.5, -0.1], [0.5, 0.5]), ([math.nan, 1.0], [0.5, 0.5])],
    ids=["lengths-differ", "no-bins", "negative", "nan"],
)
def test_psi_bad_shares_raise(expected: list[float], actual: list[float]) -> None:
    with pytest.raises(ConfigError, match="psi"):
        psi(expected, actual)


_shares = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@given(st.lists(st.tuples(_shares, _shares), min_size=1, max_size=20))
def test_psi_is_never_negative(bins: list[tuple[float, float]]) -> None:
    expected, actual = zip(*bins, strict=True)

    assert psi(expected, actual) >= 0


@given(st.lists(_shares, min_size=1, max_size=20))
def test_psi_of_identical_shares_is_zero(shares: list[float]) -> None:
    assert psi(shares, shares) == 0


# ------------------------------------------------------------- numeric features


def test_feature_drift_same_distribution_is_stable() -> None:
    profile = profile_column(np.random.default_rng(0).normal(size=20_000))
    recent = np.random.default_rng(1).normal(size=5_000).tolist()

    drift = feature_drift("x", profile, recent)

    assert drift.psi is not None
    assert drift.psi < 0.01
    assert (drift.level, drift.n, drift.missing, drift.kind) == (STABLE, 5_000, 0, "numeric")


def test_feature_drift_training_values_themselves_give_zero() -> None:
    train = np.random.default_rng(0).normal(size=1_000)

    drift = feature_drift("x", profile_column(train), train.tolist())

    assert drift.psi == pytest.approx(0.0, abs=1e-12)


def test_feature_drift_shifted_normal_is_major() -> None:
    profile = profile_column(np.random.default_rng(0).normal(size=20_000))
    recent = np.random.default_rng(1).normal(loc=1.0, size=5_000).tolist()

    drift = feature_drift("x", profile, recent)

    assert drift.psi is not None
    assert drift.psi > 0.25
    assert drift.level == MAJOR


def test_feature_drift_small_shift_is_moderate() -> None:
    profile = profile_column(np.random.default_rng(0).normal(size=20_000))
    recent = np.random.default_rng(1).normal(loc=0.4, size=20_000).tolist()

    assert feature_drift("x", profile, recent).level == MODERATE


def test_feature_drift_numeric_hand_computed_with_right_closed_bins() -> None:
    """1.0 and 2.0 sit on edges and fall in the bins those edges close."""
    profile = {"kind": "numeric", "edges": [1.0, 2.0], "proportions": [0.2, 0.5, 0.3]}

    drift = feature_drift("x", profile, [0.5, 1.0, 1.5, 2.0, 3.0])

    # actual shares [0.4, 0.4, 0.2]
    # 0.2 ln(0.4/0.2) + (-0.1) ln(0.4/0.5) + (-0.1) ln(0.2/0.3)
    assert drift.psi == pytest.approx(0.2014903, abs=1e-7)
    assert (drift.n, drift.level) == (5, TOO_FEW)


def test_feature_drift_numeric_missing_values_are_counted_apart() -> None:
    profile = _uniform_profile([0.0])
    values = [-1.0, 1.0, None, math.nan, math.inf, "abc", True]

    drift = feature_drift("x", profile, values)

    assert (drift.n, drift.missing) == (2, 5)
    assert drift.psi == pytest.approx(0.0)


def test_feature_drift_numeric_all_missing_has_no_psi() -> None:
    drift = feature_drift("x", _uniform_profile([0.0]), [None, math.nan])

    assert (drift.psi, drift.n, drift.missing, drift.level) == (None, 0, 2, TOO_FEW)


def test_feature_drift_numpy_scalars_are_numbers() -> None:
    drift = feature_drift("x", _uniform_profile([0.0]), [np.float32(-1), np.int64(1)])

    assert (drift.n, drift.missing) == (2, 0)


@pytest.mark.parametrize(("n", "level"), [(99, TOO_FEW), (100, STABLE)], ids=["99", "100"])
def test_feature_drift_too_few_values_below_min(n: int, level: str) -> None:
    assert MIN_VALUES == 100
    values = [-1.0, 1.0] * (n // 2) + [-1.0] * (n % 2)

    drift = feature_drift("x", _uniform_profile([0.0]), values)

    assert drift.psi is not None
    assert drift.level == level


def test_feature_drift_baseline_without_bins_says_so() -> None:
    """Training held no finite value: the profile has no edges to compare with."""
    profile = {"kind": "numeric", "count": 3, "missing": 3}

    drift = feature_drift("x", profile, [1.0, 2.0])

    assert (drift.psi, drift.n, drift.level) == (None, 2, NO_BASELINE)


def test_feature_drift_categorical_baseline_without_shares_says_so() -> None:
    profile = {"kind": "categorical", "count": 2, "missing": 2, "proportions": {}}

    drift = feature_drift("colour", profile, ["a", None])

    assert (drift.psi, drift.n, drift.missing, drift.level) == (None, 1, 1, NO_BASELINE)


def test_feature_drift_inconsistent_bins_raise() -> None:
    profile = {"kind": "numeric", "edges": [0.0, 1.0], "proportions": [0.5, 0.5]}

    with pytest.raises(ConfigError, match=r"'x'.*3 proportions"):
        feature_drift("x", profile, [0.5])


def test_feature_drift_unknown_kind_raises() -> None:
    with pytest.raises(ConfigError, match=r"'x'.*'text'"):
        feature_drift("x", {"kind": "text"}, ["a"])


# ------------------------------------------------------------- categorical features


def test_feature_drift_categorical_unseen_values_pool_into_empty_other() -> None:
    profile = {"kind": "categorical", "proportions": {"a": 0.6, "b": 0.4}}
    values = ["a"] * 60 + ["b"] * 30 + ["c"] * 6 + ["d"] * 4

    drift = feature_drift("colour", profile, values)

    # (0.3 - 0.4) ln(0.3 / 0.4) + (0.1 - 1e-4) ln(0.1 / 1e-4); "a" matches exactly
    assert drift.psi == pytest.approx(0.7188530, abs=1e-7)
    assert (drift.kind, drift.n, drift.level) == ("categorical", 100, MAJOR)


def test_feature_drift_categorical_unseen_values_join_existing_other() -> None:
    profile = {"kind": "categorical", "proportions": {"a": 0.5, "__other__": 0.5}}

    drift = feature_drift("colour", profile, ["a", "y", "z", "a"])

    assert drift.psi == pytest.approx(0.0)


def test_feature_drift_categorical_compares_by_str() -> None:
    """Booleans and integers were profiled as their str(), so True matches "True"."""
    profile = {"kind": "categorical", "proportions": {"True": 0.5, "1": 0.5}}

    assert feature_drift("flag", profile, [True, 1]).psi == pytest.approx(0.0)


def test_feature_drift_categorical_none_and_nan_are_missing() -> None:
    profile = {"kind": "categorical", "proportions": {"a": 1.0}}

    drift = feature_drift("colour", profile, ["a", None, math.nan])

    assert (drift.n, drift.missing) == (1, 2)
    assert drift.psi == pytest.approx(0.0)


# ------------------------------------------------------------- drift_report


_BASELINE: dict[str, Any] = {
    "features": {
        "age": _uniform_profile([30.0]),
        "city": {"kind": "categorical", "proportions": {"oslo": 0.5, "rome": 0.5}},
    },
    "outputs": {"prediction": _uniform_profile([0.5])},
}


def test_drift_report_reads_dict_rows_by_name() -> None:
    rows = [{"age": 20, "city": "oslo"}, {"city": "rome", "age": 40}] * 60
    record = _record(rows, [0.0, 1.0] * 60)

    report = drift_report(_BASELINE, [record])

    by_name = {d.name: d for d in report.features}
    assert by_name["age"].psi == pytest.approx(0.0)
    assert by_name["city"].psi == pytest.approx(0.0)
    assert (by_name["age"].n, report.n_records, report.n_rows) == (120, 1, 120)


def test_drift_report_matches_list_rows_in_baseline_order() -> None:
    # all ages young and all cities oslo: both drift
    record = _record([[20, "oslo"]] * 100, [0.0] * 100)

    report = drift_report(_BASELINE, [record])

    by_name = {d.name: d for d in report.features}
    assert (by_name["age"].n, by_name["age"].missing) == (100, 0)
    assert by_name["age"].level == MAJOR
    assert by_name["city"].level == MAJOR


def test_drift_report_short_and_scalar_rows_count_as_missing() -> None:
    record = _record([[20], 7.5, [40, "rome"]], [0.0] * 3)

    report = drift_report(_BASELINE, [record])

    assert {d.name: (d.n, d.missing) for d in report.features} == {
        "age": (2, 1),
        "city": (1, 2),
    }


def test_drift_report_feature_order_overrides_baseline_order() -> None:
    """baseline.json is written with sorted keys; the signature's order is passed in."""
    record = _record([["oslo", 20]] * 10, [0.0] * 10)

    report = drift_report(_BASELINE, [record], feature_order=["city", "age"])

    assert {d.name: d.missing for d in report.features} == {"age": 0, "city": 0}


def test_drift_report_list_rows_follow_tensor_column_index() -> None:
    """x[10] sorts before x[2] in the JSON; list rows follow the tensor's index."""
    profiles = {
        f"x[{j}]": {"kind": "numeric", "edges": [float(j)], "proportions": [0.3, 0.7]}
        for j in range(11)
    }
    # as baseline.json stores them: x[0], x[1], x[10], x[2], ...
    baseline = {"features": dict(sorted(profiles.items()))}
    # column j gets j, on its edge: the lower bin. Read in the JSON's order, x[2] would
    # get 3 (its upper bin), as x[10] would sit in its place
    record = _record([[float(j) for j in range(11)]] * 10, [0.0] * 10)

    report = drift_report(baseline, [record])

    all_lower = psi([0.3, 0.7], [1.0, 0.0])
    assert [d.psi for d in report.features] == [pytest.approx(all_lower)] * 11


def test_drift_report_dict_rows_read_tensor_vectors() -> None:
    baseline = {"features": {"x[0]": _uniform_profile([0.0]), "x[1]": _uniform_profile([0.0])}}
    record = _record([{"x": [-1.0, 1.0]}, {"x": [1.0]}], [0, 0])

    report = drift_report(baseline, [record])

    assert {d.name: (d.n, d.missing) for d in report.features} == {
        "x[0]": (2, 0),
        "x[1]": (1, 1),
    }


def test_drift_report_absent_feature_has_no_psi_and_counts_missing() -> None:
    record = _record([{"age": 20}, {"age": 40}], [0.0, 1.0])

    report = drift_report(_BASELINE, [record])

    city = report.features[-1]
    assert (city.name, city.psi, city.n, city.missing) == ("city", None, 0, 2)


def test_drift_report_scalar_output_matches_the_only_baseline_output() -> None:
    record = _record([{"age": 1}] * 100, [1.0] * 100)

    report = drift_report(_BASELINE, [record])

    (output,) = report.outputs
    assert (output.name, output.n, output.level) == ("prediction", 100, MAJOR)


def test_drift_report_dict_outputs_by_name_skip_non_scalars() -> None:
    baseline = {
        "features": {},
        "outputs": {
            "label": {"kind": "categorical", "proportions": {"cat": 0.5, "dog": 0.5}},
            "score": _uniform_profile([0.5]),
        },
    }
    outputs = [{"label": "cat", "score": 0.2, "probabilities": [0.8, 0.2]}] * 3 + [
        {"label": "dog", "score": [0.9]}
    ]
    report = drift_report(baseline, [_record([{}] * 4, outputs)])

    by_name = {d.name: d for d in report.outputs}
    assert (by_name["label"].n, by_name["label"].missing) == (4, 0)
    assert (by_name["score"].n, by_name["score"].missing) == (3, 1)
    assert [d.name for d in report.features] == []


def test_drift_report_scalar_output_with_several_baseline_outputs_is_missing() -> None:
    baseline = {
        "features": {},
        "outputs": {"a": _uniform_profile([0.0]), "b": _uniform_profile([0.0])},
    }

    report = drift_report(baseline, [_record([{}], [1.0])])

    assert [(d.n, d.missing) for d in report.outputs] == [(0, 1), (0, 1)]


def test_drift_report_sorted_by_psi_descending_none_last_ties_by_name() -> None:
    baseline = {
        "features": {
            "z_absent": _uniform_profile([0.0]),
            "b_same": _uniform_profile([0.0]),
            "a_same": _uniform_profile([0.0]),
            "c_shifted": _uniform_profile([0.0]),
        }
    }
    rows = [
        {"a_same": -1, "b_same": -1, "c_shifted": 1},
        {"a_same": 1, "b_same": 1, "c_shifted": 1},
    ]

    report = drift_report(baseline, [_record(rows, [0, 0])])

    assert [d.name for d in report.features] == ["c_shifted", "a_same", "b_same", "z_absent"]


def test_drift_report_counts_records_and_rows() -> None:
    records = [_record([{"age": 1}] * 3, [0.0] * 3, "a"), _record([{"age": 1}], [0.0], "b")]

    report = drift_report(_BASELINE, records)

    assert (report.n_records, report.n_rows) == (2, 4)


def test_drift_report_empty_input() -> None:
    report = drift_report(_BASELINE, [])

    assert (report.n_records, report.n_rows) == (0, 0)
    assert all(d.psi is None and d.level == TOO_FEW for d in report.features + report.outputs)
