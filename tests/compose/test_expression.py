"""The condition language of guardrails: what it computes, and what it refuses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from roost.compose._expression import MAX_LENGTH, compile_condition
from roost.errors import ConfigError, ModelError

KINDS = {
    "amount": "number",
    "country": "string",
    "flagged": "bool",
    "when": "any",
    "probabilities": "list",
    "sepal length (cm)": "number",
}


def evaluate(text: str, **columns: object) -> list[bool]:
    n_rows = len(next(iter(columns.values()))) if columns else 2  # type: ignore[arg-type]
    result = compile_condition(text, KINDS).evaluate(columns, n_rows)
    assert result.dtype == bool
    return list(result.tolist())


@pytest.mark.parametrize(
    ("text", "columns", "expected"),
    [
        ("amount > 10000", {"amount": [50.0, 20000.0]}, [False, True]),
        ("amount >= 10 and amount < 20", {"amount": [9, 10, 19, 20]}, [False, True, True, False]),
        ("0 < amount <= 10", {"amount": [0, 5, 10, 11]}, [False, True, True, False]),
        ("amount * 2 - 1 > 5 / 2", {"amount": [1.0, 2.0]}, [False, True]),
        ("-amount > 0", {"amount": [-1, 1]}, [True, False]),
        ("country in ['FR', 'DE']", {"country": ["FR", "US"]}, [True, False]),
        ("country not in ('FR',)", {"country": ["FR", "US"]}, [False, True]),
        ("amount in [-1, 2.5]", {"amount": [-1, 2.5, 3]}, [True, True, False]),
        (
            "country > 'M' or flagged",
            {"country": ["A", "Z"], "flagged": [True, False]},
            [True, True],
        ),
        ("not flagged", {"flagged": [True, False]}, [False, True]),
        ("`sepal length (cm)` > 5", {"sepal length (cm)": [4.0, 6.0]}, [False, True]),
        ("country == 'a `b`'", {"country": ["a `b`", "b"]}, [True, False]),
        ("True", {}, [True, True]),
        ("1 > 2", {}, [False, False]),
    ],
    ids=[
        "greater",
        "and",
        "chain",
        "arithmetic",
        "sign",
        "in",
        "not-in",
        "in-signed-numbers",
        "strings-or",
        "not",
        "backticks",
        "backticks-in-string-stay",
        "constant-true",
        "constant-false",
    ],
)
def test_condition_evaluates_per_row(
    text: str, columns: dict[str, list[object]], expected: list[bool]
) -> None:
    assert evaluate(text, **columns) == expected


@pytest.mark.parametrize(
    "text",
    ["amount > 5", "amount != 5", "amount < 5", "amount in [1]", "amount not in [1]"],
)
def test_condition_missing_value_compares_false(text: str) -> None:
    assert evaluate(text, amount=[None, float("nan")]) == [False, False]


def test_condition_missing_string_and_bool_are_false() -> None:
    assert evaluate("country != 'FR'", country=["US", None]) == [True, False]
    assert evaluate("flagged", flagged=[True, None]) == [True, False]


def test_condition_equals_none_tests_for_missing() -> None:
    assert evaluate("amount == None", amount=[1.0, None]) == [False, True]
    assert evaluate("amount != None", amount=[1.0, None]) == [True, False]


def test_condition_reads_series_and_arrays() -> None:
    condition = compile_condition("amount > 1 and country == 'FR'", KINDS)
    columns = {"amount": np.array([0.5, 2.0, 3.0]), "country": pd.Series(["FR", "FR", "US"])}
    assert condition.evaluate(columns, 3).tolist() == [False, True, False]
    assert condition.names == frozenset({"amount", "country"})


def test_condition_division_by_zero_is_infinite_not_an_error() -> None:
    assert evaluate("amount / 0 > 1", amount=[1.0, -1.0]) == [True, False]


def test_condition_without_kinds_checks_only_syntax() -> None:
    condition = compile_condition("anything > 1", None)
    assert condition.evaluate({"anything": [0, 2]}, 2).tolist() == [False, True]


def test_condition_missing_column_at_evaluation_raises_model_error() -> None:
    condition = compile_condition("amount > 1", KINDS)
    with pytest.raises(ModelError, match="no values for 'amount'"):
        condition.evaluate({}, 1)


def test_condition_values_of_the_wrong_type_raise_model_error() -> None:
    condition = compile_condition("when > 1", KINDS)  # "any": checked only at run time
    with pytest.raises(ModelError, match="when > 1"):
        condition.evaluate({"when": np.array(["x", "y"], dtype=object)}, 2)


HOSTILE = [
    ("__import__('os').system('true')", "function call"),
    ("amount.__class__.__bases__", "attribute access"),
    ("amount.real > 1", "attribute access"),
    ("amount ** 2 > 1", "'\\*\\*' is not allowed"),
    ("amount > 10 ** 100000", "'\\*\\*' is not allowed"),
    ("amount > 99999999999999999999999", "too large"),
    ("country[0] == 'F'", "indexing"),
    ("(lambda: True)()", "function call"),
    ("lambda: True", "lambda"),
    ("[x for x in country]", "comprehension"),
    ("(amount := 5) > 1", "':='"),
    ("f'{amount}' == '1'", "f-string"),
    ("amount if flagged else 0", "if-else"),
    ("amount // 2 > 1", "'//'"),
    ("amount % 2 == 0", "'%'"),
    ("flagged & flagged", "'&'"),
    ("~flagged", "'~'"),
    ("amount is None", "'is'"),
    ("{'a': 1} == amount", "dict"),
    ("amount > b'1'", "bytes"),
    ("amount > 1j", "complex"),
    ("amount > ...", "ellipsis"),
    ("[1, 2]", "only allowed after 'in'"),
]


@pytest.mark.parametrize(("text", "problem"), HOSTILE, ids=[text for text, _ in HOSTILE])
def test_condition_hostile_input_is_refused(text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as caught:
        compile_condition(text, KINDS, rule="r1")
    assert "rule 'r1'" in str(caught.value)
    assert "at column" in str(caught.value)


MISTAKES = [
    ("amont > 1", "unknown name 'amont'"),
    ("country > 5", "compares a string with a number"),
    ("country == 1", "compares a string with a number"),
    ("amount in [1, 'a']", "compares a number with a string"),
    ("amount + 'x' > 1", "arithmetic needs a number, got a string"),
    ("not amount", "'not' needs True/False, got a number"),
    ("flagged and 'a'", "needs True/False, got a string"),
    ("amount > None", "None can only be compared with == or !="),
    ("amount in [None]", "None in a list never matches"),
    ("amount in country", "'in' needs a list"),
    ("amount in [country]", "holds only values"),
    ("probabilities > 0.5", "several values per row"),
    ("amount", "expected True/False per row, got a number"),
    ("flagged < True", "ordering needs a number or a string"),
]


@pytest.mark.parametrize(("text", "problem"), MISTAKES, ids=[text for text, _ in MISTAKES])
def test_condition_mistake_is_refused_at_compile_time(text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        compile_condition(text, KINDS, rule="r1")


def test_condition_error_quotes_the_offending_part_and_column() -> None:
    with pytest.raises(ConfigError) as caught:
        compile_condition("amount > 1 and amount.real < 2", KINDS, rule="limits")
    message = str(caught.value)
    assert message.startswith("rule 'limits': condition 'amount > 1 and amount.real < 2'")
    assert "at column 16 ('amount.real')" in message


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("amount >", "not a valid expression"),
        ("amount > 1 )", "not a valid expression at column 12"),
        ("", "expected a non-empty string"),
        ("x" * (MAX_LENGTH + 1), f"at most {MAX_LENGTH} characters"),
        ("-" * 200 + "amount > 1", "nested deeper"),
        ("(" * 300 + "1" + ")" * 300 + " > 0", "not a valid expression"),
        ("'\x00' == country", "null bytes"),
    ],
    ids=["incomplete", "unmatched", "empty", "too-long", "too-deep", "parentheses", "null-byte"],
)
def test_condition_unparsable_text_is_refused(text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        compile_condition(text, KINDS)


def test_condition_not_a_string_is_refused() -> None:
    with pytest.raises(ConfigError, match="expected a non-empty string"):
        compile_condition(42, KINDS)  # type: ignore[arg-type]
