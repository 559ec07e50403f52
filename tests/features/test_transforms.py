"""Row transforms and request fields: declared, validated, called, and their values coerced."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from roost.errors import ConfigError, FeatureError
from roost.features.transforms import Request, Transform, coerce, transform

FX_TO_EUR = {"EUR": 1.0, "USD": 0.92}


@transform(
    version=1, inputs={"amount": "float64", "currency": "string"}, outputs={"eur": "float64"}
)
def amount_eur(amount: float, currency: str) -> float:
    """The amount in euros."""
    return amount * FX_TO_EUR[currency]


@transform(
    version=2,
    inputs={"amount": "float64"},
    outputs={"cents": "int64", "is_big": "bool"},
    name="amount_parts",
    description="cents and size",
)
def parts(amount: float) -> dict[str, Any]:
    """Not the description: the decorator's wins."""
    return {"cents": round(amount * 100), "is_big": amount > 100}


def _double(x: float) -> float:
    return 2 * x


def declare_double(**changes: Any) -> Transform:
    settings: dict[str, Any] = {
        "version": 1,
        "inputs": {"x": "float64"},
        "outputs": {"double": "float64"},
    }
    settings.update(changes)
    return transform(**settings)(_double)


# ------------------------------------------------------------------ coerce


@pytest.mark.parametrize(
    ("value", "dtype", "expected"),
    [
        (3, "float64", 3.0),
        (3.25, "float64", 3.25),
        (np.float32(0.5), "float64", 0.5),
        (np.int64(7), "float64", 7.0),
        (3, "int64", 3),
        (3.0, "int64", 3),
        (np.int64(3), "int64", 3),
        (np.float64(-2.0), "int64", -2),
        (True, "bool", True),
        (False, "bool", False),
        (np.bool_(True), "bool", True),
        ("EUR", "string", "EUR"),
        ("", "string", ""),
    ],
)
def test_coerce_compatible_value_gives_plain_python_value(
    value: Any, dtype: str, expected: Any
) -> None:
    result = coerce(value, dtype, "here")
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize("dtype", ["float64", "int64", "bool", "string"])
@pytest.mark.parametrize("value", [None, math.nan, np.float64("nan")], ids=["none", "nan", "np"])
def test_coerce_none_or_nan_gives_none(value: Any, dtype: str) -> None:
    assert coerce(value, dtype, "here") is None


@pytest.mark.parametrize(
    ("value", "dtype"),
    [
        (3.5, "int64"),
        ("3", "int64"),
        (True, "int64"),
        (math.inf, "int64"),
        ("3.0", "float64"),
        (True, "float64"),
        ([1.0], "float64"),
        (1, "bool"),
        (0, "bool"),
        ("true", "bool"),
        (1.0, "bool"),
        (3, "string"),
        (b"EUR", "string"),
    ],
)
def test_coerce_incompatible_value_raises_feature_error_naming_where_and_value(
    value: Any, dtype: str
) -> None:
    with pytest.raises(FeatureError) as caught:
        coerce(value, dtype, "request field 'x'")
    message = str(caught.value)
    assert message.startswith("request field 'x': ")
    assert f"expected a {dtype} value" in message
    assert repr(value) in message


def test_coerce_float32_nan_gives_none() -> None:
    assert coerce(np.float32("nan"), "float64", "here") is None


# ------------------------------------------------------------------ the decorator


def test_transform_one_output_may_return_the_value() -> None:
    assert amount_eur({"amount": 10, "currency": "USD"}) == {"eur": pytest.approx(9.2)}


def test_transform_several_outputs_via_dict_are_coerced() -> None:
    result = parts({"amount": 250.0})
    assert result == {"cents": 25000, "is_big": True}
    assert type(result["cents"]) is int


def test_transform_ignores_extra_row_values() -> None:
    assert amount_eur({"amount": 1.0, "currency": "EUR", "hour": 3}) == {"eur": 1.0}


def test_transform_inputs_are_coerced_before_the_call() -> None:
    seen: list[Any] = []

    def record(n: int) -> int:
        seen.append(n)
        return n

    declared = transform(version=1, inputs={"n": "int64"}, outputs={"m": "int64"})(record)
    assert declared({"n": np.float64(4.0)}) == {"m": 4}
    assert seen == [4]
    assert type(seen[0]) is int


