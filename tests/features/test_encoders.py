"""Encoders: fitted on training values, a pure ``encode(value, state)`` everywhere after."""

from __future__ import annotations

import copy
import itertools
import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roost.errors import ConfigError, FeatureError
from roost.features.encoders import (
    ENCODER_KINDS,
    Encoder,
    QuantileBins,
    StandardScaler,
    Vocabulary,
    encoder_from_spec,
)

ENCODERS = [
    StandardScaler("amount"),
    Vocabulary("currency"),
    Vocabulary("currency", max_size=10, min_count=2),
    QuantileBins("amount"),
    QuantileBins("amount", bins=3),
]
ENCODER_IDS = ["scaler", "vocabulary", "vocabulary-limited", "bins", "bins-3"]
MISSING = [None, float("nan"), np.float64("nan"), np.float32("nan"), pd.NA, pd.NaT]
MISSING_IDS = ["none", "nan", "np-float64-nan", "np-float32-nan", "pd-na", "pd-nat"]
_finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)


def json_round_trip(state: dict[str, Any]) -> dict[str, Any]:
    """The state as the model package gives it back (strict JSON, as saved)."""
    loaded: dict[str, Any] = json.loads(json.dumps(state, allow_nan=False))
    return loaded


# --- StandardScaler ---------------------------------------------------------------------------


def test_standard_scaler_fit_gives_mean_and_population_std() -> None:
    values = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]
    state = StandardScaler("amount").fit(values)
    assert state == {"mean": 5.0, "std": 2.0}
    assert state["std"] == pytest.approx(float(np.std(values)))


def test_standard_scaler_encode_centres_and_scales() -> None:
    scaler = StandardScaler("amount")
    state = scaler.fit([1.0, 3.0])
    assert [scaler.encode(v, state) for v in (1.0, 2.0, 3.0, 6)] == [-1.0, 0.0, 1.0, 4.0]


def test_standard_scaler_fit_skips_missing_values() -> None:
    scaler = StandardScaler("amount")
    assert scaler.fit([1.0, None, 3.0, float("nan")]) == scaler.fit([1.0, 3.0])
    assert scaler.fit(pd.Series([1.0, None, 3.0])) == {"mean": 2.0, "std": 1.0}
    assert scaler.fit(pd.Series([1, None, 3], dtype="Int64")) == {"mean": 2.0, "std": 1.0}


@pytest.mark.parametrize("missing", MISSING, ids=MISSING_IDS)
def test_standard_scaler_encode_missing_gives_zero(missing: Any) -> None:
    scaler = StandardScaler("amount")
    assert scaler.encode(missing, scaler.fit([10.0, 20.0])) == 0.0


@pytest.mark.parametrize("constant", [3.0, 0.1, -7, 1e-300], ids=["3", "0.1", "-7", "tiny"])
def test_standard_scaler_constant_column_gets_std_one(constant: float) -> None:
    scaler = StandardScaler("amount")
    state = scaler.fit([constant] * 7)
    assert state == {"mean": constant, "std": 1.0}
    assert scaler.encode(constant, state) == 0.0
    assert scaler.encode(constant + 1.0, state) == pytest.approx(1.0)


def test_standard_scaler_numpy_and_python_numbers_encode_alike() -> None:
    scaler = StandardScaler("amount")
    state = scaler.fit(np.array([1.0, 2.0, 4.0]))
    assert state == scaler.fit([1.0, 2.0, 4.0])
    assert scaler.encode(np.int64(4), state) == scaler.encode(4.0, state)
    assert isinstance(scaler.encode(np.float32(2.5), state), float)


@pytest.mark.parametrize("values", [[], [None, float("nan")]], ids=["empty", "all-missing"])
def test_standard_scaler_fit_without_present_values_fails(values: list[Any]) -> None:
    with pytest.raises(FeatureError, match=r"standard_scaler encoder of 'amount'.*present value"):
        StandardScaler("amount").fit(values)


@pytest.mark.parametrize(
    ("bad", "expected"),
    [("abc", "a number"), (True, "a number"), (float("inf"), "a finite number"), ([1], "a number")],
    ids=["text", "bool", "inf", "list"],
)
def test_standard_scaler_fit_non_number_fails_naming_value_and_row(bad: Any, expected: str) -> None:
    with pytest.raises(FeatureError) as caught:
        StandardScaler("amount").fit([1.0, 2.0, bad])
    message = str(caught.value)
    assert "standard_scaler encoder of 'amount' (value 2)" in message
    assert f"expected {expected}" in message
    assert repr(bad) in message


