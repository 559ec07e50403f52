"""Entities and event tables: names checked, keys made canonical, column clashes refused."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest

from roost.errors import ConfigError, FeatureError
from roost.features.entities import Entity, Events, check_name, columns_of

CARD = Entity("card", keys={"card_id": "int64"})
SHOP_CARD = Entity("shop_card", keys={"shop": "string", "card_id": "int64"})


# ------------------------------------------------------------------ names


@pytest.mark.parametrize("name", ["card", "_private", "Card2", "a", "x" * 63])
def test_check_name_plain_identifier_is_returned(name: str) -> None:
    assert check_name("entity", name) == name


@pytest.mark.parametrize("name", ["", "1card", "card-id", "card id", "cärd", "x" * 64, None, 42])
def test_check_name_not_an_identifier_raises_config_error_naming_kind_and_value(
    name: Any,
) -> None:
    with pytest.raises(ConfigError) as caught:
        check_name("entity", name)
    assert str(caught.value).startswith("entity name:")
    assert repr(name) in str(caught.value)


def test_columns_of_keeps_the_order_given() -> None:
    pairs = columns_of("t", {"b": "int64", "a": "string"}, ("int64", "string"))
    assert pairs == (("b", "int64"), ("a", "string"))


@pytest.mark.parametrize("columns", [{}, [("a", "int64")], None])
def test_columns_of_not_a_non_empty_mapping_raises_config_error(columns: Any) -> None:
    with pytest.raises(ConfigError, match="expected a mapping of column name to dtype"):
        columns_of("thing", columns, ("int64",))


# ------------------------------------------------------------------ Entity


def test_entity_bad_name_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="entity name"):
        Entity("my-card", keys={"card_id": "int64"})


def test_entity_no_keys_raises_config_error_naming_the_entity() -> None:
    with pytest.raises(ConfigError, match="entity 'card' keys"):
        Entity("card", keys={})


def test_entity_float_key_dtype_raises_config_error_naming_key_and_dtype() -> None:
    with pytest.raises(ConfigError) as caught:
        Entity("card", keys={"card_id": "float64"})
    message = str(caught.value)
    assert "'card_id'" in message
    assert "'float64'" in message
    assert "int64, string" in message


def test_entity_bad_key_name_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="column name"):
        Entity("card", keys={"card id": "int64"})


def test_entity_key_names_and_spec_follow_declared_order() -> None:
    assert SHOP_CARD.key_names == ["shop", "card_id"]
    assert SHOP_CARD.to_spec() == {
        "name": "shop_card",
        "keys": [["shop", "string"], ["card_id", "int64"]],
    }


def test_entity_spec_leaves_the_description_out() -> None:
    described = Entity("card", keys={"card_id": "int64"}, description="a payment card")
    assert described.description == "a payment card"
    assert described.to_spec() == CARD.to_spec()


def test_entity_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        CARD.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    "value",
    [42, 42.0, "42", " 42 ", np.int64(42), np.float64(42.0), np.int32(42)],
    ids=["int", "float", "str", "padded-str", "np-int64", "np-float64", "np-int32"],
)
def test_entity_key_of_int_key_any_arrival_type_gives_canonical_key(value: Any) -> None:
    assert CARD.key_of({"card_id": value}) == "[42]"


def test_entity_key_of_ignores_other_columns() -> None:
    assert CARD.key_of({"amount": 3.5, "card_id": 7, "note": None}) == "[7]"


def test_entity_key_of_negative_and_zero_int_keys() -> None:
    assert CARD.key_of({"card_id": -5}) == "[-5]"
    assert CARD.key_of({"card_id": "0"}) == "[0]"


@pytest.mark.parametrize(
    "value",
    [42.5, True, False, "abc", "042", "4.2e1", "42.0", math.inf, [42]],
    ids=["fraction", "true", "false", "text", "leading-zero", "exp", "str-float", "inf", "list"],
)
def test_entity_key_of_not_a_whole_number_raises_feature_error_naming_key_and_value(
    value: Any,
) -> None:
    with pytest.raises(FeatureError) as caught:
        CARD.key_of({"card_id": value})
    message = str(caught.value)
    assert "entity 'card'" in message
    assert "key 'card_id'" in message
    assert "expected a whole number" in message
    assert repr(value) in message


@pytest.mark.parametrize("value", [None, math.nan, np.float64("nan")], ids=["none", "nan", "np"])
def test_entity_key_of_null_key_raises_feature_error_naming_key(value: Any) -> None:
    with pytest.raises(FeatureError, match="entity 'card': key 'card_id' is null"):
        CARD.key_of({"card_id": value})


def test_entity_key_of_missing_key_raises_feature_error_naming_key() -> None:
    with pytest.raises(FeatureError, match="key 'card_id' is missing from the row"):
        CARD.key_of({"amount": 1.0})


def test_entity_key_of_string_key_is_kept_as_text() -> None:
    shop = Entity("shop", keys={"shop_id": "string"})
    assert shop.key_of({"shop_id": "abc"}) == '["abc"]'
    assert shop.key_of({"shop_id": "42"}) == '["42"]'


def test_entity_key_of_string_key_given_a_number_raises_feature_error() -> None:
    shop = Entity("shop", keys={"shop_id": "string"})
    with pytest.raises(FeatureError, match="key 'shop_id' expected a string, got 42"):
        shop.key_of({"shop_id": 42})


def test_entity_key_of_several_keys_in_declared_order() -> None:
    row = {"card_id": "7", "shop": "north", "amount": 1.0}
    assert SHOP_CARD.key_of(row) == '["north", 7]'


def test_entity_key_of_several_keys_names_the_missing_one() -> None:
    with pytest.raises(FeatureError, match="key 'card_id' is missing"):
        SHOP_CARD.key_of({"shop": "north"})


# ------------------------------------------------------------------ Events


def test_events_defaults_and_columns() -> None:
    payments = Events("payments", entity=CARD, columns={"amount": "float64", "note": "string"})
    assert payments.timestamp == "ts"
    assert payments.column_names == ["amount", "note"]
    assert payments.dtype_of("note") == "string"
    assert payments.entity is CARD


def test_events_spec_holds_entity_columns_and_timestamp() -> None:
    payments = Events("payments", entity=CARD, columns={"amount": "float64"}, timestamp="at")
    assert payments.to_spec() == {
        "name": "payments",
        "entity": {"name": "card", "keys": [["card_id", "int64"]]},
        "columns": [["amount", "float64"]],
        "timestamp": "at",
    }


def test_events_dtype_of_unknown_column_raises_config_error_listing_columns() -> None:
    payments = Events("payments", entity=CARD, columns={"amount": "float64", "note": "string"})
    with pytest.raises(ConfigError) as caught:
        payments.dtype_of("amout")
    message = str(caught.value)
    assert "events 'payments' has no column 'amout'" in message
    assert "amount, note" in message


def test_events_column_named_like_a_key_raises_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"events 'payments': columns \['card_id'\] clash"):
        Events("payments", entity=CARD, columns={"amount": "float64", "card_id": "int64"})


def test_events_column_named_like_the_timestamp_raises_config_error() -> None:
    with pytest.raises(ConfigError, match=r"columns \['ts'\] clash"):
        Events("payments", entity=CARD, columns={"ts": "string"})


def test_events_column_named_ts_allowed_when_timestamp_is_elsewhere() -> None:
    payments = Events("payments", entity=CARD, columns={"ts": "string"}, timestamp="at")
    assert payments.column_names == ["ts"]


def test_events_bad_dtype_raises_config_error_naming_column() -> None:
    with pytest.raises(ConfigError) as caught:
        Events("payments", entity=CARD, columns={"amount": "float32"})
    assert "events 'payments' column 'amount'" in str(caught.value)
    assert "'float32'" in str(caught.value)


def test_events_without_columns_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="events 'payments'"):
        Events("payments", entity=CARD, columns={})


def test_events_entity_not_an_entity_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="entity must be an Entity"):
        Events("payments", entity="card", columns={"amount": "float64"})  # type: ignore[arg-type]


def test_events_bad_names_raise_config_error() -> None:
    with pytest.raises(ConfigError, match="events name"):
        Events("pay ments", entity=CARD, columns={"amount": "float64"})
    with pytest.raises(ConfigError, match="events 'payments' timestamp name"):
        Events("payments", entity=CARD, columns={"amount": "float64"}, timestamp="event time")


def test_events_timestamp_named_like_a_key_raises_config_error() -> None:
    with pytest.raises(ConfigError):
        Events("payments", entity=CARD, columns={"amount": "float64"}, timestamp="card_id")


@pytest.mark.parametrize("reserved", ["_key", "_time_us"])
def test_events_column_with_a_reserved_offline_name_raises_config_error(reserved: str) -> None:
    with pytest.raises(ConfigError):
        Events("payments", entity=CARD, columns={reserved: "string"})