def test_transform_missing_input_passes_none_through() -> None:
    def keep(x: float | None) -> float | None:
        return None if x is None else x

    declared = transform(version=1, inputs={"x": "float64"}, outputs={"y": "float64"})(keep)
    assert declared({"x": math.nan}) == {"y": None}


def test_transform_identity_from_the_function_and_decorator() -> None:
    assert amount_eur.name == "amount_eur"
    assert amount_eur.ref == "amount_eur@1"
    assert amount_eur.kind == "transform"
    assert amount_eur.description == "The amount in euros."
    assert amount_eur.inputs == (("amount", "float64"), ("currency", "string"))
    assert amount_eur.outputs == (("eur", "float64"),)
    assert parts.ref == "amount_parts@2"
    assert parts.description == "cents and size"
    assert declare_double().description is None


def test_transform_spec_lists_inputs_and_outputs() -> None:
    assert parts.to_spec() == {
        "kind": "transform",
        "name": "amount_parts",
        "version": 2,
        "inputs": [["amount", "float64"]],
        "outputs": [["cents", "int64"], ["is_big", "bool"]],
    }


def test_transform_source_is_the_function_text() -> None:
    assert amount_eur.source.startswith("@transform(")
    assert "def amount_eur(amount: float, currency: str) -> float:" in amount_eur.source
    assert "return amount * FX_TO_EUR[currency]" in amount_eur.source


def test_transform_source_hash_same_definition_is_equal() -> None:
    assert declare_double().source_hash == declare_double().source_hash
    assert declare_double().source_hash.startswith("sha256:")


@pytest.mark.parametrize(
    "changes",
    [
        {"version": 2},
        {"outputs": {"double": "int64"}},
        {"outputs": {"twice": "float64"}},
        {"inputs": {"x": "int64"}},
        {"name": "doubled"},
    ],
)
def test_transform_source_hash_changes_with_the_declaration(changes: dict[str, Any]) -> None:
    assert declare_double(**changes).source_hash != declare_double().source_hash


def test_transform_source_hash_ignores_the_description() -> None:
    assert declare_double(description="twice").source_hash == declare_double().source_hash


def test_transform_missing_input_raises_feature_error_naming_transform_and_input() -> None:
    with pytest.raises(FeatureError, match="transform amount_eur@1: input 'currency' is missing"):
        amount_eur({"amount": 1.0})


def test_transform_bad_input_type_raises_feature_error_naming_the_input() -> None:
    with pytest.raises(FeatureError, match="transform amount_eur@1 input 'amount': expected a"):
        amount_eur({"amount": "ten", "currency": "EUR"})


def test_transform_user_exception_is_wrapped_naming_transform_and_inputs() -> None:
    with pytest.raises(FeatureError) as caught:
        amount_eur({"amount": 5, "currency": "JPY"})
    message = str(caught.value)
    assert message.startswith("transform amount_eur@1 failed on ")
    assert "'amount': 5.0" in message
    assert "'currency': 'JPY'" in message
    assert "KeyError" in message
    assert isinstance(caught.value.__cause__, KeyError)


def test_transform_user_feature_error_is_wrapped_too() -> None:
    def refuse(x: float) -> float:
        raise FeatureError("nope")

    declared = transform(version=1, inputs={"x": "float64"}, outputs={"y": "float64"})(refuse)
    with pytest.raises(FeatureError, match=r"transform refuse@1 failed on \{'x': 1.0\}: .*nope"):
        declared({"x": 1})


@pytest.mark.parametrize(
    "result",
    [{"cents": 1}, {"cents": 1, "is_big": False, "extra": 2}, 12, None, [1, True]],
    ids=["missing", "extra", "scalar", "none", "list"],
)
def test_transform_wrong_outputs_raise_feature_error_naming_transform(result: Any) -> None:
    def give(x: float) -> Any:
        return result

    declared = transform(
        version=3, inputs={"x": "float64"}, outputs={"cents": "int64", "is_big": "bool"}
    )(give)
    with pytest.raises(FeatureError) as caught:
        declared({"x": 1.0})
    message = str(caught.value)
    assert "transform give@3: expected outputs ['cents', 'is_big']" in message
    assert repr(result) in message