def test_standard_scaler_encode_non_number_fails() -> None:
    scaler = StandardScaler("amount")
    with pytest.raises(FeatureError, match=r"'amount'.*expected a number, got '3.5'"):
        scaler.encode("3.5", {"mean": 0.0, "std": 1.0})


@pytest.mark.parametrize(
    "state",
    [{}, {"mean": 1.0}, {"mean": "1", "std": 1.0}, {"tokens": []}, None],
    ids=["empty", "no-std", "text-mean", "other-kind", "none"],
)
def test_standard_scaler_encode_bad_state_fails(state: Any) -> None:
    with pytest.raises(FeatureError, match=r"standard_scaler encoder of 'amount'.*state"):
        StandardScaler("amount").encode(1.0, state)


# --- Vocabulary -------------------------------------------------------------------------------


def test_vocabulary_fit_orders_by_count_then_value() -> None:
    values = ["b", "c", "a", "c", "b", "d", "c"]
    assert Vocabulary("currency").fit(values) == {"tokens": ["c", "b", "a", "d"]}


def test_vocabulary_encode_gives_position_plus_one() -> None:
    vocabulary = Vocabulary("currency")
    state = vocabulary.fit(["EUR", "USD", "EUR", "GBP"])
    encoded = [vocabulary.encode(v, state) for v in ("EUR", "GBP", "USD")]
    assert encoded == [1, 2, 3]


@pytest.mark.parametrize("unknown", ["JPY", "", "eur", 1], ids=["new", "empty", "case", "int"])
def test_vocabulary_unknown_category_gives_zero(unknown: Any) -> None:
    vocabulary = Vocabulary("currency")
    assert vocabulary.encode(unknown, vocabulary.fit(["EUR", "USD"])) == 0


@pytest.mark.parametrize("missing", MISSING, ids=MISSING_IDS)
def test_vocabulary_missing_gives_zero_and_is_not_a_token(missing: Any) -> None:
    vocabulary = Vocabulary("currency")
    state = vocabulary.fit(["EUR", missing, missing])
    assert state == {"tokens": ["EUR"]}
    assert vocabulary.encode(missing, state) == 0


def test_vocabulary_max_size_keeps_most_frequent() -> None:
    values = ["a"] * 3 + ["b"] * 2 + ["c"] * 2 + ["d"]
    assert Vocabulary("currency", max_size=2).fit(values) == {"tokens": ["a", "b"]}


def test_vocabulary_min_count_drops_rare_categories() -> None:
    vocabulary = Vocabulary("currency", min_count=2)
    state = vocabulary.fit(["a", "a", "b", "c", "c", "c"])
    assert state == {"tokens": ["c", "a"]}
    assert vocabulary.encode("b", state) == 0


def test_vocabulary_compares_values_as_text() -> None:
    """Non-string values are str()'d in fit and encode alike; numpy scalars as Python's."""
    vocabulary = Vocabulary("hour")
    state = vocabulary.fit([7, 7, 12, True])
    assert state == {"tokens": ["7", "12", "True"]}
    assert vocabulary.encode(np.int64(7), state) == vocabulary.encode("7", state) == 1
    assert vocabulary.encode(np.bool_(True), state) == 3
    assert vocabulary.encode(7.0, state) == 0
    assert vocabulary.fit([np.str_("x"), "x"]) == {"tokens": ["x"]}


def test_vocabulary_fit_on_pandas_column_skips_na() -> None:
    vocabulary = Vocabulary("currency")
    column = pd.Series(["EUR", None, "USD", "EUR"], dtype="string")
    assert vocabulary.fit(column) == vocabulary.fit(["EUR", "USD", "EUR"])
    assert [vocabulary.encode(v, {"tokens": ["EUR"]}) for v in column] == [1, 0, 0, 1]


def test_vocabulary_encode_follows_the_state_it_is_given() -> None:
    """Two states of the same size, used in turn: no stale lookup table."""
    vocabulary = Vocabulary("currency")
    first, second = {"tokens": ["a", "b"]}, {"tokens": ["b", "a"]}
    assert [vocabulary.encode("a", s) for s in (first, second, first)] == [1, 2, 1]
    assert vocabulary.encode("b", json_round_trip(second)) == 1


@pytest.mark.parametrize("values", [[], [None, float("nan")]], ids=["empty", "all-missing"])
def test_vocabulary_fit_without_present_values_fails(values: list[Any]) -> None:
    with pytest.raises(FeatureError, match=r"vocabulary encoder of 'currency'.*present value"):
        Vocabulary("currency").fit(values)


@pytest.mark.parametrize(
    "state", [{}, {"tokens": "abc"}, {"edges": []}, None], ids=["empty", "text", "other", "none"]
)
def test_vocabulary_encode_bad_state_fails(state: Any) -> None:
    with pytest.raises(FeatureError, match=r"vocabulary encoder of 'currency'.*'tokens'"):
        Vocabulary("currency").encode("EUR", state)


