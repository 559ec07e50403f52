"""The training baseline: decile bins for numbers, shares for categories."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from roost.model.baseline import MAX_CATEGORIES, profile_column, profile_frame

# ------------------------------------------------------------- numeric


def test_profile_numeric_has_nine_decile_edges_and_ten_equal_bins() -> None:
    profile = profile_column(np.arange(1.0, 101.0))

    assert profile["kind"] == "numeric"
    assert len(profile["edges"]) == 9
    assert profile["edges"] == sorted(profile["edges"])
    assert profile["proportions"] == pytest.approx([0.1] * 10)


def test_profile_numeric_summary_statistics() -> None:
    profile = profile_column([1, 2, 3, 4])

    assert (profile["count"], profile["missing"]) == (4, 0)
    assert (profile["min"], profile["max"], profile["mean"]) == (1.0, 4.0, 2.5)
    assert profile["std"] == pytest.approx(np.std([1, 2, 3, 4]))


@pytest.mark.parametrize(
    "values",
    [
        np.random.default_rng(0).normal(size=1000),
        np.random.default_rng(1).integers(0, 3, 200),
        np.random.default_rng(2).exponential(size=57),
    ],
    ids=["normal", "few-distinct-ints", "skewed"],
)
def test_profile_numeric_proportions_sum_to_one(values: Any) -> None:
    profile = profile_column(values)

    assert sum(profile["proportions"]) == pytest.approx(1.0)
    assert len(profile["proportions"]) == len(profile["edges"]) + 1


def test_profile_numeric_bins_are_right_closed() -> None:
    """A value equal to an edge falls in the bin that edge closes, as PSI code expects."""
    # 101 values put every decile exactly on a value: edges 1 and 2, no interpolation
    profile = profile_column([1.0] * 31 + [2.0] * 70)

    assert profile["edges"] == [1.0, 2.0]
    assert profile["proportions"] == [31 / 101, 70 / 101, 0.0]


def test_profile_numeric_integer_feature_edges_are_its_values() -> None:
    """Ties give edges on observed values, never 1.0000000000000036 beside 1.0."""
    profile = profile_column(np.random.default_rng(0).integers(0, 5, 500))

    assert set(profile["edges"]) <= {0.0, 1.0, 2.0, 3.0, 4.0}


def test_profile_numeric_constant_column_has_one_edge() -> None:
    profile = profile_column(np.full(10, 7.0))

    assert (profile["edges"], profile["proportions"]) == ([7.0], [1.0, 0.0])


def test_profile_numeric_missing_values_are_counted_not_binned() -> None:
    profile = profile_column([1.0, np.nan, 3.0, np.nan])

    assert (profile["count"], profile["missing"]) == (4, 2)
    assert sum(profile["proportions"]) == pytest.approx(1.0)
    assert profile["mean"] == 2.0


def test_profile_numeric_nullable_ints_are_numeric() -> None:
    profile = profile_column(pd.Series([1, None, 3], dtype="Int64"))

    assert (profile["kind"], profile["missing"]) == ("numeric", 1)


def test_profile_numeric_all_missing_has_counts_only() -> None:
    assert profile_column([np.nan, np.nan]) == {"kind": "numeric", "count": 2, "missing": 2}


# --------------------------------------------------------- categorical


def test_profile_categorical_shares_by_frequency() -> None:
    profile = profile_column(["b", "a", "b", "c", "b", "a"])

    assert profile == {
        "kind": "categorical",
        "count": 6,
        "missing": 0,
        "proportions": {"b": 0.5, "a": pytest.approx(1 / 3), "c": pytest.approx(1 / 6)},
    }
    assert list(profile["proportions"]) == ["b", "a", "c"]


def test_profile_categorical_missing_values_are_counted_not_shared() -> None:
    profile = profile_column(pd.Series(["a", None, "b", np.nan, "a"], dtype=object))

    assert (profile["count"], profile["missing"]) == (5, 2)
    assert profile["proportions"] == {"a": pytest.approx(2 / 3), "b": pytest.approx(1 / 3)}


def test_profile_categorical_rare_values_are_pooled_as_other() -> None:
    # 60 categories: "c00" is the most common, then every other one appears once or twice
    values = ["c00"] * 10 + [f"c{i:02d}" for i in range(1, 60) for _ in range(1 + (i < 30))]

    proportions = profile_column(values)["proportions"]

    assert len(proportions) == MAX_CATEGORIES + 1
    assert next(iter(proportions)) == "c00"
    assert "__other__" in proportions
    assert sum(proportions.values()) == pytest.approx(1.0)


def test_profile_categorical_few_values_have_no_other() -> None:
    assert "__other__" not in profile_column(["a", "b"] * 10)["proportions"]


@pytest.mark.parametrize(
    ("values", "shares"),
    [
        (pd.Series(["x", "y", "x"]), {"x": 2 / 3, "y": 1 / 3}),
        (pd.Series(["x", "y", "x"], dtype="category"), {"x": 2 / 3, "y": 1 / 3}),
        ([True, False, True, True], {"True": 0.75, "False": 0.25}),
    ],
    ids=["pandas-strings", "pandas-category", "bools"],
)
def test_profile_categorical_of_each_kind(values: Any, shares: dict[str, float]) -> None:
    profile = profile_column(values)

    assert profile["kind"] == "categorical"
    assert profile["proportions"] == pytest.approx(shares)


# --------------------------------------------------------------- frames


def test_profile_frame_profiles_every_column_by_its_kind() -> None:
    frame = pd.DataFrame(
        {"size": [1.0, 2.0, 3.0], "count": [1, 2, 2], "colour": ["red", "blue", "red"]}
    )

    kinds = {name: profile["kind"] for name, profile in profile_frame(frame).items()}

    assert kinds == {"size": "numeric", "count": "numeric", "colour": "categorical"}


def test_profile_frame_accepts_a_dict_of_arrays() -> None:
    profiles = profile_frame({"input[0]": np.arange(5.0), "input[1]": np.arange(5.0)})

    assert list(profiles) == ["input[0]", "input[1]"]