def test_transform_single_output_dict_with_other_name_raises_feature_error() -> None:
    def other(x: float) -> dict[str, float]:
        return {"z": x}

    declared = transform(version=1, inputs={"x": "float64"}, outputs={"y": "float64"}, name="f")(
        other
    )
    with pytest.raises(FeatureError, match=r"transform f@1: expected outputs \['y'\]"):
        declared({"x": 1.0})


def test_transform_output_of_wrong_type_raises_feature_error_naming_the_output() -> None:
    def fractional(amount: float) -> dict[str, Any]:
        return {"cents": 1.5, "is_big": False}

    declared = transform(
        version=2,
        inputs={"amount": "float64"},
        outputs={"cents": "int64", "is_big": "bool"},
        name="amount_parts",
    )(fractional)
    with pytest.raises(FeatureError, match="transform amount_parts@2 output 'cents': expected"):
        declared({"amount": 1.0})


@pytest.mark.parametrize("version", [0, -1, True, "1", 1.0, None])
def test_transform_bad_version_raises_config_error(version: Any) -> None:
    with pytest.raises(ConfigError, match=r"version must be a whole number >= 1"):
        declare_double(version=version)


def test_transform_bad_name_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="transform name"):
        declare_double(name="double it")


def test_transform_bad_dtypes_raise_config_error_naming_transform() -> None:
    with pytest.raises(ConfigError, match="transform '_double' inputs column 'x'"):
        declare_double(inputs={"x": "float32"})
    with pytest.raises(ConfigError, match="transform '_double' outputs"):
        declare_double(outputs={})


def test_transform_not_a_function_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="expected a function"):
        Transform(42, "answer", 1, (("x", "int64"),), (("y", "int64"),))  # type: ignore[arg-type]


def test_transform_function_without_source_file_raises_config_error() -> None:
    scope: dict[str, Any] = {}
    exec("def typed(x):\n    return x\n", scope)
    with pytest.raises(ConfigError, match="define it in a module file"):
        transform(version=1, inputs={"x": "int64"}, outputs={"y": "int64"})(scope["typed"])


# ------------------------------------------------------------------ Request


def test_request_passes_its_field_through_coerced() -> None:
    hour = Request("hour", "int64")
    assert hour({"hour": 13.0, "other": 1}) == {"hour": 13}
    assert hour({"hour": None}) == {"hour": None}


def test_request_identity_and_spec() -> None:
    hour = Request("hour", "int64", version=2, description="hour of day")
    assert hour.ref == "hour@2"
    assert hour.kind == "request"
    assert hour.inputs == hour.outputs == (("hour", "int64"),)
    assert hour.source == "Request('hour', 'int64', version=2)"
    assert hour.to_spec() == {"kind": "request", "name": "hour", "version": 2, "dtype": "int64"}


def test_request_source_hash_follows_dtype_and_version_not_description() -> None:
    base = Request("hour", "int64")
    assert Request("hour", "int64", description="x").source_hash == base.source_hash
    assert Request("hour", "float64").source_hash != base.source_hash
    assert Request("hour", "int64", version=2).source_hash != base.source_hash


def test_request_missing_field_raises_feature_error_naming_it() -> None:
    with pytest.raises(FeatureError, match="request field 'hour' is missing"):
        Request("hour", "int64")({"minute": 3})


def test_request_wrong_type_raises_feature_error_naming_it() -> None:
    with pytest.raises(FeatureError, match="request field 'hour': expected a int64 value, got"):
        Request("hour", "int64")({"hour": "13"})


def test_request_bad_definition_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="request field 'hour': dtype must be one of"):
        Request("hour", "datetime")
    with pytest.raises(ConfigError, match="request field name"):
        Request("hour of day", "int64")
    with pytest.raises(ConfigError, match="version must be a whole number"):
        Request("hour", "int64", version=0)