@pytest.mark.parametrize(
    ("settings_", "setting"),
    [
        ({"max_size": 0}, "max_size"),
        ({"max_size": True}, "max_size"),
        ({"max_size": 2.5}, "max_size"),
        ({"min_count": 0}, "min_count"),
        ({"min_count": "2"}, "min_count"),
    ],
    ids=["max-size-0", "max-size-bool", "max-size-float", "min-count-0", "min-count-text"],
)
def test_vocabulary_bad_settings_fail_naming_encoder(
    settings_: dict[str, Any], setting: str
) -> None:
    with pytest.raises(ConfigError, match=rf"vocabulary encoder of 'currency': {setting} must be"):
        Vocabulary("currency", **settings_)


# --- QuantileBins -----------------------------------------------------------------------------


def test_quantile_bins_fit_gives_interior_quantiles() -> None:
    values = list(range(1, 101))
    edges = QuantileBins("amount", bins=4).fit(values)["edges"]
    assert edges == pytest.approx(np.quantile(values, [0.25, 0.5, 0.75]).tolist())
    assert len(edges) == 3


def test_quantile_bins_encode_counts_edges_at_or_below() -> None:
    binner = QuantileBins("amount", bins=4)
    state = {"edges": [2.0, 3.0, 4.0]}
    encoded = [binner.encode(v, state) for v in (-5, 1.99, 2.0, 2.5, 3.0, 4.0, 100.0)]
    assert encoded == [0, 0, 1, 1, 2, 3, 3]


@pytest.mark.parametrize("missing", MISSING, ids=MISSING_IDS)
def test_quantile_bins_missing_gives_minus_one(missing: Any) -> None:
    binner = QuantileBins("amount")
    assert binner.encode(missing, binner.fit([1.0, 2.0, missing])) == -1


def test_quantile_bins_constant_column_gets_one_edge() -> None:
    binner = QuantileBins("amount", bins=10)
    state = binner.fit([4.0] * 20)
    assert state == {"edges": [4.0]}
    assert [binner.encode(v, state) for v in (3.0, 4.0, 5.0)] == [0, 1, 1]


def test_quantile_bins_few_distinct_values_deduplicate_edges() -> None:
    state = QuantileBins("amount", bins=5).fit([0, 0, 0, 0, 0, 0, 0, 1, 1, 1])
    assert state["edges"] == sorted(set(state["edges"]))
    assert state["edges"][0] == 0.0


def test_quantile_bins_fit_single_value_gives_that_edge() -> None:
    assert QuantileBins("amount", bins=3).fit([None, 2.5]) == {"edges": [2.5]}


@pytest.mark.parametrize("values", [[], [None, float("nan")]], ids=["empty", "all-missing"])
def test_quantile_bins_fit_without_present_values_fails(values: list[Any]) -> None:
    with pytest.raises(FeatureError, match=r"quantile_bins encoder of 'amount'.*present value"):
        QuantileBins("amount").fit(values)


def test_quantile_bins_fit_non_number_fails_naming_row() -> None:
    with pytest.raises(FeatureError, match=r"'amount' \(value 1\): expected a number, got 'x'"):
        QuantileBins("amount").fit([1.0, "x"])


@pytest.mark.parametrize("state", [{}, {"edges": 3}, None], ids=["empty", "number", "none"])
def test_quantile_bins_encode_bad_state_fails(state: Any) -> None:
    with pytest.raises(FeatureError, match=r"quantile_bins encoder of 'amount'.*'edges'"):
        QuantileBins("amount").encode(1.0, state)


@pytest.mark.parametrize("bins", [1, 0, -3, True, 2.0], ids=["1", "0", "negative", "bool", "float"])
def test_quantile_bins_bad_bins_fail_naming_encoder(bins: Any) -> None:
    with pytest.raises(ConfigError, match=r"quantile_bins encoder of 'amount': bins must be"):
        QuantileBins("amount", bins=bins)


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(_finite | st.none(), min_size=1, max_size=60).filter(
        lambda vs: any(v is not None for v in vs)
    ),
    bins=st.integers(min_value=2, max_value=12),
    probes=st.lists(_finite, max_size=10),
)
def test_quantile_bins_match_numpy(
    values: list[float | None], bins: int, probes: list[float]
) -> None:
    """Edges are numpy's quantiles, deduplicated; encode is searchsorted(side="right")."""
    binner = QuantileBins("amount", bins=bins)
    edges = binner.fit(values)["edges"]
    present = np.array([v for v in values if v is not None], dtype=float)
    expected = np.unique(np.quantile(present, [i / bins for i in range(1, bins)]))
    assert all(a < b for a, b in itertools.pairwise(edges))
    assert edges == pytest.approx(expected.tolist(), rel=1e-12, abs=1e-9)
    for probe in [*probes, *present.tolist(), *edges]:
        assert binner.encode(probe, {"edges": edges}) == int(
            np.searchsorted(np.array(edges), probe, side="right")
        )


