"""Sensitive fields: hashed with a key or dropped before a row is logged."""

from __future__ import annotations

from typing import Any

import pytest

from roost.errors import ConfigError
from roost.telemetry import Redactor

KEY = b"k" * 32


def test_redactor_hashes_and_drops_and_keeps_the_rest() -> None:
    redactor = Redactor({"email": "hash", "name": "drop"}, KEY)
    row = {"email": "ann@example.com", "name": "Ann", "age": 41}
    clean = redactor.row(row)
    assert set(clean) == {"email", "age"}
    assert clean["age"] == 41
    assert clean["email"].startswith("blake2b:")
    assert len(clean["email"]) == 8 + 32
    assert "ann@example.com" not in str(clean)
    assert row["name"] == "Ann"  # the request's own row is untouched


def test_redactor_hashes_equal_values_alike_and_depend_on_the_key() -> None:
    one, other = Redactor({"email": "hash"}, KEY), Redactor({"email": "hash"}, b"x" * 32)
    assert one.hash("a@b.c") == one.hash("a@b.c")
    assert one.hash("a@b.c") != one.hash("a@b.d")
    assert one.hash("a@b.c") != other.hash("a@b.c")  # without the key, guesses do not match


def test_redactor_keeps_missing_values_missing_and_leaves_list_rows() -> None:
    redactor = Redactor({"email": "hash"}, KEY)
    assert redactor.rows([{"email": None}, [1, 2]]) == [{"email": None}, [1, 2]]


@pytest.mark.parametrize(
    ("declared", "fields"),
    [
        (["email", "phone"], {"email": "hash", "phone": "hash"}),
        ({"email": "drop"}, {"email": "drop"}),
    ],
)
def test_redactor_from_card_reads_a_list_or_a_mapping(declared: Any, fields: Any) -> None:
    redactor = Redactor.from_card(declared, KEY)
    assert redactor is not None
    assert redactor.fields == fields


@pytest.mark.parametrize("declared", [None, [], {}])
def test_redactor_from_card_is_none_without_sensitive_fields(declared: Any) -> None:
    assert Redactor.from_card(declared, KEY) is None


@pytest.mark.parametrize("declared", ["email", [1], {"email": "mask"}])
def test_redactor_from_card_refuses_a_malformed_declaration(declared: Any) -> None:
    with pytest.raises(ConfigError, match="sensitive"):
        Redactor.from_card(declared, KEY)


def test_redactor_refuses_a_key_blake2b_cannot_take() -> None:
    with pytest.raises(ConfigError, match="at most 64 bytes, got 65"):
        Redactor({}, b"k" * 65)