# --- every encoder ----------------------------------------------------------------------------


def test_encoder_kinds_name_their_classes() -> None:
    assert {kind: cls.kind for kind, cls in ENCODER_KINDS.items()} == {
        kind: kind for kind in ENCODER_KINDS
    }


@pytest.mark.parametrize("encoder", ENCODERS, ids=ENCODER_IDS)
def test_encoder_spec_round_trips_through_json(encoder: Encoder) -> None:
    spec = encoder.to_spec()
    assert spec["kind"] == encoder.kind
    assert spec["column"] == encoder.column
    rebuilt = encoder_from_spec(json.loads(json.dumps(spec)))
    assert rebuilt == encoder
    assert rebuilt.to_spec() == spec
    assert isinstance(rebuilt, Encoder)


@pytest.mark.parametrize("encoder", ENCODERS, ids=ENCODER_IDS)
def test_encoder_state_is_json_and_encodes_alike_after_loading(encoder: Encoder) -> None:
    values: list[Any] = [3.0, 1.0, None, 3.0, 8.5, float("nan"), 2.0, 3.0, 1.0]
    state = encoder.fit(values)
    loaded = json_round_trip(state)
    assert loaded == state
    probes = [*values, 0.0, 100.0]
    assert [encoder.encode(v, loaded) for v in probes] == [encoder.encode(v, state) for v in probes]


@pytest.mark.parametrize("encoder", ENCODERS, ids=ENCODER_IDS)
def test_encoder_output_matches_output_dtype(encoder: Encoder) -> None:
    state = encoder.fit([1.0, 2.0, 2.0, 5.0])
    python_type = {"float64": float, "int64": int}[encoder.output_dtype()]
    for value in (1.0, 2.0, 7.0, None):
        encoded = encoder.encode(value, state)
        assert type(encoded) is python_type


@pytest.mark.parametrize("encoder", ENCODERS, ids=ENCODER_IDS)
def test_encoder_encode_leaves_state_unchanged(encoder: Encoder) -> None:
    state = encoder.fit([1.0, 2.0, 2.0, 5.0])
    before = copy.deepcopy(state)
    for value in (1.0, None, 9.0):
        encoder.encode(value, state)
    assert state == before


@pytest.mark.parametrize("cls", [StandardScaler, Vocabulary, QuantileBins], ids=lambda c: c.kind)
@pytest.mark.parametrize(
    "column", ["", "bad name", 3, "9lives"], ids=["empty", "space", "int", "digit"]
)
def test_encoder_bad_column_fails(cls: type[Any], column: Any) -> None:
    with pytest.raises(ConfigError, match=rf"{cls.kind} encoder column name"):
        cls(column)


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"kind": "one_hot", "column": "x"}, r"encoder kind must be one of standard_scaler, "),
        ({"column": "x"}, r"encoder kind must be one of .* got None"),
        ("standard_scaler", r"encoder spec: expected a mapping"),
        ({"kind": "standard_scaler"}, r"standard_scaler encoder spec: .* got no 'column'"),
        (
            {"kind": "quantile_bins", "column": "x", "buckets": 3},
            r"quantile_bins encoder spec: expected settings \['bins', 'column'\], "
            r"got unknown settings \['buckets'\]",
        ),
        ({"kind": "vocabulary", "column": "x", "_index": []}, r"unknown settings \['_index'\]"),
        ({"kind": "quantile_bins", "column": "x", "bins": 1}, r"bins must be a whole number >= 2"),
    ],
    ids=[
        "unknown-kind",
        "no-kind",
        "not-mapping",
        "no-column",
        "unknown-setting",
        "private",
        "bad",
    ],
)
def test_encoder_from_spec_bad_spec_fails(spec: Any, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        encoder_from_spec(spec)


def test_encoder_is_a_frozen_value() -> None:
    scaler = StandardScaler("amount")
    with pytest.raises(AttributeError):
        scaler.column = "other"  # type: ignore[misc]
    assert Vocabulary("a", max_size=3) == Vocabulary("a", max_size=3)
    assert Vocabulary("a", max_size=3) != Vocabulary("a", max_size=4)
    assert hash(QuantileBins("a", 4)) == hash(QuantileBins("a", 4))
    assert not math.isnan(StandardScaler("amount").fit([1.0, 2.0])["std"])
